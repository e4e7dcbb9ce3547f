"""Composite indexes for the board's first page (filter by status/community, sort by board time or wait)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-11-24T18:34:50:000000"
VERSION = "1.38.0"
DESCRIPTION = "board indexes"

STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS wish_status_board_idx ON wish (status, board_at, id)",
    "CREATE INDEX IF NOT EXISTS wish_status_published_idx ON wish (status, published_at, id)",
    "CREATE INDEX IF NOT EXISTS wish_community_status_board_idx ON wish (community, status, board_at)",
    "CREATE INDEX IF NOT EXISTS claim_member_status_idx ON claim (member, status)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wishes", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for sql in STATEMENTS:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
