"""The rollup's indexes, which Piccolo's tables cannot express (covering INCLUDE and partial indexes):

- ``stats_fact_by_day``: the dashboard's cohort (a range of local days) read in the order of the
  trend-and-ranking grouping from the index alone (index-only scans: the key stays small, the rest rides along);
- ``stats_day_key`` / ``stats_hist_key``: the cube's unique keys (the upserts' ON CONFLICT targets),
  carrying the sums so a period is read from the index alone;
- the values of one duration bucket in a period (exact percentiles);
- the open backlog and the cross-led requests are small: partial indexes.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-01T14:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "rollup covering and partial indexes"

FACT_COLUMNS = ("submitted_at, community, grid, kind, category, level, withdrawn, completed, above_community, rated, "
                "rated_good, not_rated, yellow, red, reopens, resolutions, is_open, accept_secs, resolve_secs, request")
DAY_KEY = "submitted_day, street, community, kind, category, level"
DAY_SUMS = ("submitted, withdrawn, accepted, completed, community_solved, ratings, ratings_good, not_rated, "
            "yellow, red, reopened, resolved_once")
INDEXES = {
    "stats_fact_by_day": f"stats_fact (submitted_day, street) INCLUDE ({FACT_COLUMNS})",
    "stats_day_key": f"UNIQUE stats_day ({DAY_KEY}) INCLUDE ({DAY_SUMS})",
    "stats_hist_key": "UNIQUE stats_hist (submitted_day, street, metric, bucket) INCLUDE (n)",
    "stats_fact_accept_bucket": ("stats_fact (accept_bucket, submitted_day) INCLUDE (street, accept_secs, request) "
                                 "WHERE accept_bucket IS NOT NULL"),
    "stats_fact_resolve_bucket": ("stats_fact (resolve_bucket, submitted_day) INCLUDE (street, resolve_secs, request) "
                                  "WHERE resolve_bucket IS NOT NULL"),
    "stats_fact_open": "stats_fact (submitted_day) WHERE is_open = 1",
    "stats_fact_cross": "stats_fact (submitted_day) WHERE cross_lead = 1",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stats", description=DESCRIPTION)

    async def run() -> None:
        for name, target in INDEXES.items():
            unique, target = target.startswith("UNIQUE "), target.removeprefix("UNIQUE ")
            await engine_finder().run_ddl(f"CREATE {'UNIQUE ' if unique else ''}INDEX {name} ON {target}")

    async def back() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
