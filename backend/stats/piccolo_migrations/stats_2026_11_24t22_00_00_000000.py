"""The dashboard's covering index, led by the local day and the street: the cohort (a range of days)
is read in the order of the trend-and-ranking grouping, so SQLite groups without sorting."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-24T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "stats_fact covering index by (submitted_day, street)"

# Every other column the dashboard's queries read (backend/stats/rollup.py).
COLUMNS = ("submitted_at, community, grid, kind, category, level, withdrawn, completed, above_community, rated, "
           "rated_good, not_rated, yellow, red, reopens, resolutions, is_open, accept_secs, resolve_secs, request")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stats", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if isinstance(engine, SQLiteEngine):
            sql = f"CREATE INDEX IF NOT EXISTS stats_fact_by_day ON stats_fact (submitted_day, street, {COLUMNS})"
        else:  # index-only scans: the key stays small, the rest rides along
            sql = f"CREATE INDEX IF NOT EXISTS stats_fact_by_day ON stats_fact (submitted_day, street) INCLUDE ({COLUMNS})"
        await engine.run_ddl(sql)
        await engine.run_ddl("DROP INDEX IF EXISTS stats_fact_dashboard")

    async def back() -> None:
        await engine_finder().run_ddl("DROP INDEX IF EXISTS stats_fact_by_day")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
