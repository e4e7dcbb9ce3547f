"""Wish photos: re-encoded to metadata-free JPEGs (display ≤1600 px, thumb ≤320 px) under media_dir/wishes.

Pillow work is CPU-bound and synchronous: callers run ``store_photo`` in a thread.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from backend.media.processing import PhotoError, process_image

__all__ = ["PhotoError", "StoredPhoto", "delete_photo", "read_photo", "store_photo"]
from backend.settings import get_settings


@dataclass(frozen=True)
class StoredPhoto:
    display_key: str
    thumb_key: str
    width: int
    height: int


def media_root() -> Path:
    return get_settings().media_dir / "wishes"


def encode(data: bytes, filename: str = "") -> tuple[bytes, bytes, int, int]:
    """Check one upload and return (display JPEG, thumb JPEG, width, height).

    The media domain's checks and derived copies (formats incl. HEIC, bombs, truncation, metadata stripped).
    """
    done = process_image(data, filename)
    return done.display, done.thumb, done.width, done.height


def _write(key: str, data: bytes) -> None:
    path = media_root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers never see half a file


def store_photo(data: bytes, filename: str = "") -> StoredPhoto:
    display, thumb, width, height = encode(data, filename)
    token = secrets.token_hex(12)
    key = f"{token[:2]}/{token}"
    _write(key + ".jpg", display)
    _write(key + "_t.jpg", thumb)
    return StoredPhoto(display_key=key + ".jpg", thumb_key=key + "_t.jpg", width=width, height=height)


def read_photo(key: str) -> bytes | None:
    root = media_root().resolve()
    path = (root / key).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path.read_bytes()


def delete_photo(p: StoredPhoto) -> None:
    for key in (p.display_key, p.thumb_key):
        (media_root() / key).unlink(missing_ok=True)
