"""What Piccolo's tables cannot express for the requests app: the event log's append-only triggers, and a
two-column index (Piccolo's ``index=True`` indexes one column)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T14:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "event append-only triggers; assignment (unit, opened_at)"

FORWARDS = [
    # Events are append-only: the database itself refuses UPDATE, DELETE and TRUNCATE on the event table.
    """CREATE OR REPLACE FUNCTION event_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'events are append-only'; END; $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER event_no_change BEFORE UPDATE OR DELETE ON event
       FOR EACH ROW EXECUTE FUNCTION event_append_only()""",
    """CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event
       FOR EACH STATEMENT EXECUTE FUNCTION event_append_only()""",
    # A unit's lead assignments by opening time: the dashboard's "led by a unit of this subtree" filter.
    "CREATE INDEX assignment_unit_opened ON assignment (unit, opened_at)",
]
BACKWARDS = [
    "DROP INDEX IF EXISTS assignment_unit_opened",
    "DROP TRIGGER IF EXISTS event_no_truncate ON event",
    "DROP TRIGGER IF EXISTS event_no_change ON event",
    "DROP FUNCTION IF EXISTS event_append_only()",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="requests", description=DESCRIPTION)

    async def run() -> None:
        for sql in FORWARDS:
            await engine_finder().run_ddl(sql)

    async def back() -> None:
        for sql in BACKWARDS:
            await engine_finder().run_ddl(sql)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
