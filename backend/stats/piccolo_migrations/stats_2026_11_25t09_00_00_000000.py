"""The rollup's day cube: per-day sums and duration histograms the worker keeps next to the facts.

- ``stats_day``: the counts of every fact, summed by (local day, street, community, kind, category,
  level). The dashboard reads a period from here: one row per combination instead of one per request.
- ``stats_hist``: how many time-to-accept / time-to-resolve values fall into each duration bucket,
  by (local day, street). The exact median and 90th percentile are read from the one bucket that
  holds each rank (``stats_fact``'s bucket indexes), not from every value of the period.
- ``stats_fact`` gains the buckets, and ``cross_lead`` (led by a unit outside its own street,
  community and grid), so that "led by a unit of this subtree" only looks at those requests.

The existing facts lack the new columns, so the rollup is rebuilt: its rows are dropped and the
watermark reset; the worker's catch-up derives everything again (the figures stay exact meanwhile,
read live from the events, only slower).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

ID = "2026-11-25T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "stats day cube: stats_day, stats_hist, fact buckets and cross_lead"

DAY_KEY = "submitted_day, street, community, kind, category, level"
DAY_SUMS = ("submitted, withdrawn, accepted, completed, community_solved, ratings, ratings_good, not_rated, "
            "yellow, red, reopened, resolved_once")
HIST_KEY = "submitted_day, street, metric, bucket"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="stats", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        sqlite = isinstance(engine, SQLiteEngine)
        sums = ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in DAY_SUMS.split(", "))
        # SQLite: clustered by the key (WITHOUT ROWID), so a period is one contiguous range.
        # PostgreSQL: the key's index carries the sums, so a period is read from the index alone.
        day_pk = f"PRIMARY KEY ({DAY_KEY})" + ("" if sqlite else f" INCLUDE ({DAY_SUMS})")
        hist_pk = f"PRIMARY KEY ({HIST_KEY})" + ("" if sqlite else " INCLUDE (n)")
        tail = " WITHOUT ROWID" if sqlite else ""
        for sql in (
            "DELETE FROM stats_fact",
            "UPDATE stats_state SET value = 0 WHERE name = 'event_watermark'",
            "ALTER TABLE stats_fact ADD COLUMN accept_bucket INTEGER NULL",
            "ALTER TABLE stats_fact ADD COLUMN resolve_bucket INTEGER NULL",
            "ALTER TABLE stats_fact ADD COLUMN cross_lead INTEGER NOT NULL DEFAULT 0",
            f"CREATE TABLE stats_day (submitted_day VARCHAR(10) NOT NULL, street INTEGER NOT NULL, "
            f"community INTEGER NOT NULL, kind VARCHAR(15) NOT NULL, category INTEGER NOT NULL, "
            f"level VARCHAR(12) NOT NULL, {sums}, {day_pk}){tail}",
            f"CREATE TABLE stats_hist (submitted_day VARCHAR(10) NOT NULL, street INTEGER NOT NULL, "
            f"metric VARCHAR(1) NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL DEFAULT 0, {hist_pk}){tail}",
            # the values of one bucket in a period (exact percentiles)
            *(f"CREATE INDEX stats_fact_{m}_bucket ON stats_fact ({m}_bucket, submitted_day"
              + (f", street, {m}_secs, request)" if sqlite else f") INCLUDE (street, {m}_secs, request)")
              + f" WHERE {m}_bucket IS NOT NULL" for m in ("accept", "resolve")),
            # the open backlog and the cross-led requests are small: partial indexes
            "CREATE INDEX stats_fact_open ON stats_fact (submitted_day) WHERE is_open = 1",
            "CREATE INDEX stats_fact_cross ON stats_fact (submitted_day) WHERE cross_lead = 1",
        ):
            await engine.run_ddl(sql)

    async def back() -> None:
        engine = engine_finder()
        for sql in ("DROP TABLE IF EXISTS stats_day", "DROP TABLE IF EXISTS stats_hist",
                    "DROP INDEX IF EXISTS stats_fact_accept_bucket", "DROP INDEX IF EXISTS stats_fact_resolve_bucket",
                    "DROP INDEX IF EXISTS stats_fact_open", "DROP INDEX IF EXISTS stats_fact_cross",
                    "DELETE FROM stats_fact", "UPDATE stats_state SET value = 0 WHERE name = 'event_watermark'",
                    "ALTER TABLE stats_fact DROP COLUMN accept_bucket",
                    "ALTER TABLE stats_fact DROP COLUMN resolve_bucket",
                    "ALTER TABLE stats_fact DROP COLUMN cross_lead"):
            await engine.run_ddl(sql)

    manager.add_raw(run)
    manager.add_raw_backwards(back)
    return manager
