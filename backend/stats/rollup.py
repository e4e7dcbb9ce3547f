"""The fast, exact dashboard: aggregates over the per-request rollup, plus live facts for what changed since.

- ``catch_up()`` (the worker, every minute and shortly after changes) derives a ``StatsFact`` row per
  request from its events (``facts_for``, the same code the live path uses) for every request with an
  event above the watermark, then moves the watermark.
- With the facts, in the same transaction, it keeps the day cube (``stats_day``: the facts' counts
  summed by day, street, community, kind, category and level; ``stats_hist``: their durations by day,
  street and bucket), so that a district's month is a few thousand cube rows, not every request.
- ``dashboard()`` sums the rollup in SQL for the cohort, *excluding* every request that has an event
  above ``watermark - OVERLAP``, and adds those requests computed live from the event log. So the
  figures are exactly those of the event log at the moment of reading, whatever the worker's lag;
  the worker only decides how much is read from the rollup (fast) and how much live (slower).
- OVERLAP re-reads the last ids below the watermark: on PostgreSQL a transaction may commit an event
  id lower than one already seen; it is also re-derived by the next catch-up.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend.db import fetch_tuples, utcnow, write_transaction
from backend.i18n import N_
from backend.organisation.tables import Unit
from backend.stats import service
from backend.stats.facts import Fact
from backend.stats.kpis import BACKLOG_BUCKETS, COUNTS, Kpis, accumulate, add_counts, finish, new_kpis
from backend.stats.service import (
    Dashboard,
    Filters,
    RankRow,
    bucket_keys,
    bucket_of,
    facts_for,
)
from backend.stats.tables import StatsFact, StatsState

WATERMARK = "event_watermark"
OVERLAP = 1000
CHUNK = 2000
VACUUM_AFTER = 10_000  # rollup rows rewritten by one catch-up
LOCK = "qg:stats:catch-up-lock"
LOCK_SECONDS = 300  # renewed after every slice; only a crashed worker's lock ever runs out

# Durations fall into buckets 5 % wide (20 per factor e): a bucket holds a small share of a period's
# values, and the exact percentile is read from the one bucket that holds its rank.
BUCKETS_PER_E = 20
_BOUNDS = [math.exp(i / BUCKETS_PER_E) for i in range(1, 22 * BUCKETS_PER_E)]  # up to ~100 years


def duration_bucket(seconds: float | None) -> int | None:
    """The bucket of a duration; never lower for a longer one (bisect over fixed bounds, no rounding)."""
    return None if seconds is None else bisect.bisect_right(_BOUNDS, seconds)


# A fact's counts as summed into the day cube (stats_day has one column per name); the open backlog
# depends on the moment of reading and is read from the facts' partial index instead.
FACT_SUMS: dict[str, str] = {c.name: c.sql for c in COUNTS}
DAY_KEY = ("submitted_day", "street", "community", "kind", "category", "level")
# a fact's columns that the cube sums (its key first): a re-derived fact that differs in none of
# them leaves the cube as it is
CUBE_INPUTS = ("submitted_day", "street", "community", "kind", "category", "level", "withdrawn", "completed",
               "above_community", "rated", "rated_good", "not_rated", "yellow", "red", "reopens", "resolutions",
               "accept_bucket", "resolve_bucket")
# the key as computed from a fact row (no NULLs in a key: 0 stands for "none")
_FACT_KEY = {"submitted_day": "x.submitted_day", "street": "COALESCE(x.street, 0)",
             "community": "COALESCE(x.community, 0)", "kind": "x.kind", "category": "x.category", "level": "x.level"}


async def watermark() -> int:
    row = await StatsState.select(StatsState.value).where(StatsState.name == WATERMARK).first()
    return int(row["value"]) if row else 0


async def _set_watermark(value: int) -> None:
    async with write_transaction():
        if await StatsState.exists().where(StatsState.name == WATERMARK):
            await StatsState.update({StatsState.value: value}).where(StatsState.name == WATERMARK)
        else:
            await StatsState.insert(StatsState(name=WATERMARK, value=value))


def _row(x: Fact, last_event: int) -> StatsFact:
    return StatsFact(
        request=x.id, code=x.code, kind=x.kind, category=x.category, street=x.street, community=x.community,
        grid=x.grid, is_public=x.is_public, level=x.level, status=x.status, submitted_at=x.submitted_at,
        submitted_day=x.submitted_at.astimezone(service.tz()).date().isoformat(), withdrawn=int(x.withdrawn),
        completed=int(x.completed), is_open=int(x.is_open), above_community=int(x.above_community),
        accept_secs=x.accept_seconds, resolve_secs=x.resolve_seconds, resolutions=x.resolutions, reopens=x.reopens,
        rated=x.rated, rated_good=x.rated_good, yellow=x.yellow, red=x.red, not_rated=x.not_rated,
        last_event=last_event, cross_lead=int(x.cross_lead),
        # only the durations the KPIs count (kpis.accumulate): none for a withdrawn request
        accept_bucket=None if x.withdrawn else duration_bucket(x.accept_seconds),
        resolve_bucket=None if x.withdrawn else duration_bucket(x.resolve_seconds),
    )


async def refresh(ids: list[int], last_event: int) -> int:
    """Re-derive these requests' rollup rows from their events."""
    if not ids:
        return 0
    facts = await facts_for(ids)
    rows = [_row(x, last_event) for x in facts]
    async with write_transaction():
        # The cube changes with the facts, in the same transaction.
        old = {r[0]: r[1:] for r in await fetch_tuples(
            f"SELECT request, {', '.join(CUBE_INPUTS)} FROM stats_fact WHERE request IN ({_ids(ids)})")}
        await StatsFact.delete().where(StatsFact.request.is_in(ids))
        for i in range(0, len(rows), 500):  # PostgreSQL takes at most 32767 bind arguments per statement
            await StatsFact.insert(*rows[i:i + 500])
        # Re-derived facts whose figures changed: their days are summed again from the facts, so the
        # cube heals with them (whatever a fact row held before, e.g. if someone edited it, counts no
        # more). New facts are added; facts re-derived unchanged (most of them) change nothing.
        changed = [r for r in rows if r.request in old and old[r.request] != _cube_inputs(r)]
        days = sorted({old[r.request][0] for r in changed} | {r.submitted_day for r in changed}
                      | {old[i][0] for i in set(old) - {r.request for r in rows}})
        if days:
            await _rebuild_days(days)
        added = [r.request for r in rows if r.request not in old and r.submitted_day not in days]
        if added:
            await _add_to_cube(f"x.request IN ({_ids(added)})")
    return len(facts)


def _cube_inputs(row: StatsFact) -> tuple[Any, ...]:
    return tuple(getattr(row, c) for c in CUBE_INPUTS)


# The cubes: the day cube (by local day) and the month cube (by the month's first day, "2026-03-01"), each with
# its duration histograms; a fact is added to both.
CUBES = (("stats_day", "stats_hist", "x.submitted_day"),
         ("stats_month", "stats_month_hist", "substr(x.submitted_day, 1, 7) || '-01'"))


async def _add_to_cube(where: str, *, months: bool = True) -> None:
    """Add the facts matching ``where`` (alias x) to the cubes (the day cube only, unless ``months``)."""
    cols = ", ".join(FACT_SUMS)
    for cube, hist, day in CUBES if months else CUBES[:1]:
        key_sql = ", ".join(day if c == "submitted_day" else _FACT_KEY[c] for c in DAY_KEY)
        await StatsFact.raw(
            f"INSERT INTO {cube} ({', '.join(DAY_KEY)}, {cols}) SELECT {key_sql}, {', '.join(FACT_SUMS.values())} "
            f"FROM stats_fact x WHERE {where} GROUP BY {key_sql} ON CONFLICT ({', '.join(DAY_KEY)}) DO UPDATE SET "
            + ", ".join(f"{c} = {cube}.{c} + excluded.{c}" for c in FACT_SUMS))
        for metric, col in (("a", "accept_bucket"), ("r", "resolve_bucket")):
            await StatsFact.raw(
                f"INSERT INTO {hist} (submitted_day, street, metric, bucket, n) "
                f"SELECT {day}, COALESCE(x.street, 0), '{metric}', x.{col}, COUNT(*) FROM stats_fact x "
                f"WHERE {where} AND x.{col} IS NOT NULL GROUP BY {day}, COALESCE(x.street, 0), x.{col} "
                f"ON CONFLICT (submitted_day, street, metric, bucket) DO UPDATE SET n = {hist}.n + excluded.n")


async def _rebuild_days(days: list[str]) -> None:
    """Sum these days again from their facts; then their months again from their days (so the month cube heals
    with the day cube, whatever it held before)."""
    in_days = f"submitted_day IN ({', '.join(_quote(d) for d in days)})"
    await StatsFact.raw(f"DELETE FROM stats_day WHERE {in_days}")
    await StatsFact.raw(f"DELETE FROM stats_hist WHERE {in_days}")
    await _add_to_cube(f"x.{in_days}", months=False)
    for month in sorted({d[:7] for d in days}):
        await _rebuild_month(month)


async def _rebuild_month(month: str) -> None:
    """The month cube's rows of ``month`` ("2026-03") as the sums of the day cube's days of that month."""
    first = _quote(month + "-01")
    in_month = f"submitted_day >= {first} AND submitted_day < {_quote(_next_month(month))}"
    await StatsFact.raw(f"DELETE FROM stats_month WHERE submitted_day = {first}")
    await StatsFact.raw(f"DELETE FROM stats_month_hist WHERE submitted_day = {first}")
    key = ", ".join(DAY_KEY[1:])
    await StatsFact.raw(
        f"INSERT INTO stats_month ({', '.join(DAY_KEY)}, {', '.join(FACT_SUMS)}) SELECT {first}, {key}, "
        + ", ".join(f"SUM({c})" for c in FACT_SUMS) + f" FROM stats_day WHERE {in_month} GROUP BY {key}")
    await StatsFact.raw(
        f"INSERT INTO stats_month_hist (submitted_day, street, metric, bucket, n) SELECT {first}, street, metric, "
        f"bucket, SUM(n) FROM stats_hist WHERE {in_month} GROUP BY street, metric, bucket")


def _next_month(month: str) -> str:
    first = date.fromisoformat(month + "-01")
    return (first + timedelta(days=32)).replace(day=1).isoformat()


def _quote(day: str) -> str:
    return "'" + date.fromisoformat(day).isoformat() + "'"  # a validated ISO date: safe to inline


async def changed_since(after: int, upto: int | None = None) -> list[int]:
    q = f"SELECT request FROM event WHERE id > {int(after)}"
    if upto is not None:
        q += f" AND id <= {int(upto)}"
    return sorted({r[0] for r in await fetch_tuples(q)})


async def catch_up(*, batch_events: int = 100_000, budget_seconds: float | None = None) -> int:
    """Derive rollup rows for every request with events above the watermark; returns how many rows.

    Works in slices of event ids and moves the watermark after each slice, so a long backfill can be
    spread over several worker runs (``budget_seconds``) without redoing finished slices.
    """
    import time

    from redis.exceptions import LockError

    from backend.redis import redis_client

    # One catch-up at a time across all workers (the cron and the queued job may meet): the cube is
    # kept by adding and subtracting rows, which two writers of the same request would do twice.
    lock = redis_client().lock(LOCK, timeout=LOCK_SECONDS)
    if not await lock.acquire(blocking=False):
        return 0
    started = time.monotonic()
    done = 0
    try:
        top = await service.last_event_id()
        while True:
            start = await watermark()
            if top <= start:
                break
            hi = min(top, start + batch_events)
            ids = await changed_since(max(0, start - OVERLAP), hi)
            for i in range(0, len(ids), CHUNK):
                done += await refresh(ids[i:i + CHUNK], hi)
            await _set_watermark(hi)
            await lock.reacquire()
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                break
    finally:
        try:
            await lock.release()
        except LockError:  # expired meanwhile: nothing to release
            pass
    if done >= VACUUM_AFTER:
        # After a big rewrite, mark the rollup's pages all-visible so the dashboard's covering indexes
        # are read alone (index-only scans) instead of visiting the table for every row.
        for table in ("stats_fact", "stats_day", "stats_hist", "stats_month", "stats_month_hist"):
            await StatsFact.raw(f"VACUUM (ANALYZE) {table}")
    return done


# ---------------------------------------------------------------- reading


def _where(f: Filters, exclude: Iterable[int], *, by_street: bool = False) -> tuple[str, list[Any]]:
    """The cohort's facts (alias x). ``by_street``: the subtree as the cube reads it (not a community's)."""
    where, args = _slice_where(f, "x")
    if f.unit_path and by_street:
        # the cube's reading of the subtree (see below): its streets, or led there from elsewhere
        where += f" AND (x.street IN {SUB} OR (x.cross_lead = 1 AND {LED_BY}))"
        args += [f.unit_path + "%"] * 2
    elif f.unit_path:
        # In the unit's geography, or ever led by one of its units. The led-by set is one uncorrelated
        # subquery over the units' assignments since the period start (an assignment never precedes
        # its request's submission), read from the (unit, opened_at) index, not one probe per row.
        where += (f" AND (x.street IN {SUB} OR x.community IN {SUB} OR x.grid IN {SUB} OR x.request IN (SELECT "
                  f"a.request FROM assignment a WHERE a.unit IN {SUB} AND a.opened_at >= {{}} AND a.role = 'lead'))")
        args += [f.unit_path + "%"] * 4 + [f.start_utc]
    skip = sorted(set(exclude))
    if skip:
        where += f" AND x.request NOT IN ({_ids(skip)})"
    return where, args


def _slice_where(f: Filters, a: str) -> tuple[str, list[Any]]:
    """The period and the kind, category and level filters, on any rollup table under alias ``a``.

    The period as local days: the same rows as start_utc <= submitted_at < end_utc (submitted_day is
    submitted_at's local date), read from the indexes that lead with the day."""
    where = [f"{a}.submitted_day >= {{}}", f"{a}.submitted_day <= {{}}"]
    args: list[Any] = [f.start.isoformat(), f.end.isoformat()]
    if f.kind:
        where.append(f"{a}.kind = {{}}")
        args.append(f.kind)
    if f.category_id:
        where.append(f"{a}.category = {int(f.category_id)}")
    if f.level:
        where.append(f"{a}.level = {{}}")
        args.append(f.level)
    return " AND ".join(where), args


SUB = "(SELECT id FROM unit WHERE path LIKE {})"
LED_BY = f"EXISTS (SELECT 1 FROM assignment a WHERE a.request = x.request AND a.role = 'lead' AND a.unit IN {SUB})"


def _ids(ids: Iterable[int]) -> str:
    return ",".join(str(int(i)) for i in ids)  # plain integers, inlined


def _open_sums(now: datetime) -> tuple[list[str], list[Any]]:
    """The open backlog, by age at ``now``."""
    cols = ["SUM(x.is_open) AS open"]
    args: list[Any] = []
    for key, _label, lo, hi in BACKLOG_BUCKETS:
        # age in [lo, hi) days  ⇔  submitted in (now - hi, now - lo]; the youngest bucket also takes the future
        cond = []
        if lo > 0:
            cond.append("x.submitted_at <= {}")
            args.append(now - timedelta(days=lo))
        if hi != float("inf"):
            cond.append("x.submitted_at > {}")
            args.append(now - timedelta(days=hi))
        cols.append(f"SUM(CASE WHEN x.is_open = 1 AND {' AND '.join(cond) or '1 = 1'} THEN 1 ELSE 0 END)"
                    f" AS backlog_{key}")
    return cols, args


def _sums(now: datetime) -> tuple[str, list[Any]]:
    opens, args = _open_sums(now)
    return ", ".join([f"{e} AS {c}" for c, e in FACT_SUMS.items()] + opens), args


# ---------------------------------------------------------------- reading the day cube
#
# For a district, a street or a unit without geography (a department), the cohort is read from the
# cube: a period's rows of stats_day, minus the facts being re-derived (they are read live), plus the
# requests of the subtree that lie outside its geography but were led by one of its units (cross_lead,
# few), plus the open backlog (few, by age at the moment of reading). Geography is decided by the
# street: a request's community lies in its street and its grid in its community (routing sets
# street = community.parent), so "street, community or grid in the subtree" is "street in it".


def _cube_parts(f: Filters, *, months: bool, hist: bool = False) -> list[tuple[str, Filters]]:
    """The period as the cubes hold it: (table, the part of the period read there). With ``months``, the whole
    months inside the period from the month cube, the days before and after them from the day cube."""
    day_table, month_table = ("stats_hist", "stats_month_hist") if hist else ("stats_day", "stats_month")
    first = f.start if f.start.day == 1 else (f.start.replace(day=1) + timedelta(days=32)).replace(day=1)
    after = (f.end + timedelta(days=1)).replace(day=1)  # the first day of the month the period ends in (or after)
    if not months or first >= after:
        return [(day_table, f)]
    last = (after - timedelta(days=1)).replace(day=1)  # the last whole month's first day
    parts = [(month_table, replace(f, start=first, end=last))]
    if f.start < first:
        parts.append((day_table, replace(f, start=f.start, end=first - timedelta(days=1))))
    if after <= f.end:
        parts.append((day_table, replace(f, start=after, end=f.end)))
    return parts


def _cube_where(f: Filters, a: str) -> tuple[str, list[Any]]:
    """The cube's part of the cohort, on stats_day or stats_fact (same column names) under alias ``a``."""
    where, args = _slice_where(f, a)
    if f.unit_path:
        where += f" AND {a}.street IN {SUB}"
        args.append(f.unit_path + "%")
    return where, args


def _cross_where(f: Filters, skip: list[int]) -> tuple[str, list[Any]]:
    """Cohort facts outside the cube's part: outside the subtree's streets, led by one of its units."""
    where, args = _slice_where(f, "x")
    where += f" AND x.cross_lead = 1 AND COALESCE(x.street, 0) NOT IN {SUB} AND {LED_BY}"
    args += [f.unit_path + "%"] * 2
    if skip:
        where += f" AND x.request NOT IN ({_ids(skip)})"
    return where, args


def _facts_of(ids: list[int]) -> str:
    """A CTE ``s``: these requests' facts, found by request first (not by scanning the period)."""
    return f"WITH s AS MATERIALIZED (SELECT * FROM stats_fact WHERE request IN ({_ids(ids)}))"


def _group_sql(group: tuple[str, ...], a: str) -> str:
    cols = [_FACT_KEY[g] if a == "x" else f"d.{g}" for g in group]
    return ", ".join(f"{c} AS g{i}" for i, c in enumerate(cols))


async def _cube_counts(f: Filters, skip: list[int], now: datetime, group: tuple[str, ...]
                       ) -> dict[tuple[Any, ...], Counter[str]]:
    """The rollup's part of the cohort's counts, grouped by ``group`` (columns of the cube's key)."""
    out: dict[tuple[Any, ...], Counter[str]] = {}

    def add(rows: list[dict[str, Any]], sign: int) -> None:
        for row in rows:
            c = out.setdefault(tuple(row[f"g{i}"] for i in range(len(group))), Counter())
            for name, value in row.items():
                if not name.startswith("g") and value:
                    c[name] += sign * int(value)

    by = ", ".join(f"g{i}" for i in range(len(group)))
    tail = f" GROUP BY {by}" if group else ""
    gd, gx = (_group_sql(group, "d") + ", ", _group_sql(group, "x") + ", ") if group else ("", "")
    # whole months from the month cube unless the trend needs days or weeks (a month's row stands for its first day)
    months = "submitted_day" not in group or f.grain == "month"
    for table, part in _cube_parts(f, months=months):
        where, args = _cube_where(part, "d")
        add(await StatsFact.raw(f"SELECT {gd}{', '.join(f'SUM(d.{c}) AS {c}' for c in FACT_SUMS)} FROM {table} d "
                                f"WHERE {where}{tail}", *args), 1)
    fact_sums = ", ".join(f"{e} AS {c}" for c, e in FACT_SUMS.items())
    if skip:  # re-derived live: out of the cube's figures
        where, args = _cube_where(f, "x")
        add(await StatsFact.raw(f"{_facts_of(skip)} SELECT {gx}{fact_sums} FROM s x WHERE {where}{tail}", *args), -1)
    if f.unit_path:
        where, args = _cross_where(f, skip)
        add(await StatsFact.raw(f"SELECT {gx}{fact_sums} FROM stats_fact x WHERE {where}{tail}", *args), 1)
    opens, open_args = _open_sums(now)
    where, args = _where(f, skip, by_street=True)
    add(await StatsFact.raw(f"SELECT {gx}{', '.join(opens)} FROM stats_fact x WHERE x.is_open = 1 AND {where}{tail}",
                            *open_args, *args), 1)
    return out


async def _cube_durations(f: Filters, skip: list[int], extra_accept: list[float], extra_resolve: list[float]
                          ) -> tuple[tuple[float | None, float | None], tuple[float | None, float | None]] | None:
    """(median, p90) of both durations from the histograms: the cube's part of the cohort plus ``extra``
    values (live and cross-led facts). Exact: the value at each rank is read from its bucket's facts.

    Serves the cohorts the histogram's key describes (no kind, category or level filter). None when the
    facts changed between the reads (the caller then ranks every value)."""
    counts: dict[str, Counter[int]] = {"a": Counter(), "r": Counter()}
    for table, part in _cube_parts(f, months=True, hist=True):
        where, args = _cube_where(part, "h")  # the period and the streets: the histogram's key
        for metric, bucket, n in await fetch_tuples(
                f"SELECT h.metric, h.bucket, SUM(h.n) FROM {table} h WHERE {where} GROUP BY h.metric, h.bucket", *args):
            counts[metric][int(bucket)] += int(n)
    fact_where, fact_args = _cube_where(f, "x")
    if skip:
        for a_bucket, r_bucket in await fetch_tuples(
                f"{_facts_of(skip)} SELECT x.accept_bucket, x.resolve_bucket FROM s x WHERE {fact_where}", *fact_args):
            if a_bucket is not None:
                counts["a"][int(a_bucket)] -= 1
            if r_bucket is not None:
                counts["r"][int(r_bucket)] -= 1
    out = []
    for metric, name, extra in (("a", "accept", extra_accept), ("r", "resolve", extra_resolve)):
        in_rollup = counts[metric]
        extra_by = Counter(duration_bucket(v) for v in extra)
        total = sum(in_rollup.values()) + len(extra)
        if not total:
            out.append((None, None))
            continue
        ranks = [max(1, math.ceil(p * total)) for p in (.5, .9)]  # kpis.percentile's nearest rank, 1-based
        where_rank: list[tuple[int, int]] = []  # (bucket, rank within the bucket)
        for rank in ranks:
            seen = 0
            for b in sorted(set(in_rollup) | set(extra_by)):
                here = in_rollup[b] + extra_by[b]
                if seen + here >= rank:
                    where_rank.append((b, rank - seen))
                    break
                seen += here
        skipped = f" AND x.request NOT IN ({_ids(skip)})" if skip else ""
        picked = []
        for b, k in where_rank:
            # The k-th value of the bucket (its facts in the cohort and the extra values in it). Only the facts
            # that can hold rank k are read, in value order from the bucket's ordered index, instead of the whole
            # bucket sorted (issue 22: hundreds of thousands of values in a year at 10 M requests): with m extra
            # values in the bucket, the k-th of all is among facts k-1-m … k-1 and those extra values.
            in_bucket = sorted(v for v in extra if duration_bucket(v) == b)
            low = max(0, k - 1 - len(in_bucket))
            facts = f"FROM stats_fact x WHERE x.{name}_bucket = {int(b)} AND {fact_where}{skipped}"
            n, window = (await fetch_tuples(
                f"SELECT (SELECT count(*) {facts}), ARRAY(SELECT x.{name}_secs {facts} ORDER BY x.{name}_secs "
                "OFFSET {} LIMIT {})", *fact_args, *fact_args, low, k - low))[0]
            if int(n or 0) != in_rollup[b]:
                return None  # a catch-up committed between the reads
            picked.append(kth_of_union(k, low, list(window), in_bucket))
        out.append((picked[0], picked[1]))
    return out[0], out[1]


def kth_of_union(k: int, low: int, window: list[float], extra: list[float]) -> float:
    """The k-th smallest (1-based) of a sorted list of facts and the sorted ``extra`` values, from the facts'
    ``window`` (those at 0-based positions low … k-1) and the ``low`` facts known to lie below it: the first
    candidate with at least k values up to it. (A value below the window counts at most low + len(extra) < k.)"""
    for x in sorted(window + extra):
        if low + bisect.bisect_right(window, x) + bisect.bisect_right(extra, x) >= k:
            return x
    raise ValueError("rank beyond the values")


async def _grouped(f: Filters, exclude: Iterable[int], now: datetime, group: str | None) -> list[dict[str, Any]]:
    sums, sum_args = _sums(now)
    where, where_args = _where(f, exclude)
    select = f"x.{group} AS g, {sums}" if group else sums
    tail = f" GROUP BY x.{group}" if group else ""
    return await StatsFact.raw(f"SELECT {select} FROM stats_fact x WHERE {where}{tail}", *sum_args, *where_args)


async def _durations(f: Filters, exclude: Iterable[int], live_accept: list[float], live_resolve: list[float]
                     ) -> tuple[tuple[float | None, float | None], tuple[float | None, float | None]]:
    """(median, p90) of the time to accept and to resolve over the rollup's cohort plus the live values."""
    where, args = _where(f, exclude)
    cohort = f"FROM stats_fact x WHERE {where} AND x.withdrawn = 0"
    # Ranked in place, in one pass: percentile_disc is the nearest rank (the first value whose cumulative
    # share reaches p), the definition of kpis.percentile(); it skips NULLs; the live values join the ranking.
    ranks = ", ".join(f"percentile_disc({p}) WITHIN GROUP (ORDER BY {c})" for c in ("a", "r") for p in (.5, .9))
    row = (await fetch_tuples(
        f"SELECT {ranks} FROM (SELECT x.accept_secs AS a, x.resolve_secs AS r {cohort} "
        "UNION ALL SELECT unnest({}::float8[]), NULL UNION ALL SELECT NULL, unnest({}::float8[])) t",
        *args, live_accept, live_resolve))[0]
    return (row[0], row[1]), (row[2], row[3])


async def live_part(f: Filters) -> tuple[list[int], list[Fact]]:
    """Requests changed since the rollup's watermark (minus the overlap): their ids, and the cohort's facts."""
    ids = await changed_since(max(0, await watermark() - OVERLAP))
    if not ids:
        return [], []
    cohort: list[Fact] = []
    for i in range(0, len(ids), CHUNK):
        part = await facts_for(ids[i:i + CHUNK])
        cohort += [x for x in part if _in_cohort(x, f)]
    if f.unit_path and cohort:
        allowed = await _unit_members(f, [x.id for x in cohort])
        cohort = [x for x in cohort if x.id in allowed]
    return ids, cohort


def _in_cohort(x: Fact, f: Filters) -> bool:
    return (f.start_utc <= x.submitted_at < f.end_utc and (not f.kind or x.kind == f.kind)
            and (not f.category_id or x.category == f.category_id) and (not f.level or x.level == f.level))


async def _unit_members(f: Filters, ids: list[int]) -> set[int]:
    marks = ",".join(str(int(i)) for i in ids)
    rows = await StatsFact.raw(
        f"SELECT r.id FROM request r WHERE r.id IN ({marks}) AND (r.street IN {SUB} OR r.community IN {SUB} OR "
        f"r.grid IN {SUB} OR EXISTS (SELECT 1 FROM assignment a WHERE a.request = r.id AND a.role = 'lead' "
        f"AND a.unit IN {SUB}))", *([f.unit_path + "%"] * 4))
    return {r["id"] for r in rows}


def _uses_cube(f: Filters, unit_kind: str | None) -> bool:
    """The cube serves every cohort but a community's or a grid's (their grids are not in its key)."""
    return not f.unit_path or unit_kind not in ("community", "grid")


async def dashboard(f: Filters, scope_paths: Iterable[str], *, now: datetime | None = None) -> Dashboard:
    """Exactly ``service.dashboard``'s figures, read from the day cube (or the facts) plus the live part."""
    now = now or utcnow()
    scopes = tuple(scope_paths)
    skip, live = await live_part(f)
    unit_kind, attr, title, units = await _children(f, scopes)
    k = new_kpis()
    buckets: dict[date, Kpis] = {key: new_kpis() for key in bucket_keys(f.start, f.end, f.grain)}
    by_unit: dict[int, Kpis] = {u["id"]: new_kpis() for u in units}

    def add(day: str, unit: Any, counts: Any) -> None:
        add_counts(k, counts)
        add_counts(buckets.setdefault(bucket_of(date.fromisoformat(day), f.grain), new_kpis()), counts)
        if attr and unit in by_unit:
            add_counts(by_unit[unit], counts)

    live_accept: list[float] = []
    live_resolve: list[float] = []
    accumulate(new_kpis(), live, now, live_accept, live_resolve)  # the live path's own rule for durations
    durations = None
    if _uses_cube(f, unit_kind):
        # Totals, trend and ranking are sums of the cube's (day, child unit) groups.
        group = ("submitted_day", attr) if attr else ("submitted_day",)
        for key, counts in (await _cube_counts(f, skip, now, group)).items():
            add(key[0], key[1] if attr else None, counts)
        if not (f.kind or f.category_id or f.level):
            extra_accept, extra_resolve = list(live_accept), list(live_resolve)
            if f.unit_path:  # cross-led facts are outside the histograms' streets
                where, args = _cross_where(f, skip)
                for a, r in await fetch_tuples(f"SELECT x.accept_secs, x.resolve_secs FROM stats_fact x "
                                               f"WHERE {where} AND x.withdrawn = 0", *args):
                    extra_accept += [float(a)] if a is not None else []
                    extra_resolve += [float(r)] if r is not None else []
            durations = await _cube_durations(f, skip, extra_accept, extra_resolve)
    else:
        # One scan of the cohort's facts, grouped by (local day, child unit).
        sums, sum_args = _sums(now)
        where, where_args = _where(f, skip)
        group_sql = f"x.submitted_day, x.{attr}" if attr else "x.submitted_day"
        unit_col = f"x.{attr} AS u, " if attr else ""
        for row in await StatsFact.raw(f"SELECT x.submitted_day AS d, {unit_col}{sums} FROM stats_fact x "
                                       f"WHERE {where} GROUP BY {group_sql}", *sum_args, *where_args):
            add(row["d"], row.get("u"), row)
    if durations is None:
        durations = await _durations(f, skip, live_accept, live_resolve)
    zone = service.tz()
    for x in live:
        accumulate(k, [x], now)
        accumulate(buckets.setdefault(bucket_of(x.submitted_at.astimezone(zone).date(), f.grain), new_kpis()),
                   [x], now)
        if attr and getattr(x, attr) in by_unit:
            accumulate(by_unit[getattr(x, attr)], [x], now)
    finish(k)
    (k.accept_median, k.accept_p90), (k.resolve_median, k.resolve_p90) = durations
    trend = [(key, finish(buckets[key])) for key in sorted(buckets)]
    ranks = [RankRow(u["id"], u["name"], finish(by_unit[u["id"]])) for u in units]
    ranks.sort(key=lambda r: (-(r.kpis.completion_rate or 0), -(r.kpis.satisfaction_rate or 0), -r.kpis.accepted,
                              r.kpis.red))
    return Dashboard(f, k, trend, title, ranks, now)


async def _children(f: Filters, scopes: tuple[str, ...]
                    ) -> tuple[str | None, str | None, str, list[dict[str, Any]]]:
    """The viewed unit's kind, and the units ranked: one level below it (streets, communities or grids)."""
    path = f.unit_path or min(scopes, key=len)
    kind = await _unit_kind(path)
    children = {"district": ("street", "street", N_("各街道")), "street": ("community", "community", N_("各社区")),
                "community": ("grid", "grid", N_("各网格"))}
    attr, child_kind, title = children.get(kind or "district", (None, None, ""))
    if attr is None:
        return kind, None, "", []
    units = await Unit.select(Unit.id, Unit.name).where(
        (Unit.kind == child_kind) & Unit.path.like(path + "%")).order_by(Unit.sort).order_by(Unit.id)
    return kind, attr, title, units


async def _unit_kind(path: str) -> str | None:
    row = await Unit.select(Unit.kind).where(Unit.path == path).first()
    return row["kind"] if row else None


async def by_category(f: Filters, now: datetime | None = None) -> dict[int, Kpis]:
    now = now or utcnow()
    skip, live = await live_part(f)
    out: dict[int, Kpis] = {}
    if _uses_cube(f, await _unit_kind(f.unit_path) if f.unit_path else None):
        for key, counts in (await _cube_counts(f, skip, now, ("category",))).items():
            add_counts(out.setdefault(int(key[0]), new_kpis()), counts)
    else:
        for row in await _grouped(f, skip, now, "category"):
            add_counts(out.setdefault(int(row["g"]), new_kpis()), row)
    for x in live:
        accumulate(out.setdefault(x.category, new_kpis()), [x], now)
    return {cid: finish(k) for cid, k in out.items()}


CATCH_UP_JOB = "stats_catch_up"
# A change is folded in at the end of its window. Each run re-derives every request changed in its window,
# so under a steady load (a request changes several times a minute) a longer window costs less in all;
# the dashboard reads the changes not yet folded live, so it is right either way.
CATCH_UP_WINDOW_MS = 30_000


async def stats_after_transition(result: Any) -> None:
    """Transition hook: soon after a change, fold it into the rollup (one job at a time; the cron catches the rest)."""
    from backend.db import on_commit

    await on_commit(queue_catch_up)


async def queue_catch_up(now: datetime | None = None) -> None:
    from backend.jobs import enqueue

    # One job per window, named after the window and deferred to its end, so it folds in every change of the
    # window: the changes after the first find its id taken (no round trip of its own when the job goes with
    # the response's other jobs, see backend.jobs.sent_together).
    window = int((now or utcnow()).timestamp() * 1000) // CATCH_UP_WINDOW_MS + 1
    await enqueue(CATCH_UP_JOB, job_id=f"stats-catch-up:{window}",
                  defer_until=datetime.fromtimestamp(window * CATCH_UP_WINDOW_MS / 1000, UTC))
