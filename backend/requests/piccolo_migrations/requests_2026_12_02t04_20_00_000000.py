"""The lists people open most, each read from one index (issue 22).

- ``request (reporter, id)``: "my requests", newest first. With only ``request (reporter)``, PostgreSQL's
  generic plan for the prepared list walked the whole table backwards by id and filtered on the reporter
  (every request of the district read for a resident's 21).
- ``request (current_unit, status)``, ``request (current_person, status)``: a handler's open work. With the
  one-column indexes the inbox read every request its units ever held (523 for a street in the demo year,
  growing every year) and dropped the closed ones.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T04:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "request list indexes"

INDEXES = {
    "request_reporter_id": "request (reporter, id)",
    "request_current_unit_status": "request (current_unit, status)",
    "request_current_person_status": "request (current_person, status)",
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
