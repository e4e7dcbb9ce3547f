"""Composite indexes for the board's first page (filter by status/community, sort by board time or wait):
Piccolo's ``index=True`` indexes one column only."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T14:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "board indexes"

INDEXES = {
    "wish_status_board_idx": "wish (status, board_at, id)",
    "wish_status_published_idx": "wish (status, published_at, id)",
    "wish_community_status_board_idx": "wish (community, status, board_at)",
    "claim_member_status_idx": "claim (member, status)",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="wishes", description=DESCRIPTION)

    async def run() -> None:
        for name, target in INDEXES.items():
            await engine_finder().run_ddl(f"CREATE INDEX {name} ON {target}")

    async def back() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
