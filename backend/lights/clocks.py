"""Light clocks: one row per (lead assignment, stage) holding its deadlines, started and stopped by the
transition hook in the change's own transaction; the timers are queued after the commit.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from backend.db import aware, fetch_prepared, on_commit, write_transaction
from backend.lights.clock import deadline
from backend.lights.rows import Deadlines, StopTimes
from backend.lights.rules import COLORS, STAGES, rules_by_stage
from backend.lights.tables import LightClock
from backend.lights.timers import Timer, schedule
from backend.requests.rules import TransitionResult
from backend.requests.tables import Assignment, AssignmentRole


def earliest(*values: datetime | None) -> datetime | None:
    present = [aware(v) for v in values if v is not None]
    return min(present) if present else None  # type: ignore[type-var]


def stop_of(stage: str, a: StopTimes) -> datetime | None:
    """When the assignment stopped this stage's clock: accepting stops 'accept', resolving stops both,
    closing (escalation, transfer, return, withdrawal) stops both."""
    if stage == "accept":
        return earliest(a["accepted_at"], a["resolved_at"], a["closed_at"])
    return earliest(a["resolved_at"], a["closed_at"])


def next_due(clock: Deadlines, stop: datetime | None) -> datetime | None:
    """The earliest deadline still able to light: unlit, and not beaten by the stop (stop ≤ due → on time)."""
    for color in COLORS:
        if clock[f"{color}_lit_at"] is None:
            due = aware(clock[f"{color}_due_at"])
            assert due is not None
            if stop is None or stop > due:
                return due
            return None
    return None


# Constant statements (prepared once per connection): clocks start on every submission (issue 22).
_CLOCK_START_SQL = (
    "SELECT a.id, a.request, a.unit, a.opened_at, a.version, a.accepted_at, a.resolved_at, a.closed_at, "
    "r.category FROM assignment a JOIN request r ON r.id = a.request WHERE a.id = ANY($1::int[]) AND a.role = $2")
_CLOCK_START_COLUMNS = ("id", "request", "unit", "opened_at", "version", "accepted_at", "resolved_at", "closed_at",
                        "request.category")
_CLOCK_INSERT_SQL = (
    "INSERT INTO light_clock (key, assignment, request, unit, stage, started_at, stopped_at, version, next_due_at, "
    "yellow_due_at, red_due_at, stop_reason) SELECT *, '' FROM unnest($1::varchar[], $2::int[], $3::int[], "
    "$4::int[], $5::varchar[], $6::timestamptz[], $7::timestamptz[], $8::int[], $9::timestamptz[], "
    "$10::timestamptz[], $11::timestamptz[]) ON CONFLICT (key) DO NOTHING RETURNING key")


async def start_clocks(assignment_ids: list[int]) -> list[Timer]:
    """Create both stages' clocks for these assignments if they are open leads; return the timers to schedule."""
    if not assignment_ids:
        return []
    rows = [dict(zip(_CLOCK_START_COLUMNS, r, strict=True))
            for r in await fetch_prepared(_CLOCK_START_SQL, list(assignment_ids), AssignmentRole.lead.value)]
    return await _start(rows)


async def start_opened(result: TransitionResult) -> list[Timer]:
    """The clocks of the leads a change just opened, from the change itself (nothing to read back)."""
    rows = [{"id": a.id, "request": result.request_id, "unit": a.unit, "opened_at": a.opened_at, "version": 1,
             "accepted_at": None, "resolved_at": None, "closed_at": None, "request.category": result.category}
            for a in result.opened_assignments if a.role == AssignmentRole.lead.value]
    return await _start(rows)


async def _start(rows: list[dict[str, Any]]) -> list[Timer]:
    if not rows:
        return []
    rules = await rules_by_stage({a["request.category"] for a in rows})
    columns: list[list[Any]] = [[] for _ in range(11)]
    pending: dict[str, list[Timer]] = {}
    for a in rows:
        opened = aware(a["opened_at"])
        assert opened is not None
        for stage in STAGES:
            rule = rules(a["request.category"], stage)
            due: Deadlines = {"yellow_due_at": deadline(opened, rule.yellow_hours, rule),
                   "red_due_at": deadline(opened, rule.red_hours, rule), "yellow_lit_at": None, "red_lit_at": None}
            stop = stop_of(stage, a)
            key = f"{a['id']}:{stage}"
            for column, value in zip(columns, (key, a["id"], a["request"], a["unit"], stage, opened, stop,
                                               a["version"], next_due(due, stop), due["yellow_due_at"],
                                               due["red_due_at"]), strict=True):
                column.append(value)
            if stop is None:
                pending[key] = [Timer(a["id"], stage, color, a["version"], due[f"{color}_due_at"]) for color in COLORS]
    # One statement for all clocks; a clock the sweep (or a repeated hook) already made is left as it is.
    async with write_transaction():
        made = await fetch_prepared(_CLOCK_INSERT_SQL, *columns)
    return [t for row in made for t in pending.get(row["key"], [])]


async def sync_stops(request_id: int) -> None:
    """Stop the running clocks of a request whose assignment was accepted, resolved or closed."""
    async with write_transaction():
        clocks = await LightClock.select().where(
            (LightClock.request == request_id) & LightClock.stopped_at.is_null()).order_by(LightClock.id)
        for c in clocks:
            a = await Assignment.select().where(Assignment.id == c["assignment"]).first()
            stop = stop_of(c["stage"], a) if a else None
            if stop is None:
                continue
            reason = "closed"
            if a["accepted_at"] is not None and aware(a["accepted_at"]) == stop:
                reason = "accepted"
            if a["resolved_at"] is not None and aware(a["resolved_at"]) == stop:
                reason = "resolved"
            await LightClock.update({LightClock.stopped_at: stop, LightClock.stop_reason: reason,
                                     LightClock.next_due_at: next_due(c, stop)}).where(LightClock.id == c["id"])


STOPPING_ACTIONS = {"accept", "resolve", "answer", "withdraw", "close"}


async def lights_after_transition(result: TransitionResult) -> None:
    """Clocks start and stop in the change's own transaction; their timers are queued after the commit."""
    if result.closed_assignments or result.action in STOPPING_ACTIONS:
        await sync_stops(result.request_id)
    if result.opened_assignments:
        timers = await start_opened(result)
        if timers:
            await on_commit(partial(schedule, timers))
