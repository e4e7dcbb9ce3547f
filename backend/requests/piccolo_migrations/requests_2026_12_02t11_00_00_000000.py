"""Two reads that grew with the district (issue 22, bench dashboard --growth):

- The open assists by unit and by person: the inbox's co-assigned branch read every open assignment of the
  district through ``assignment (is_open)`` and kept the assists of the viewer's units (36,000 rows for one
  badge at about 3 M requests). Partial indexes: only the open assists, a few per unit.
- The public map's newest located requests: ``ORDER BY id DESC`` walked back through every request without a
  place (300 ms at 4 M requests of which the newest had none). A partial index of the located public ones.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T11:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "open assist and located request indexes"

INDEXES = {
    "assignment_open_assist_unit": "assignment (unit) WHERE is_open AND role = 'assist'",
    "assignment_open_assist_person": "assignment (person) WHERE is_open AND role = 'assist'",
    "request_public_located": "request (id) WHERE is_public AND lat IS NOT NULL",
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
