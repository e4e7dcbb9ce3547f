"""A resident's requests newest first, read from one index: "my requests" (issue 22).

With only ``request (reporter)``, PostgreSQL's generic plan for the prepared list walked the whole table
backwards by id and filtered on the reporter (every request of the district read for a resident's 21)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T04:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "request (reporter, id)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="requests", description=DESCRIPTION)

    async def run() -> None:
        await engine_finder().run_ddl("CREATE INDEX IF NOT EXISTS request_reporter_id ON request (reporter, id)")

    async def back() -> None:
        await engine_finder().run_ddl("DROP INDEX IF EXISTS request_reporter_id")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
