"""What Piccolo's tables cannot express for supporter ratings (issue 17): one rating per supporter and
resolution (a composite unique index, the ON CONFLICT target of ``rate_as_supporter``)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T17:56:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one supporter rating per account and resolution"

FORWARDS = [
    "CREATE UNIQUE INDEX IF NOT EXISTS supporter_rating_once ON supporter_rating (resolution_event, account)",
]
BACKWARDS = ["DROP INDEX IF EXISTS supporter_rating_once"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ratings", description=DESCRIPTION)

    async def run() -> None:
        for sql in FORWARDS:
            await engine_finder().run_ddl(sql)

    async def back() -> None:
        for sql in BACKWARDS:
            await engine_finder().run_ddl(sql)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
