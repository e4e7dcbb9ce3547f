"""A generated history made N times larger by copying it in SQL (bench_dashboard's ``--copies``).

Generating a request's history and deriving its rollup row cost about a millisecond each here, so 10 M
requests would take about three hours. A copy of a generated request is another request with the same
events (new ids, new tracking code); the rollup row the worker derives from a request depends only on
that request's row and its events, so the copy's rollup row is the original's with the copy's ids. This
copies requests, assignments, events and rollup rows, then has the rollup sum every day and month again
from the rows (its own healing path) and moves its watermark past the copies; ``verify`` re-derives a
sample of copies with the worker's code and compares.
"""

from __future__ import annotations

import random
import time
from typing import Any

import asyncpg


async def _columns(db: asyncpg.Connection, table: str) -> list[str]:
    rows = await db.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 "
        "AND is_generated = 'NEVER' AND column_name <> 'id' ORDER BY ordinal_position", table)
    return [r["column_name"] for r in rows]


async def _copy(db: asyncpg.Connection, table: str, replace: dict[str, str], where: str, order: str = "id",
                with_id: str = "") -> int:
    """INSERT INTO table SELECT … FROM table WHERE ``where``, with ``replace``d expressions for some columns."""
    cols = await _columns(db, table)
    target = ([with_id.split(" AS ")[1]] if with_id else []) + cols
    exprs = ([with_id.split(" AS ")[0]] if with_id else []) + [replace.get(c, c) for c in cols]
    status = await db.execute(
        f"INSERT INTO {table} ({', '.join(target)}) SELECT {', '.join(exprs)} FROM {table} WHERE {where} "
        f"ORDER BY {order}")
    return int(status.split()[-1])


async def multiply(dsn: str, first: int, n: int, copies: int) -> dict[str, Any]:
    """Add ``copies`` - 1 copies of the requests with ids first..first+n-1 (and everything of theirs)."""
    from backend.stats import rollup

    db = await asyncpg.connect(dsn)
    figures: dict[str, Any] = {"copied_requests": 0, "copied_events": 0}
    last = 0
    t0 = time.perf_counter()
    try:
        top = await db.fetchval("SELECT MAX(id) FROM request")
        in_range = f"request BETWEEN {first} AND {first + n - 1}"
        for k in range(copies - 1):
            off = top + k * n - first + 1  # the copy of request ``first`` gets id top + k*n + 1
            new_id = f"id + {off}"
            figures["copied_requests"] += await _copy(
                db, "request", {"code": f"'B' || lpad(({new_id})::text, 11, '0')"},
                f"id BETWEEN {first} AND {first + n - 1}", with_id=f"{new_id} AS id")
            await _copy(db, "assignment", {"request": f"request + {off}"}, in_range)
            figures["copied_events"] += await _copy(db, "event", {"request": f"request + {off}"}, in_range)
            # The copies' rollup rows stand for every event up to here, like a catch-up's slice.
            last = await db.fetchval("SELECT MAX(id) FROM event")
            await _copy(db, "stats_fact", {"request": f"request + {off}", "last_event": str(last),
                                           "code": f"'B' || lpad((request + {off})::text, 11, '0')"}, in_range)
            print(f"\r  copy {k + 2}/{copies}: {figures['copied_requests']:,} requests and "
                  f"{figures['copied_events']:,} events copied", end="", flush=True)
        print()
        for table in ("request", "assignment"):
            await db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        figures["copy_seconds"] = time.perf_counter() - t0
    finally:
        await db.close()
    t1 = time.perf_counter()
    days = [r["submitted_day"] for r in await rollup.StatsFact.select(rollup.StatsFact.submitted_day).distinct()]
    await rollup._rebuild_days(sorted(days))  # every day, then every month, summed again from the rollup rows
    await rollup._set_watermark(last)
    figures["rebuild_seconds"] = time.perf_counter() - t1
    figures["first_copy"] = top + 1
    return figures


# every column of a rollup row but its ids and the event it was derived up to
COMPARED = ("kind", "category", "street", "community", "grid", "is_public", "level", "status", "submitted_at",
            "submitted_day", "withdrawn", "completed", "is_open", "above_community", "accept_secs", "resolve_secs",
            "resolutions", "reopens", "rated", "rated_good", "yellow", "red", "not_rated", "cross_lead",
            "accept_bucket", "resolve_bucket")


async def verify(first_copy: int, last_copy: int, sample: int = 300) -> tuple[int, int]:
    """Re-derive ``sample`` random copies with the worker's code: (compared, differing)."""
    from backend.db import fetch_tuples
    from backend.stats import rollup
    from backend.stats.service import facts_for

    ids = sorted(random.Random(1).sample(range(first_copy, last_copy + 1), sample))
    derived = {x.id: tuple(getattr(rollup._row(x, 0), c) for c in COMPARED) for x in await facts_for(ids)}
    stored = {r[0]: tuple(r[1:]) for r in await fetch_tuples(
        f"SELECT request, {', '.join(COMPARED)} FROM stats_fact WHERE request IN ({', '.join(map(str, ids))})")}
    differing = sum(1 for i in ids if i not in derived or derived[i] != stored.get(i))
    return len(ids), differing


async def totals() -> tuple[int, int, int]:
    """(requests, rollup rows, requests the day cube counts): the three must agree after the rebuild. The bare
    insert's rows (bench_submit: "B" and 15 hex digits) have no events, so no rollup row: not counted."""
    from backend.db import fetch_tuples

    (req,), = await fetch_tuples("SELECT count(*) FROM request WHERE NOT (code LIKE 'B%' AND length(code) = 16)")
    (facts,), = await fetch_tuples("SELECT count(*) FROM stats_fact")
    (cube,), = await fetch_tuples("SELECT COALESCE(SUM(submitted), 0) FROM stats_day")
    return req, facts, cube
