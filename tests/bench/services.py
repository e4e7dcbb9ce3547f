"""Throwaway services for one benchmark run: the embedded PostgreSQL and a Redis in a temp folder.

    with bench_services("qg-bench-x-") as svc:
        ...  # svc.env: the environment a child process (or this one, before importing backend) needs

The database is the one ``scripts/run`` uses (``backend.embedded.EmbeddedPostgres`` from the pinned
wheel, database ``qungong`` in ``data/``, on a unix socket), so the settings find it without
``DATABASE_URL``. Everything started here is stopped on leaving the block, also on error or Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# The tests' settings (tests/conftest.py): a benchmark's data is worthless after the run, so the
# server skips the flushes to disk. BENCH_PG_OPTIONS="" measures the durable defaults instead.
PG_OPTIONS = os.environ.get(
    "BENCH_PG_OPTIONS", "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")


@dataclass
class BenchServices:
    base: Path
    env: dict[str, str] = field(default_factory=dict)
    pg: object | None = None  # backend.embedded.EmbeddedPostgres (imported lazily: no backend import here)

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def export(self) -> None:
        """Put the environment into this process (before the first backend import reads the settings)."""
        os.environ.pop("DATABASE_URL", None)
        os.environ.update(self.env)


@contextmanager
def bench_services(prefix: str, *, extra_pythonpath: str = "") -> Iterator[BenchServices]:
    from backend.embedded import EmbeddedPostgres
    from tests.support.services import RedisServer

    svc = BenchServices(Path(tempfile.mkdtemp(prefix=prefix)))
    redis = None
    pg = EmbeddedPostgres(svc.data_dir, options=PG_OPTIONS)
    try:
        redis = RedisServer(svc.base)
        pg.start()
        svc.pg = pg
        svc.env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        svc.env.update({
            "QG_DATA_DIR": str(svc.data_dir), "QG_DEMO": "1", "PICCOLO_CONF": "backend.piccolo_conf",
            "SECRET_KEY": "bench-secret", "REDIS_URL": redis.url,
            "PYTHONPATH": ":".join(p for p in (str(ROOT), extra_pythonpath) if p),
        })
        yield svc
    finally:
        pg.stop("fast")
        if redis is not None:
            redis.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"  data and logs kept in {svc.base}")
        else:
            shutil.rmtree(svc.base, ignore_errors=True)
