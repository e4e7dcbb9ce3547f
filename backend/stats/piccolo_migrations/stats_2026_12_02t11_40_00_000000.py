"""A duration bucket's values in value order (issue 22): an exact percentile is the k-th value of one bucket
of the period's facts, and at 10 M requests a year's bucket holds hundreds of thousands of them. With these
indexes PostgreSQL walks the bucket in order up to the k-th value instead of reading and sorting all of it;
the (bucket, day) indexes still serve the counts and the short periods."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T11:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "duration buckets in value order"

INDEXES = {
    "stats_fact_accept_ordered": ("stats_fact (accept_bucket, accept_secs) INCLUDE (submitted_day, street, request) "
                                  "WHERE accept_bucket IS NOT NULL"),
    "stats_fact_resolve_ordered": ("stats_fact (resolve_bucket, resolve_secs) INCLUDE (submitted_day, street, request) "
                                   "WHERE resolve_bucket IS NOT NULL"),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stats", description=DESCRIPTION)

    async def run() -> None:
        for name, target in INDEXES.items():
            await engine_finder().run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")

    async def back() -> None:
        for name in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
