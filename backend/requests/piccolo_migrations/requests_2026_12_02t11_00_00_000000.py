"""The open assists by unit and by person (issue 22): the inbox's co-assigned branch read every open
assignment of the district through ``assignment (is_open)`` and kept the assists of the viewer's units
(36,000 rows for one badge at 2 M requests). Partial indexes: only the open assists, a few per unit."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "open assist indexes"

INDEXES = {
    "assignment_open_assist_unit": "assignment (unit) WHERE is_open AND role = 'assist'",
    "assignment_open_assist_person": "assignment (person) WHERE is_open AND role = 'assist'",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="requests", description=DESCRIPTION)

    async def run() -> None:
        for name, target in INDEXES.items():
            await engine_finder().run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    async def back() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
