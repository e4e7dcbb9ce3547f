"""Red/yellow lights: rules, clocks, flips, explanations and phone calls. No Litestar imports.

The database is the truth and arq is the alarm clock: a clock row holds the deadlines; deferred
jobs and a one-minute sweep both call ``fire``/``sweep``, which flip a light with a conditional
UPDATE, so a job that runs twice, late or never changes nothing more than a job run once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from backend.accounts.service import Viewer
from backend.accounts.tables import Account, Role
from backend.db import aware, fetch_prepared, on_commit, utcnow, write_transaction
from backend.i18n import N_, gettext
from backend.lights.clock import DEFAULT_RULES, RuleSpec, deadline, parse_office_hours
from backend.lights.tables import ClockKind, Explanation, ExplanationStatus, LightClock, LightRule, PhoneCall
from backend.lights.timers import Timer, schedule
from backend.notify.service import Notice, notify_accounts, notify_burst, unit_members
from backend.organisation.service import is_command_center_staff
from backend.organisation.tables import Unit
from backend.requests.service import TransitionResult, record, record_many
from backend.requests.tables import Assignment, AssignmentRole, Request
from backend.routing.service import command_center
from backend.routing.tables import Category

log = logging.getLogger("qungong.lights")
STAGES = ("accept", "resolve")
COLORS = ("yellow", "red")
EXPLANATION_HOURS = 24
MAX_TEXT = 2000
STAGE_LABELS = {"accept": "受理", "resolve": "办结"}
COLOR_LABELS = {"yellow": "黄灯", "red": "红灯"}
CLOCK_LABELS = {"natural": "自然时间", "working": "工作时间（法定工作日）"}


class LightError(Exception):
    """A refused change, with a message for the user and the HTTP status to answer with."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


# ---------------------------------------------------------------- rules


def spec_of(row: dict[str, Any]) -> RuleSpec:
    return RuleSpec(float(row["yellow_hours"]), float(row["red_hours"]), row["clock"], row["office_hours"])


async def rule_for(category_id: int | None, stage: str) -> RuleSpec:
    """The category's own rule, else the stage's default rule, else the seed's defaults."""
    return (await _rules_by_stage({category_id}))(category_id, stage)


async def list_rules() -> list[dict[str, Any]]:
    rows = await LightRule.select(LightRule.all_columns(), LightRule.category.name.as_alias("category_name")).order_by(
        LightRule.stage).order_by(LightRule.id)
    have_default = {r["stage"] for r in rows if r["category"] is None}
    for stage in STAGES:  # the defaults are shown (and editable) even before anyone saved them
        if stage not in have_default:
            d = DEFAULT_RULES[stage]
            rows.append({"id": None, "category": None, "category_name": None, "stage": stage,
                         "yellow_hours": d.yellow_hours, "red_hours": d.red_hours, "clock": d.clock,
                         "office_hours": d.office_hours, "updated_at": None})
    rows.sort(key=lambda r: (r["category"] is not None, r["category_name"] or "", STAGES.index(r["stage"])))
    return rows


def _hours(value: Any, field: str) -> float:
    try:
        hours = float(str(value).strip())
    except (TypeError, ValueError):
        raise LightError("请填写小时数（可以带小数）", field) from None
    if not (0 < hours <= 24 * 365):
        raise LightError("小时数须大于 0 且不超过一年", field)
    return hours


async def save_rule(actor: Viewer, *, category_id: int | None, stage: str, yellow_hours: Any, red_hours: Any,
                    clock: str, office_hours: str) -> int:
    """Create or replace the rule of (category, stage). Refuses red ≤ yellow; nothing changes then."""
    if not actor.is_admin:
        raise LightError("只有管理员可以修改红黄灯规则", status=403)
    if stage not in STAGES:
        raise LightError("请选择环节（受理或办结）", "stage")
    yellow = _hours(yellow_hours, "yellow_hours")
    red = _hours(red_hours, "red_hours")
    if red <= yellow:
        raise LightError("红灯时限必须长于黄灯时限", "red_hours")
    if clock not in {c.value for c in ClockKind}:
        raise LightError("请选择计时方式", "clock")
    office_hours = (office_hours or "").strip() or "09:00-12:00,13:30-17:30"
    try:
        parse_office_hours(office_hours)
    except ValueError as exc:
        raise LightError(str(exc), "office_hours") from None
    if category_id is not None and not await Category.exists().where(Category.id == category_id):
        raise LightError("诉求类别不存在", "category")
    values = {LightRule.yellow_hours: yellow, LightRule.red_hours: red, LightRule.clock: clock,
              LightRule.office_hours: office_hours, LightRule.updated_at: utcnow(), LightRule.updated_by: actor.id}
    async with write_transaction():
        cat_cond = LightRule.category.is_null() if category_id is None else LightRule.category == category_id
        existing = await LightRule.select(LightRule.id).where(cat_cond & (LightRule.stage == stage)).first()
        if existing:
            await LightRule.update(values).where(LightRule.id == existing["id"])
            return existing["id"]
        row = LightRule(category=category_id, stage=stage, yellow_hours=yellow, red_hours=red, clock=clock,
                        office_hours=office_hours, updated_by=actor.id)
        await row.save()
        return row.id


async def delete_rule(actor: Viewer, rule_id: int) -> None:
    if not actor.is_admin:
        raise LightError("只有管理员可以修改红黄灯规则", status=403)
    await LightRule.delete().where((LightRule.id == rule_id) & LightRule.category.is_not_null())


# ---------------------------------------------------------------- clocks


def _min(*values: datetime | None) -> datetime | None:
    present = [aware(v) for v in values if v is not None]
    return min(present) if present else None  # type: ignore[type-var]


def stop_of(stage: str, a: dict[str, Any]) -> datetime | None:
    """When the assignment stopped this stage's clock: accepting stops 'accept', resolving stops both,
    closing (escalation, transfer, return, withdrawal) stops both."""
    if stage == "accept":
        return _min(a["accepted_at"], a["resolved_at"], a["closed_at"])
    return _min(a["resolved_at"], a["closed_at"])


def next_due(clock: dict[str, Any], stop: datetime | None) -> datetime | None:
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
_RULES_SQL = ("SELECT category, stage, yellow_hours, red_hours, clock, office_hours FROM light_rule "
              "WHERE category IS NULL OR category = ANY($1::int[])")
_CLOCK_INSERT_SQL = (
    "INSERT INTO light_clock (key, assignment, request, unit, stage, started_at, stopped_at, version, next_due_at, "
    "yellow_due_at, red_due_at, stop_reason) SELECT *, '' FROM unnest($1::varchar[], $2::int[], $3::int[], "
    "$4::int[], $5::varchar[], $6::timestamptz[], $7::timestamptz[], $8::int[], $9::timestamptz[], "
    "$10::timestamptz[], $11::timestamptz[]) ON CONFLICT (key) DO NOTHING RETURNING key")


async def start_clocks(assignment_ids: list[int]) -> list[Timer]:
    """Create both stages' clocks for these assignments if they are open leads; return the timers to schedule."""
    if not assignment_ids:
        return []
    rows = [dict(zip(("id", "request", "unit", "opened_at", "version", "accepted_at", "resolved_at", "closed_at",
                      "request.category"), r, strict=True))
            for r in await fetch_prepared(_CLOCK_START_SQL, list(assignment_ids), AssignmentRole.lead.value)]
    if not rows:
        return []
    rules = await _rules_by_stage({a["request.category"] for a in rows})
    columns: list[list[Any]] = [[] for _ in range(11)]
    pending: dict[str, list[Timer]] = {}
    for a in rows:
        opened = aware(a["opened_at"])
        assert opened is not None
        for stage in STAGES:
            rule = rules(a["request.category"], stage)
            due = {"yellow_due_at": deadline(opened, rule.yellow_hours, rule),
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


async def _rules_by_stage(category_ids: set[int | None]) -> Any:
    """One query for the rules of these categories (and the defaults); returns rule(category, stage)."""
    rows = await fetch_prepared(_RULES_SQL, [c for c in category_ids if c is not None])
    found = {(r["category"], r["stage"]): r for r in rows}

    def rule(category_id: int | None, stage: str) -> RuleSpec:
        row = found.get((category_id, stage)) or found.get((None, stage))
        return spec_of(row) if row else DEFAULT_RULES[stage]

    return rule


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


@dataclass
class Flip:
    clock_id: int
    assignment_id: int
    request_id: int
    unit_id: int
    stage: str
    color: str
    explanation_id: int | None = None


_A_COLS = ("accepted_at", "resolved_at", "closed_at")


def _clock_query() -> Any:
    """Clock rows with their assignment's stop times, in one query."""
    return LightClock.select(LightClock.all_columns(), *(
        getattr(LightClock.assignment, c).as_alias(f"a_{c}") for c in _A_COLS))


async def _flip(clock: dict[str, Any], upto: str, version: int | None, now: datetime,
                events: list[dict[str, Any]]) -> list[Flip]:
    """Inside a write transaction: light what is due on this clock, up to ``upto``, exactly once.

    ``clock`` comes from ``_clock_query()`` (the assignment's stop times are re-read with it, so a
    stop whose transition hook never ran still counts)."""
    if version is not None and clock["version"] != version:
        return []  # a timer of an older schedule: a no-op
    stop = _min(clock["stopped_at"], stop_of(clock["stage"], {c: clock[f"a_{c}"] for c in _A_COLS}))
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
    seen = await LightClock.select(LightClock.version, getattr(LightClock, f"{color}_lit_at"),
                                   LightClock.next_due_at).where(LightClock.key == key).first()
    if (seen is None or seen["version"] != version or seen[f"{color}_lit_at"] is not None
            or seen["next_due_at"] is None or aware(seen["next_due_at"]) > now):
        return []
    async with write_transaction():
        await _serialize_flips(wait=not retry_when_busy)
        clock = await _clock_query().where(LightClock.key == key).first()
        events: list[dict[str, Any]] = []
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


async def _flip_due(now: datetime, limit: int, events: list[dict[str, Any]]) -> list[Flip]:
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
            events: list[dict[str, Any]] = []
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
            events: list[dict[str, Any]] = []
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


def _notice(ids: Iterable[int | None], key: str, body_key: str, url: str, kind: str, params: dict[str, str]) -> Notice:
    """A light's notice, stored as its key and fields (and the Chinese text, for pushes and old readers)."""
    return Notice(tuple(ids), key.format(**params), body_key.format(**params), url, kind, key,
                  tuple((params | {"body_key": body_key}).items()))


async def announce(flips: list[Flip]) -> None:
    """After the commit: tell the responsible unit and person; red also tells the command center and the
    unit head. One INSERT for the whole batch; one push per recipient group."""
    if not flips:
        return
    try:
        codes = {r["id"]: r["code"] for r in await Request.select(Request.id, Request.code).where(
            Request.id.is_in([f.request_id for f in flips]))}
        persons = {r["id"]: r["person"] for r in await Assignment.select(Assignment.id, Assignment.person).where(
            Assignment.id.is_in([f.assignment_id for f in flips]))}
        members: dict[tuple[int, str], list[int]] = {}

        async def of(unit_id: int, *roles: Role) -> list[int]:
            key = (unit_id, ",".join(roles))
            if key not in members:
                members[key] = await unit_members(unit_id, *roles)
            return members[key]

        cc_id = (await command_center()).id if any(f.color == "red" for f in flips) else None
        # Stored as a key and its fields: each reader sees the notice in their own language (notify.render).
        notices: list[Notice] = []
        for f in flips:
            params = {"code": codes.get(f.request_id, ""), "color_label": COLOR_LABELS[f.color],
                      "stage_label": STAGE_LABELS[f.stage], "hours": str(EXPLANATION_HOURS)}
            title = N_("{color_label}：诉求 {code} 超过{stage_label}时限")
            notices.append(_notice([*await of(f.unit_id), persons.get(f.assignment_id)], title, N_("请尽快处理"),
                                   "/staff", "light", params))
            if f.color == "red" and cc_id is not None:
                notices.append(_notice(await of(cc_id), title, N_("请电话督办责任单位"), "/cc/lights", "light", params))
                notices.append(_notice(await of(f.unit_id, Role.unit_head), N_("请提交书面说明：诉求 {code} 亮红灯"),
                                       N_("请在 {hours} 小时内说明原因、已采取的措施和承诺办结时间"),
                                       f"/lights/explanations/{f.explanation_id}", "explanation", params))
        await notify_burst(notices, summary="{n} 条红黄灯提醒")
    except Exception:  # a notification never undoes a light
        log.exception("light notifications failed for %d flips", len(flips))


# ---------------------------------------------------------------- transition hook

STOPPING_ACTIONS = {"accept", "resolve", "answer", "withdraw", "close"}


async def lights_after_transition(result: TransitionResult) -> None:
    """Clocks start and stop in the change's own transaction; their timers are queued after the commit."""
    if result.closed_assignments or result.action in STOPPING_ACTIONS:
        await sync_stops(result.request_id)
    if result.opened_assignments:
        timers = await start_clocks(result.opened_assignments)
        if timers:
            await on_commit(partial(schedule, timers))


# ---------------------------------------------------------------- board


async def board(now: datetime | None = None) -> list[dict[str, Any]]:
    """Every request with a lit light on its current lead: red before yellow, then longest lit first."""
    now = now or utcnow()
    rows = await LightClock.select(
        LightClock.id, LightClock.request, LightClock.stage, LightClock.yellow_lit_at, LightClock.red_lit_at,
        LightClock.assignment, LightClock.unit, LightClock.unit.name.as_alias("unit_name"),
        LightClock.request.code.as_alias("code"), LightClock.request.status.as_alias("status"),
        LightClock.request.category.name.as_alias("category_name"),
        LightClock.assignment.person.name.as_alias("person_name"),
        LightClock.assignment.accepted_at.as_alias("a_accepted"), LightClock.assignment.resolved_at.as_alias(
            "a_resolved"), LightClock.assignment.closed_at.as_alias("a_closed"),
    ).where(LightClock.yellow_lit_at.is_not_null() & LightClock.stopped_at.is_null()
            & (LightClock.assignment.is_open == True))
    best: dict[int, dict[str, Any]] = {}
    for r in rows:
        a = {"accepted_at": r["a_accepted"], "resolved_at": r["a_resolved"], "closed_at": r["a_closed"]}
        if stop_of(r["stage"], a) is not None:
            continue
        color = "red" if r["red_lit_at"] else "yellow"
        lit = aware(r["red_lit_at"] or r["yellow_lit_at"])
        item = r | {"color": color, "lit_at": lit, "lit_seconds": int((now - lit).total_seconds()),
                    "severity": 2 if color == "red" else 1}
        old = best.get(r["request"])
        if old is None or (item["severity"], item["lit_seconds"]) > (old["severity"], old["lit_seconds"]):
            best[r["request"]] = item
    return sorted(best.values(), key=lambda i: (-i["severity"], -i["lit_seconds"]))


def duration_label(seconds: int) -> str:
    """How long a light has been on, in the reader's language (called while the page renders)."""
    if seconds < 3600:
        return gettext("{m} 分钟").format(m=max(seconds, 0) // 60)
    if seconds < 86400:
        return gettext("{h} 小时 {m} 分").format(h=seconds // 3600, m=seconds % 3600 // 60)
    return gettext("{d} 天 {h} 小时").format(d=seconds // 86400, h=seconds % 86400 // 3600)


# ---------------------------------------------------------------- explanations


def is_head_of(viewer: Viewer | None, unit_id: int) -> bool:
    return viewer is not None and viewer.is_staff and any(
        m.unit_id == unit_id and m.role == Role.unit_head.value for m in viewer.memberships)


async def explanation(expl_id: int) -> dict[str, Any] | None:
    return await Explanation.select(
        Explanation.all_columns(), Explanation.unit.name.as_alias("unit_name"),
        Explanation.request.code.as_alias("code"), Explanation.request.description.as_alias("description"),
        Explanation.clock.stage.as_alias("stage"), Explanation.clock.red_lit_at.as_alias("red_lit_at"),
        Explanation.submitted_by.name.as_alias("submitted_by_name"),
        Explanation.reviewed_by.name.as_alias("reviewed_by_name"),
    ).where(Explanation.id == expl_id).first()


async def explanations_for(viewer: Viewer) -> dict[str, list[dict[str, Any]]]:
    """The head's tasks (open or sent back first) and, for the command center, those awaiting review."""
    cols = (Explanation.all_columns(), Explanation.unit.name.as_alias("unit_name"),
            Explanation.request.code.as_alias("code"), Explanation.clock.stage.as_alias("stage"))
    head_units = list(viewer.unit_ids(Role.unit_head))
    mine = await Explanation.select(*cols).where(Explanation.unit.is_in(head_units or [0])).order_by(
        Explanation.id, ascending=False).limit(200)
    review: list[dict[str, Any]] = []
    recent: list[dict[str, Any]] = []
    if is_command_center_staff(viewer):
        review = await Explanation.select(*cols).where(
            Explanation.status == ExplanationStatus.submitted.value).order_by(Explanation.submitted_at)
        recent = await Explanation.select(*cols).where(
            Explanation.status != ExplanationStatus.submitted.value).order_by(Explanation.id, ascending=False).limit(50)
    todo = [e for e in mine if e["status"] in ("open", "returned")]
    done = [e for e in mine if e["status"] not in ("open", "returned")]
    return {"todo": todo, "done": done, "review": review, "recent": recent}


def _text(value: Any, field: str, message: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise LightError(message, field)
    if len(text) > MAX_TEXT:
        raise LightError(f"不能超过 {MAX_TEXT} 字", field)
    return text


async def submit_explanation(expl_id: int, viewer: Viewer, *, reason: Any, measures: Any,
                             promised_at: datetime | None, now: datetime | None = None) -> None:
    """The unit head explains a red light. Refused (nothing written) for anyone else, after review, or empty."""
    now = now or utcnow()
    reason_t = _text(reason, "reason", "请填写超时原因")
    measures_t = _text(measures, "measures", "请填写已采取的措施")
    if promised_at is None:
        raise LightError("请填写承诺办结时间", "promised_at")
    if aware(promised_at) <= now:  # type: ignore[operator]
        raise LightError("承诺办结时间须晚于现在", "promised_at")
    async with write_transaction():
        ex = await Explanation.select().where(Explanation.id == expl_id).first()
        if ex is None:
            raise LightError("说明任务不存在", status=404)
        if not is_head_of(viewer, ex["unit"]):
            raise LightError("只有责任单位的负责人可以提交书面说明", status=403)
        if ex["status"] not in (ExplanationStatus.open.value, ExplanationStatus.returned.value):
            raise LightError("该说明已提交或已审核，不能再修改", status=409)
        first = aware(ex["first_submitted_at"]) or now
        late = first > aware(ex["due_at"])  # type: ignore[operator]
        done = await Explanation.update({
            Explanation.reason: reason_t, Explanation.measures: measures_t, Explanation.promised_at: promised_at,
            Explanation.status: ExplanationStatus.submitted.value, Explanation.submitted_at: now,
            Explanation.first_submitted_at: first, Explanation.submitted_by: viewer.id, Explanation.late: late,
            Explanation.version: ex["version"] + 1,
        }).where((Explanation.id == expl_id) & (Explanation.version == ex["version"])).returning(Explanation.id)
        if not done:
            raise LightError("该说明刚刚被他人更新，请刷新后再试", status=409)
        await record(ex["request"], "explanation", actor=viewer, note=reason_t, assignment_id=ex["assignment"],
                     data={"explanation": expl_id, "late": late}, is_public=False, now=now)


async def review_explanation(expl_id: int, viewer: Viewer, *, decision: str, comment: Any,
                             now: datetime | None = None) -> None:
    now = now or utcnow()
    if not is_command_center_staff(viewer):
        raise LightError("只有指挥中心可以审核书面说明", status=403)
    if decision not in ("accept", "return"):
        raise LightError("请选择通过或退回", "decision")
    comment_t = str(comment or "").strip()
    if decision == "return" and not comment_t:
        raise LightError("退回时请填写意见", "comment")
    if len(comment_t) > MAX_TEXT:
        raise LightError(f"不能超过 {MAX_TEXT} 字", "comment")
    status = ExplanationStatus.accepted.value if decision == "accept" else ExplanationStatus.returned.value
    async with write_transaction():
        ex = await Explanation.select().where(Explanation.id == expl_id).first()
        if ex is None:
            raise LightError("说明任务不存在", status=404)
        done = await Explanation.update({
            Explanation.status: status, Explanation.review_comment: comment_t, Explanation.reviewed_at: now,
            Explanation.reviewed_by: viewer.id, Explanation.version: ex["version"] + 1,
        }).where((Explanation.id == expl_id) & (Explanation.status == ExplanationStatus.submitted.value)
                 ).returning(Explanation.id)
        if not done:
            raise LightError("该说明当前不在待审核状态", status=409)
        await record(ex["request"], "explanation_review", actor=viewer, note=comment_t,
                     assignment_id=ex["assignment"], data={"explanation": expl_id, "decision": decision},
                     is_public=False, now=now)
    if decision == "return":
        heads = await unit_members(ex["unit"], Role.unit_head)
        await notify_accounts(heads, "", comment_t, f"/lights/explanations/{expl_id}", kind="explanation",
                              key=N_("书面说明被退回，请补充"))


async def log_call(expl_id: int, viewer: Viewer, *, called_at: datetime | None, callee: Any, outcome: Any,
                   now: datetime | None = None) -> int:
    now = now or utcnow()
    if not is_command_center_staff(viewer):
        raise LightError("只有指挥中心可以登记督办电话", status=403)
    if called_at is None:
        raise LightError("请填写通话时间", "called_at")
    if aware(called_at) > now + timedelta(minutes=5):  # type: ignore[operator]
        raise LightError("通话时间不能晚于现在", "called_at")
    callee_t = _text(callee, "callee", "请填写接听人")[:100]
    outcome_t = _text(outcome, "outcome", "请填写通话结果")
    async with write_transaction():
        ex = await Explanation.select().where(Explanation.id == expl_id).first()
        if ex is None:
            raise LightError("说明任务不存在", status=404)
        call = PhoneCall(explanation=expl_id, called_at=called_at, callee=callee_t, outcome=outcome_t,
                         logged_by=viewer.id, created_at=now)
        await call.save()
        await record(ex["request"], "phone_call", actor=viewer, note=outcome_t, assignment_id=ex["assignment"],
                     data={"explanation": expl_id, "callee": callee_t}, is_public=False, now=now)
    return call.id


async def calls_of(expl_id: int) -> list[dict[str, Any]]:
    return await PhoneCall.select(PhoneCall.all_columns(), PhoneCall.logged_by.name.as_alias("logged_by_name")).where(
        PhoneCall.explanation == expl_id).order_by(PhoneCall.called_at)


async def unit_name(unit_id: int) -> str:
    row = await Unit.select(Unit.name).where(Unit.id == unit_id).first()
    return row["name"] if row else ""


async def account_name(account_id: int | None) -> str:
    if not account_id:
        return ""
    row = await Account.select(Account.name).where(Account.id == account_id).first()
    return row["name"] if row else ""
