"""Flipping lights: the deferred job (``fire``), the one-minute sweep and the nightly repair.

The database is the truth and arq is the alarm clock: a clock row holds the deadlines; deferred
jobs and a one-minute sweep both call ``fire``/``sweep``, which flip a light with a conditional
UPDATE, so a job that runs twice, late or never changes nothing more than a job run once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from backend.db import aware, fetch_prepared, utcnow, write_transaction
from backend.lights.alerts import Flip, announce
from backend.lights.clocks import earliest, next_due, start_clocks, stop_of
from backend.lights.rules import COLORS, EXPLANATION_HOURS, STAGES
from backend.lights.tables import Explanation, ExplanationStatus, LightClock
from backend.lights.timers import schedule
from backend.requests.rows import EventToRecord
from backend.requests.service import record_many
from backend.requests.tables import Assignment, AssignmentRole

log = logging.getLogger("qungong.lights")


_A_COLS = ("accepted_at", "resolved_at", "closed_at")


def _clock_query() -> Any:
    """Clock rows with their assignment's stop times, in one query."""
    return LightClock.select(LightClock.all_columns(), *(
        getattr(LightClock.assignment, c).as_alias(f"a_{c}") for c in _A_COLS))


async def _flip(clock: dict[str, Any], upto: str, version: int | None, now: datetime,
                events: list[EventToRecord]) -> list[Flip]:
    """Inside a write transaction: light what is due on this clock, up to ``upto``, exactly once.

    ``clock`` comes from ``_clock_query()`` (the assignment's stop times are re-read with it, so a
    stop whose transition hook never ran still counts)."""
    if version is not None and clock["version"] != version:
        return []  # a timer of an older schedule: a no-op
    stop = earliest(clock["stopped_at"], stop_of(clock["stage"], {c: clock[f"a_{c}"] for c in _A_COLS}))
    heal: dict[Any, Any] = {}
    if stop is not None and clock["stopped_at"] is None:
        heal[LightClock.stopped_at] = stop  # the transition hook never ran: heal it here
    flips: list[Flip] = []
    for color in COLORS[: COLORS.index(upto) + 1]:
        if clock[f"{color}_lit_at"] is not None:
            continue
        due = aware(clock[f"{color}_due_at"])
        assert due is not None
        if due > now or (stop is not None and stop <= due):
            break
        column = getattr(LightClock, f"{color}_lit_at")
        clock[f"{color}_lit_at"] = now
        won = await LightClock.update({column: now, LightClock.next_due_at: next_due(clock, stop), **heal}).where(
            (LightClock.id == clock["id"]) & column.is_null() & (LightClock.version == clock["version"])
        ).returning(LightClock.id)
        if not won:
            clock[f"{color}_lit_at"] = None
            return flips  # another run flipped it first
        heal = {}
        # The event the KPIs count; written by record_many() before this transaction commits.
        # Hours from the clock's start to this deadline: "超过 24 小时未受理" (the timeline's sentence).
        hours = int((due - aware(clock["started_at"])).total_seconds() // 3600)  # type: ignore[operator]
        events.append({"request_id": clock["request"], "action": "light", "assignment_id": clock["assignment"],
                       "data": {"stage": clock["stage"], "color": color, "assignment": clock["assignment"],
                                "hours": hours}, "is_public": False, "note": ""})
        flip = Flip(clock["id"], clock["assignment"], clock["request"], clock["unit"], clock["stage"], color)
        if color == "red":
            ex = Explanation(clock=clock["id"], request=clock["request"], assignment=clock["assignment"],
                             unit=clock["unit"], status=ExplanationStatus.open.value,
                             due_at=now + timedelta(hours=EXPLANATION_HOURS), created_at=now)
            await ex.save()
            flip.explanation_id = ex.id
        flips.append(flip)
    nd = next_due(clock, stop)
    if heal or aware(clock["next_due_at"]) != nd:
        await LightClock.update({LightClock.next_due_at: nd, **heal}).where(LightClock.id == clock["id"])
    return flips


# Every timer of every light reads its clock (prepared once per connection): the light's state first, without
# the write lock, then the whole clock with its assignment's stop times (as ``_clock_query()`` reads them).
_SEEN = {color: f"SELECT version, {color}_lit_at AS lit_at, next_due_at FROM light_clock WHERE key = $1"
         for color in COLORS}
_CLOCK_BY_KEY = ("SELECT c.*, " + ", ".join(f"a.{c} AS a_{c}" for c in _A_COLS)
                 + " FROM light_clock c LEFT JOIN assignment a ON a.id = c.assignment WHERE c.key = $1")


async def fire(assignment_id: int, stage: str, color: str, version: int, *, now: datetime | None = None,
               retry_when_busy: bool = False) -> list[Flip]:
    """The deferred job's work: flip this light if it is still due. Safe to run twice, late or never.

    When it flips, the same transaction also flips whatever else is due right now (deadlines come in
    bursts: a thousand in one second cost one commit, and the other jobs find their light already lit).
    """
    if stage not in STAGES or color not in COLORS:
        return []
    injected, now = now, now or utcnow()
    key = f"{assignment_id}:{stage}"
    more: list[Flip] = []
    # Read first, without the write lock: most runs in a burst find their light already lit by a batch.
    found = await fetch_prepared(_SEEN[color], key)
    seen = found[0] if found else None
    if (seen is None or seen["version"] != version or seen["lit_at"] is not None
            or seen["next_due_at"] is None or aware(seen["next_due_at"]) > now):
        return []
    async with write_transaction():
        await _serialize_flips(wait=not retry_when_busy)
        rows = await fetch_prepared(_CLOCK_BY_KEY, key)
        clock = dict(rows[0]) if rows else None
        events: list[EventToRecord] = []
        flips = await _flip(clock, color, version, now, events) if clock else []
        if flips:
            more = await _flip_due(now, BATCH, events)
            flips += more
        await record_many(events, now=now)
    while flips and len(more) >= BATCH // 2:  # a big burst: keep going rather than wait for other jobs
        now = utcnow() if injected is None else now
        async with write_transaction():
            await _serialize_flips()
            events = []
            more = await _flip_due(now, BATCH, events)
            await record_many(events, now=now)
        flips += more
    # Tell people once every light of the burst is committed (notifications must not delay lights).
    await announce(flips)
    return flips


class FlipBusy(Exception):
    """Another process is flipping a batch right now (it most likely flips this light too): retry shortly."""


async def _serialize_flips(*, wait: bool = True) -> None:
    """PostgreSQL: one flipper at a time (a transaction-scoped advisory lock). Batches lock many clock
    rows; two batches in parallel would lock them in different orders and deadlock. Jobs do not queue
    on the lock (each would hold a pooled connection): they raise FlipBusy and are retried."""
    if wait:
        await LightClock.raw("SELECT pg_advisory_xact_lock({})", FLIP_LOCK_KEY)
        return
    rows = await LightClock.raw("SELECT pg_try_advisory_xact_lock({}) AS got", FLIP_LOCK_KEY)
    if not rows[0]["got"]:
        raise FlipBusy()


FLIP_LOCK_KEY = 0x4C494748  # "LIGH"
BATCH = 500


async def _flip_due(now: datetime, limit: int, events: list[EventToRecord]) -> list[Flip]:
    """Inside a write transaction: flip up to ``limit`` due clocks."""
    flips: list[Flip] = []
    ids = await due_clock_ids(now, limit)
    if ids:
        for clock in await _clock_query().where(LightClock.id.is_in(ids)).order_by(LightClock.id):
            flips += await _flip(clock, "red", None, now, events)
    return flips


async def sweep(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Light everything due that no job lit (lost Redis, dead worker, expired job). Returns lights flipped."""
    now = now or utcnow()
    timers = await start_clocks(await assignments_without_clocks(500))
    if timers:
        try:
            await schedule([t for t in timers if t.due_at > now])
        except Exception:  # Redis down: the next sweep lights them anyway
            log.exception("could not schedule repaired timers")
    total = 0
    for _ in range(10000):
        async with write_transaction():
            await _serialize_flips()
            due = await due_clock_ids(now, limit)
            flips: list[Flip] = []
            events: list[EventToRecord] = []
            for clock in await _clock_query().where(LightClock.id.is_in(due or [0])).order_by(LightClock.id):
                flips += await _flip(clock, "red", None, now, events)
            await record_many(events, now=now)
        total += len(flips)
        await announce(flips)
        if len(due) < limit:
            break
    return total


async def light_history(request_id: int, upto: datetime) -> int:
    """Back-filled history (the demo district's year): light this request's lights that fell due before
    ``upto``, each at its own deadline, so the events and explanation tasks carry the time they happened.
    Nobody is notified. Returns the lights flipped."""
    async with write_transaction():
        clocks = await _clock_query().where((LightClock.request == request_id) & (LightClock.next_due_at <= upto))
        due = sorted((aware(c[f"{color}_due_at"]), c["id"], color, c) for c in clocks for color in COLORS
                     if c[f"{color}_lit_at"] is None and aware(c[f"{color}_due_at"]) <= upto)  # type: ignore[operator]
        flipped = 0
        for at, _id, color, clock in due:
            events: list[EventToRecord] = []
            flipped += len(await _flip(clock, color, None, at, events))
            await record_many(events, now=at)
    return flipped


async def due_clock_ids(now: datetime, limit: int = 500) -> list[int]:
    """The sweep query: one range scan of the ``next_due_at`` index."""
    rows = await LightClock.select(LightClock.id).where(LightClock.next_due_at <= now).order_by(
        LightClock.next_due_at).limit(limit)
    return [r["id"] for r in rows]


REPAIR_WINDOW = 20000  # the newest assignment ids the minute sweep checks (a primary-key range scan)


async def assignments_without_clocks(limit: int = 500, *, window: int | None = REPAIR_WINDOW) -> list[int]:
    """Open lead assignments that have no clocks (rows written outside the request service, or before a rule existed).

    The minute sweep looks at the newest ``window`` assignment ids only (a crash leaves its gap among
    the newest); the nightly repair (``window=None``) scans them all."""
    recent, args = "", [True, AssignmentRole.lead.value]
    if window:
        top = await Assignment.select(Assignment.id).order_by(Assignment.id, ascending=False).first()
        recent = "AND a.id > {} "  # a literal bound: a primary-key range scan on both engines
        args.append((top["id"] if top else 0) - window)
    args.append(limit)
    rows = await Assignment.raw(
        "SELECT a.id FROM assignment a WHERE a.is_open = {} AND a.role = {} " + recent +
        "AND NOT EXISTS (SELECT 1 FROM light_clock c WHERE c.assignment = a.id) ORDER BY a.id LIMIT {}", *args)
    return [r["id"] for r in rows]


async def repair_all(*, now: datetime | None = None) -> int:
    """Nightly: create clocks for every open lead assignment that lacks them, then sweep."""
    while ids := await assignments_without_clocks(500, window=None):
        timers = await start_clocks(ids)
        await schedule([t for t in timers if t.due_at > (now or utcnow())])
    return await sweep(now=now)
