"""The month cube's keys (unique, carrying the sums like the day cube's) and its first filling from the day cube,
for a database whose rollup was built before the month cube existed."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T03:44:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "month cube keys and backfill"

KEY = "submitted_day, street, community, kind, category, level"
SUMS = ("submitted, withdrawn, accepted, completed, community_solved, ratings, ratings_good, not_rated, "
        "yellow, red, reopened, resolved_once")
MONTH = "substr(submitted_day, 1, 7) || '-01'"
FORWARDS = [
    f"CREATE UNIQUE INDEX stats_month_key ON stats_month ({KEY}) INCLUDE ({SUMS})",
    "CREATE UNIQUE INDEX stats_month_hist_key ON stats_month_hist (submitted_day, street, metric, bucket) INCLUDE (n)",
    f"INSERT INTO stats_month ({KEY}, {SUMS}) SELECT {MONTH}, street, community, kind, category, level, "
    + ", ".join(f"SUM({c})" for c in SUMS.split(", ")) + f" FROM stats_day GROUP BY {MONTH}, street, community, "
    "kind, category, level",
    f"INSERT INTO stats_month_hist (submitted_day, street, metric, bucket, n) SELECT {MONTH}, street, metric, bucket, "
    f"SUM(n) FROM stats_hist GROUP BY {MONTH}, street, metric, bucket",
]
BACKWARDS = ["DROP INDEX IF EXISTS stats_month_hist_key", "DROP INDEX IF EXISTS stats_month_key"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stats", description=DESCRIPTION)

    async def run() -> None:
        for sql in FORWARDS:
            await engine_finder().run_ddl(sql)

    async def back() -> None:
        for sql in BACKWARDS:
            await engine_finder().run_ddl(sql)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
