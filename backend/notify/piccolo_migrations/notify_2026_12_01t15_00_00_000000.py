"""Notices are data rendered at display time: a message key and its parameters (issue 16)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "notification key and params"

POSTGRES = [
    "ALTER TABLE notification ADD COLUMN IF NOT EXISTS key VARCHAR(120) NOT NULL DEFAULT ''",
    "ALTER TABLE notification ADD COLUMN IF NOT EXISTS params JSONB NOT NULL DEFAULT '{}'::jsonb",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notify", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        for sql in POSTGRES:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
