"""The fast, exact dashboard: aggregates over the per-request rollup, plus live facts for what changed since.

- ``catch_up()`` (the worker, every minute and shortly after changes) derives a ``StatsFact`` row per
  request from its events (``facts_for``, the same code the live path uses) for every request with an
  event above the watermark, then moves the watermark.
- ``dashboard()`` sums the rollup in SQL for the cohort, *excluding* every request that has an event
  above ``watermark - OVERLAP``, and adds those requests computed live from the event log. So the
  figures are exactly those of the event log at the moment of reading, whatever the worker's lag;
  the worker only decides how much is read from the rollup (fast) and how much live (slower).
- OVERLAP re-reads the last ids below the watermark: on PostgreSQL a transaction may commit an event
  id lower than one already seen; it is also re-derived by the next catch-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from backend.db import fetch_tuples, is_sqlite, utcnow, write_transaction
from backend.organisation.tables import Unit
from backend.stats import service
from backend.stats.service import (
    BACKLOG_BUCKETS,
    Dashboard,
    Fact,
    Filters,
    Kpis,
    RankRow,
    accumulate,
    add_counts,
    bucket_keys,
    bucket_of,
    facts_for,
    finish,
    new_kpis,
)
from backend.stats.tables import StatsFact, StatsState

WATERMARK = "event_watermark"
OVERLAP = 1000
CHUNK = 2000
VACUUM_AFTER = 10_000  # rollup rows rewritten by one catch-up


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
        last_event=last_event,
    )


async def refresh(ids: list[int], last_event: int) -> int:
    """Re-derive these requests' rollup rows from their events."""
    if not ids:
        return 0
    facts = await facts_for(ids)
    async with write_transaction():
        await StatsFact.delete().where(StatsFact.request.is_in(ids))
        rows = [_row(x, last_event) for x in facts]
        for i in range(0, len(rows), 500):  # PostgreSQL takes at most 32767 bind arguments per statement
            await StatsFact.insert(*rows[i:i + 500])
    return len(facts)


async def changed_since(after: int, upto: int | None = None) -> list[int]:
    q = f"SELECT DISTINCT request FROM event WHERE id > {int(after)}"
    if upto is not None:
        q += f" AND id <= {int(upto)}"
    rows = await StatsFact.raw(q)
    return sorted(r["request"] for r in rows)


async def catch_up(*, batch_events: int = 100_000, budget_seconds: float | None = None) -> int:
    """Derive rollup rows for every request with events above the watermark; returns how many rows.

    Works in slices of event ids and moves the watermark after each slice, so a long backfill can be
    spread over several worker runs (``budget_seconds``) without redoing finished slices.
    """
    import time

    started = time.monotonic()
    done = 0
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
        if budget_seconds is not None and time.monotonic() - started > budget_seconds:
            break
    if done >= VACUUM_AFTER and not is_sqlite():
        # After a big rewrite, mark the rollup's pages all-visible so the dashboard's covering index
        # is read alone (an index-only scan) instead of visiting the table for every row.
        await StatsFact.raw("VACUUM (ANALYZE) stats_fact")
    return done


# ---------------------------------------------------------------- reading


def _where(f: Filters, exclude: Iterable[int]) -> tuple[str, list[Any]]:
    # The period as local days: the same rows as start_utc <= submitted_at < end_utc (submitted_day is
    # submitted_at's local date), read from the index that leads with the day.
    where = ["x.submitted_day >= {}", "x.submitted_day <= {}"]
    args: list[Any] = [f.start.isoformat(), f.end.isoformat()]
    if f.kind:
        where.append("x.kind = {}")
        args.append(f.kind)
    if f.category_id:
        where.append(f"x.category = {int(f.category_id)}")
    if f.level:
        where.append("x.level = {}")
        args.append(f.level)
    if f.unit_path:
        # In the unit's geography, or ever led by one of its units. The led-by set is one uncorrelated
        # subquery over the units' assignments since the period start (an assignment never precedes
        # its request's submission), read from the (unit, opened_at) index, not one probe per row.
        sub = "(SELECT id FROM unit WHERE path LIKE {})"
        where.append(f"(x.street IN {sub} OR x.community IN {sub} OR x.grid IN {sub} OR x.request IN (SELECT "
                     f"a.request FROM assignment a WHERE a.unit IN {sub} AND a.opened_at >= {{}} "
                     "AND a.role = 'lead'))")
        args += [f.unit_path + "%"] * 4 + [f.start_utc]
    skip = sorted(set(exclude))
    if skip:
        where.append(f"x.request NOT IN ({','.join(str(int(i)) for i in skip)})")
    return " AND ".join(where), args


def _sums(now: datetime) -> tuple[str, list[Any]]:
    cols = [
        "COUNT(*) AS submitted", "SUM(x.withdrawn) AS withdrawn", "SUM(1 - x.withdrawn) AS accepted",
        "SUM(x.completed) AS completed",
        "SUM(CASE WHEN x.completed = 1 AND x.above_community = 0 THEN 1 ELSE 0 END) AS community_solved",
        "SUM(CASE WHEN x.withdrawn = 0 THEN x.rated ELSE 0 END) AS ratings",
        "SUM(CASE WHEN x.withdrawn = 0 THEN x.rated_good ELSE 0 END) AS ratings_good",
        "SUM(CASE WHEN x.withdrawn = 0 AND x.not_rated > 0 THEN 1 ELSE 0 END) AS not_rated",
        "SUM(CASE WHEN x.withdrawn = 0 THEN x.yellow ELSE 0 END) AS yellow",
        "SUM(CASE WHEN x.withdrawn = 0 THEN x.red ELSE 0 END) AS red",
        "SUM(CASE WHEN x.withdrawn = 0 AND x.reopens > 0 THEN 1 ELSE 0 END) AS reopened",
        "SUM(CASE WHEN x.withdrawn = 0 AND x.resolutions > 0 THEN 1 ELSE 0 END) AS resolved_once",
        "SUM(x.is_open) AS open",
    ]
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
    return ", ".join(cols), args


async def _grouped(f: Filters, exclude: Iterable[int], now: datetime, group: str | None) -> list[dict[str, Any]]:
    sums, sum_args = _sums(now)
    where, where_args = _where(f, exclude)
    select = f"x.{group} AS g, {sums}" if group else sums
    tail = f" GROUP BY x.{group}" if group else ""
    return await StatsFact.raw(f"SELECT {select} FROM stats_fact x WHERE {where}{tail}", *sum_args, *where_args)


async def _durations(f: Filters, exclude: Iterable[int], live: list[Fact], now: datetime
                     ) -> tuple[tuple[float | None, float | None], tuple[float | None, float | None]]:
    """(median, p90) of the time to accept and to resolve over the rollup's cohort plus the live facts."""
    live_accept: list[float] = []
    live_resolve: list[float] = []
    accumulate(new_kpis(), live, now, live_accept, live_resolve)  # the live path's own rule for durations
    where, args = _where(f, exclude)
    cohort = f"FROM stats_fact x WHERE {where} AND x.withdrawn = 0"
    if not is_sqlite():
        # PostgreSQL ranks in place, in one pass: percentile_disc is the nearest rank (the first value whose
        # cumulative share reaches p), the definition of service.percentile(); it skips NULLs; the live
        # values join the ranking.
        ranks = ", ".join(f"percentile_disc({p}) WITHIN GROUP (ORDER BY {c})" for c in ("a", "r") for p in (.5, .9))
        row = (await fetch_tuples(
            f"SELECT {ranks} FROM (SELECT x.accept_secs AS a, x.resolve_secs AS r {cohort} "
            "UNION ALL SELECT unnest({}::float8[]), NULL UNION ALL SELECT NULL, unnest({}::float8[])) t",
            *args, live_accept, live_resolve))[0]
        return (row[0], row[1]), (row[2], row[3])
    rows = await fetch_tuples(
        f"SELECT x.accept_secs, x.resolve_secs {cohort} AND (x.accept_secs IS NOT NULL OR x.resolve_secs IS NOT NULL)",
        *args)
    accept = sorted([float(a) for a, _ in rows if a is not None] + live_accept)
    resolve = sorted([float(r) for _, r in rows if r is not None] + live_resolve)  # sorted once: re-sorting is O(n)
    return ((service.percentile(accept, .5), service.percentile(accept, .9)),
            (service.percentile(resolve, .5), service.percentile(resolve, .9)))


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
    sub = "(SELECT id FROM unit WHERE path LIKE {})"
    rows = await StatsFact.raw(
        f"SELECT r.id FROM request r WHERE r.id IN ({marks}) AND (r.street IN {sub} OR r.community IN {sub} OR "
        f"r.grid IN {sub} OR EXISTS (SELECT 1 FROM assignment a WHERE a.request = r.id AND a.role = 'lead' "
        f"AND a.unit IN {sub}))", *([f.unit_path + "%"] * 4))
    return {r["id"] for r in rows}


async def dashboard(f: Filters, scope_paths: Iterable[str], *, now: datetime | None = None) -> Dashboard:
    """Exactly ``service.dashboard``'s figures, read mostly from the rollup in one grouped pass."""
    now = now or utcnow()
    scopes = tuple(scope_paths)
    skip, live = await live_part(f)
    attr, title, units = await _children(f, scopes)
    accept, resolve = await _durations(f, skip, live, now)
    k = new_kpis()
    buckets: dict[date, Kpis] = {key: new_kpis() for key in bucket_keys(f.start, f.end, f.grain)}
    by_unit: dict[int, Kpis] = {u["id"]: new_kpis() for u in units}
    # One scan of the cohort's rollup rows, grouped by (local day, child unit): totals, trend and
    # ranking are sums of these groups.
    sums, sum_args = _sums(now)
    where, where_args = _where(f, skip)
    group = f"x.submitted_day, x.{attr}" if attr else "x.submitted_day"
    unit_col = f"x.{attr} AS u, " if attr else ""
    rows = await StatsFact.raw(f"SELECT x.submitted_day AS d, {unit_col}{sums} FROM stats_fact x WHERE {where} "
                               f"GROUP BY {group}", *sum_args, *where_args)
    for row in rows:
        add_counts(k, row)
        add_counts(buckets.setdefault(bucket_of(date.fromisoformat(row["d"]), f.grain), new_kpis()), row)
        if attr and row["u"] in by_unit:
            add_counts(by_unit[row["u"]], row)
    zone = service.tz()
    for x in live:
        accumulate(k, [x], now)
        accumulate(buckets.setdefault(bucket_of(x.submitted_at.astimezone(zone).date(), f.grain), new_kpis()),
                   [x], now)
        if attr and getattr(x, attr) in by_unit:
            accumulate(by_unit[getattr(x, attr)], [x], now)
    finish(k)
    (k.accept_median, k.accept_p90), (k.resolve_median, k.resolve_p90) = accept, resolve
    trend = [(key, finish(buckets[key])) for key in sorted(buckets)]
    ranks = [RankRow(u["id"], u["name"], finish(by_unit[u["id"]])) for u in units]
    ranks.sort(key=lambda r: (-(r.kpis.completion_rate or 0), -(r.kpis.satisfaction_rate or 0), -r.kpis.accepted,
                              r.kpis.red))
    return Dashboard(f, k, trend, title, ranks, now)


async def _children(f: Filters, scopes: tuple[str, ...]) -> tuple[str | None, str, list[dict[str, Any]]]:
    """The units ranked: one level below the viewed unit (streets, communities or grids)."""
    path = f.unit_path or min(scopes, key=len)
    parent = await Unit.select(Unit.kind).where(Unit.path == path).first()
    children = {"district": ("street", "street", "各街道"), "street": ("community", "community", "各社区"),
                "community": ("grid", "grid", "各网格")}
    attr, child_kind, title = children.get(parent["kind"] if parent else "district", (None, None, ""))
    if attr is None:
        return None, "", []
    units = await Unit.select(Unit.id, Unit.name).where(
        (Unit.kind == child_kind) & Unit.path.like(path + "%")).order_by(Unit.sort).order_by(Unit.id)
    return attr, title, units


async def by_category(f: Filters, now: datetime | None = None) -> dict[int, Kpis]:
    now = now or utcnow()
    skip, live = await live_part(f)
    out: dict[int, Kpis] = {}
    for row in await _grouped(f, skip, now, "category"):
        add_counts(out.setdefault(int(row["g"]), new_kpis()), row)
    for x in live:
        accumulate(out.setdefault(x.category, new_kpis()), [x], now)
    return {cid: finish(k) for cid, k in out.items()}


CATCH_UP_JOB = "stats_catch_up"
CATCH_UP_DELAY_MS = 5000


def _register_hook() -> None:
    from backend.db import on_commit
    from backend.jobs import enqueue
    from backend.redis import redis_client
    from backend.requests.hooks import on_transition

    @on_transition
    async def stats_after_transition(result: Any) -> None:
        # Soon after a change, fold it into the rollup (one job at a time; the cron catches the rest).
        await on_commit(_queue_catch_up)

    async def _queue_catch_up() -> None:
        # One Redis round trip per change: only the first change of a 5-second window queues the job
        # (deferred to the window's end, so it folds in every change of the window).
        if await redis_client().set("qg:stats:catch-up-queued", "1", nx=True, px=CATCH_UP_DELAY_MS):
            await enqueue(CATCH_UP_JOB, job_id="stats-catch-up",
                          defer_until=utcnow() + timedelta(milliseconds=CATCH_UP_DELAY_MS))


_register_hook()
