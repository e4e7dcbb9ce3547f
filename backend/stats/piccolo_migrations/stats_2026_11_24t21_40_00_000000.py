"""Indexes for the dashboard: a covering index on the rollup, so the cohort's rows are read from one
contiguous index range (ordered by submission time) instead of one table lookup per row; and the
lead assignments of a unit by opening time, for the "led by a unit of this subtree" filter."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-24T21:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "dashboard indexes: stats_fact covering index, assignment (unit, opened_at)"

# Every column the dashboard's queries read (backend/stats/rollup.py); submitted_at leads.
COLUMNS = ("submitted_day, street, community, grid, kind, category, level, withdrawn, completed, above_community, "
           "rated, rated_good, not_rated, yellow, red, reopens, resolutions, is_open, accept_secs, resolve_secs, "
           "request")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stats", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if isinstance(engine, SQLiteEngine):
            sql = f"CREATE INDEX IF NOT EXISTS stats_fact_dashboard ON stats_fact (submitted_at, {COLUMNS})"
        else:  # index-only scans: the key stays small, the rest rides along
            sql = f"CREATE INDEX IF NOT EXISTS stats_fact_dashboard ON stats_fact (submitted_at) INCLUDE ({COLUMNS})"
        await engine.run_ddl(sql)
        await engine.run_ddl("CREATE INDEX IF NOT EXISTS assignment_unit_opened ON assignment (unit, opened_at)")

    async def back() -> None:
        await engine_finder().run_ddl("DROP INDEX IF EXISTS stats_fact_dashboard")
        await engine_finder().run_ddl("DROP INDEX IF EXISTS assignment_unit_opened")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
