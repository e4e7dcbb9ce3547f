"""Data safety: ``cli backup`` then ``cli restore`` gives back the same rows, also into a wiped database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from backend.settings import get_settings
from tests.conftest import fresh_database_url

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


async def _row_counts(url: str) -> dict[str, int]:
    conn = await asyncpg.connect(url)
    try:
        tables = [r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        return {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}
    finally:
        await conn.close()


async def test_backup_wipe_restore_gives_the_same_rows(tmp_path: Path) -> None:
    source = get_settings().database_url
    before = await _row_counts(source)
    assert before["unit"] > 100 and before["account"] > 100 and "event" in before  # the demo district is there

    dump = tmp_path / "backup.dump"
    done = _cli("backup", str(dump))
    assert done.returncode == 0, done.stderr
    assert dump.stat().st_size > 10_000
    assert await _row_counts(source) == before  # nothing changed while backing up

    target = fresh_database_url(f"restore_{os.getpid()}")
    refused = _cli("restore", str(dump), database_url=target)  # no --yes: refused, nothing touched
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert await _row_counts(target) == {}

    for wipe_first in (False, True):
        if wipe_first:  # events are append-only, so not row by row: the whole schema
            conn = await asyncpg.connect(target)
            try:
                await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            finally:
                await conn.close()
            assert await _row_counts(target) == {}
        done = _cli("restore", str(dump), "--yes", database_url=target)
        assert done.returncode == 0, done.stderr
        assert await _row_counts(target) == before

    # The restored event log is still append-only: its triggers came back with it.
    conn = await asyncpg.connect(target)
    try:
        triggers = {r["tgname"] for r in await conn.fetch(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'event'::regclass AND NOT tgisinternal")}
    finally:
        await conn.close()
    assert triggers == {"event_no_change", "event_no_truncate"}
