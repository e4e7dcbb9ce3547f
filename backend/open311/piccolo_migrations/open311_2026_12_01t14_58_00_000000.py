"""A back office's update_id is unique per client: a repeated update changes nothing (idempotency)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T14:58:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "api_update (client, update_id) unique"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="open311", description=DESCRIPTION)

    async def run() -> None:
        await engine_finder().run_ddl("CREATE UNIQUE INDEX api_update_client_update_id ON api_update (client, update_id)")

    async def back() -> None:
        await engine_finder().run_ddl("DROP INDEX IF EXISTS api_update_client_update_id")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
