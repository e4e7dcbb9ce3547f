"""Where photo files live, behind a small interface (a local folder by default).

Methods are synchronous (plain file I/O); async callers run them in a thread.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Protocol

from backend.settings import get_settings


class Storage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...

    def older_than(self, prefix: str, seconds: float) -> list[str]: ...


class LocalStorage:
    """Files under one folder; nothing serves this folder directly (photos go through a permission check)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"bad storage key {key!r}")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # readers never see half a file

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def older_than(self, prefix: str, seconds: float) -> list[str]:
        """Keys under ``prefix`` last written more than ``seconds`` ago (for the orphan sweep)."""
        base = self.root / prefix
        if not base.is_dir():
            return []
        limit = time.time() - seconds
        return [str(p.relative_to(self.root)) for p in base.rglob("*")
                if p.is_file() and not p.name.endswith(".tmp") and p.stat().st_mtime < limit]


_storage: Storage | None = None


def get_storage() -> Storage:
    global _storage
    if _storage is None:
        _storage = LocalStorage(get_settings().media_dir)
    return _storage
