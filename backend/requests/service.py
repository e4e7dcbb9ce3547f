"""The one place where a request changes state.

``transition()`` checks the transition, the actor's right to make it and the version, writes the
event and the assignments in the same transaction, and runs the hooks (clocks, notices) in it. ``submit()``
creates a request with its first assignment and event atomically. No Litestar imports.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import fetch_prepared, utcnow, write_transaction
from backend.errors import DomainError
from backend.i18n import N_
from backend.organisation.service import is_command_center_staff
from backend.organisation.tables import Unit, UnitKind
from backend.requests.hooks import run_hooks
from backend.requests.tables import (
    OPEN_STATUSES,
    Assignment,
    AssignmentRole,
    Event,
    Kind,
    Request,
    Source,
    Status,
)
from backend.routing.service import (
    Placement,
    command_center,
    designated_person,
    escalation_target,
    initial_placement,
    member_of,
)
from backend.routing.tables import Category
from backend.settings import get_settings

# Roles that handle requests (assessors and admins watch, they do not handle).
HANDLING_ROLES = {
    Role.grid_worker.value,
    Role.community_staff.value,
    Role.street_staff.value,
    Role.dispatcher.value,
    Role.department_staff.value,
    Role.unit_head.value,
}
MAX_DESCRIPTION = 2000
MAX_NOTE = 2000


class RequestError(DomainError):
    """A refused change. ``status`` is the HTTP status a controller should answer with."""


class NotAllowed(RequestError):
    status = 403


class InvalidState(RequestError):
    status = 409


class StaleVersion(RequestError):
    """Someone else changed the request first: show the new state instead of overwriting it."""

    status = 409

    def __init__(self, current_version: int, current_status: str) -> None:
        super().__init__(N_("该诉求刚刚被他人更新，请查看最新状态后再操作"))
        self.current_version = current_version
        self.current_status = current_status


@dataclass
class TransitionResult:
    request_id: int
    action: str
    from_status: str
    to_status: str
    version: int
    event_id: int
    opened_assignments: list[int] = field(default_factory=list)
    closed_assignments: list[int] = field(default_factory=list)
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Facts of the request the hooks need, so they need not read them again.
    code: str = ""
    reporter: int | None = None


# Called inside the transaction with the new event's id, e.g. to attach photos atomically.
EventAttach = Callable[[int, int], Awaitable[None]]  # (request_id, event_id)


# ---------------------------------------------------------------- who may do what


async def unit_path(unit_id: int | None) -> str:
    if unit_id is None:
        return "/-/"
    row = await Unit.select(Unit.path).where(Unit.id == unit_id).first()
    return row["path"] if row else "/-/"


def handles_unit(viewer: Viewer, path: str) -> bool:
    """The viewer handles work for this unit: a handling membership on it or above it."""
    return any(path.startswith(m.unit_path) for m in viewer.memberships if m.role in HANDLING_ROLES)


async def can_act_on_assignment(viewer: Viewer | None, assignment: dict[str, Any]) -> bool:
    if viewer is None or not viewer.is_staff:
        return False
    if assignment["person"] == viewer.id:
        return True
    return handles_unit(viewer, await unit_path(assignment["unit"]))


async def can_view(viewer: Viewer | None, req: dict[str, Any]) -> bool:
    """Residents see their own requests in full; staff see those in their scope or ever assigned to them."""
    if viewer is None:
        return False
    if viewer.is_resident:
        return req["reporter"] == viewer.id
    if not viewer.is_staff:
        return False
    if viewer.has_role(Role.dispatcher, Role.assessor, Role.admin):
        return True
    for unit_id in (req["current_unit"], req["community"], req["grid"], req["street"]):
        if unit_id and viewer.covers(await unit_path(unit_id)):
            return True
    rows = await Assignment.select(Assignment.unit, Assignment.person).where(Assignment.request == req["id"])
    for a in rows:
        if a["person"] == viewer.id or viewer.covers(await unit_path(a["unit"])):
            return True
    return False


# ---------------------------------------------------------------- submit

# The request, its lead assignment and its first event in one statement (issue 22: three Piccolo inserts
# cost more to build than to run, and a round trip each). A constant text: asyncpg prepares it once per
# connection and reuses it.
_INSERT_SUBMISSION = """
WITH req AS (
  INSERT INTO request (code, kind, category, description, is_public, source, reporter, filed_by, contact_name,
    contact_phone, address, lat, lon, street, community, grid, status, current_unit, current_person, level, urgent,
    answer, close_reason, version, idempotency_key, attributes, created_at, updated_at)
  VALUES ($1::varchar, $2::varchar, $3::int, $4::text, $5::bool, $6::varchar, $7::int, $8::int, $9::varchar,
    $10::varchar, $11::varchar, $12::float8, $13::float8, $14::int, $15::int, $16::int, $17::varchar, $18::int,
    $19::int, $20::varchar, false, '', '', 1, $21::varchar, $22::jsonb, $23::timestamptz, $23::timestamptz)
  RETURNING id, code
), asg AS (
  INSERT INTO assignment (request, unit, person, role, level, is_open, opened_at, close_reason, version)
  SELECT req.id, $18::int, $19::int, 'lead', $20::varchar, true, $23::timestamptz, '', 1 FROM req
  RETURNING id, request
), ev AS (
  INSERT INTO event (request, assignment, actor, actor_role, action, from_status, to_status, unit, person, note,
    is_public, data, created_at)
  SELECT asg.request, asg.id, $24::int, $25::varchar, 'submit', '', $17::varchar, $18::int, $19::int, '', true,
    $26::json, $23::timestamptz FROM asg
  RETURNING id
)
SELECT req.id, req.code, asg.id, ev.id FROM req, asg, ev
"""
# The daily number: the counter row is locked only for this one statement (it commits at once), where a
# lock held until the submission's commit made every submission of every web process wait in line. A day's
# first number continues from the codes already there (codes are ASCII: ':' sorts right after the digits).
_NEXT_NUMBER = "UPDATE tracking_counter SET last = last + 1 WHERE prefix = $1 RETURNING last"
_FIRST_NUMBER = """
INSERT INTO tracking_counter (prefix, last)
SELECT $1::varchar, coalesce(substr(max(code), length($1::text) + 1)::int, 0) + 1 FROM request
WHERE code > $1::text AND code < $1::text || ':'
ON CONFLICT (prefix) DO UPDATE SET last = tracking_counter.last + 1 RETURNING last
"""


async def _take_code(now: datetime) -> str:
    """YZ + yymmdd (Beijing date) + a 4-digit daily number, e.g. YZ2611240017; outside the submission's
    transaction (inside it only when the caller holds one open)."""
    settings = get_settings()
    prefix = settings.tracking_prefix + now.astimezone(ZoneInfo(settings.timezone)).strftime("%y%m%d")
    rows = await fetch_prepared(_NEXT_NUMBER, prefix) or await fetch_prepared(_FIRST_NUMBER, prefix)
    return f"{prefix}{rows[0][0]:04d}"


async def _insert_submission(code: str, data: NewRequest, reporter: Viewer | None, filed_by: Viewer | None,
                             actor: Viewer | None, category: Category, community: Unit, grid_id: int | None,
                             placement: Placement, now: datetime) -> tuple[Request, int, int]:
    """Inside submit()'s transaction: returns (the request, its lead assignment's id, its event's id)."""
    values = {
        "kind": data.kind, "category": category.id, "description": data.description.strip(),
        "is_public": data.is_public, "source": data.source,
        "reporter": reporter.id if reporter and reporter.is_resident else None,
        "filed_by": filed_by.id if filed_by else None, "contact_name": data.contact_name.strip()[:50],
        "contact_phone": (data.contact_phone or (reporter.phone if reporter else "") or "")[:20],
        "address": data.address.strip(), "lat": data.lat, "lon": data.lon, "street": community.parent,
        "community": community.id, "grid": grid_id, "status": Status.assigned.value,
        "current_unit": placement.unit_id, "current_person": placement.person_id, "level": placement.level,
        "idempotency_key": data.idempotency_key,
    }
    role = ""
    if actor is not None:
        role = actor.memberships[0].role if actor.is_staff else "resident"
    row, = await fetch_prepared(
        _INSERT_SUBMISSION, code, *values.values(), json.dumps(data.attributes, ensure_ascii=False), now,
        actor.id if actor else None, role, json.dumps({"source": data.source, "level": placement.level}))
    req = Request(_exists_in_db=True, id=row[0], code=row[1], version=1, attributes=data.attributes,
                  created_at=now, updated_at=now, **values)
    return req, row[2], row[3]



@dataclass
class NewRequest:
    kind: str
    category_id: int
    description: str
    community_id: int | None
    grid_id: int | None = None
    street_id: int | None = None
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    is_public: bool = True
    source: str = Source.resident.value
    contact_name: str = ""
    contact_phone: str = ""
    idempotency_key: str | None = None
    # Answers to the category's extra questions, already checked by backend.routing.attributes.validate()
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckedRequest:
    """A new request that ``check_new`` accepted, with the category and place it looked up (once)."""

    data: NewRequest
    category: Category
    community: Unit
    grid_id: int | None


async def check_new(data: NewRequest) -> CheckedRequest:
    """Validate a new request, the one place that does: every field error at once (``RequestError.fields``,
    field → message id), the category and the community looked up once and returned for ``submit()``."""
    errors: dict[str, str] = {}
    if data.kind not in {k.value for k in Kind}:
        errors["kind"] = N_("请选择诉求类型")
    text = (data.description or "").strip()
    if not text:
        errors["description"] = N_("请描述您反映的问题")
    elif len(text) > MAX_DESCRIPTION:
        errors["description"] = N_("描述不能超过 {max} 字（当前 {n} 字）")
    if len(data.address) > 200:
        errors["address"] = N_("地址不能超过 200 字")
    if data.idempotency_key is not None and not (8 <= len(data.idempotency_key) <= 64):
        errors["idempotency_key"] = N_("表单已失效，请刷新后重新提交")
    # Only the columns placement needs (building a full-row query costs more than running it).
    found = await Category.select(Category.id, Category.default_level).where(
        (Category.id == (data.category_id or 0)) & (Category.active == True)).first() if data.category_id else None
    if found is None:
        errors["category"] = N_("请选择有效的诉求类别")
    category = Category(_ignore_missing=True, **(found or {}))
    community = Unit(_ignore_missing=True)
    grid_id = data.grid_id
    if data.community_id is None:
        errors["community"] = N_("请选择所在社区或使用定位")
    else:
        place = await Unit.select(Unit.id, Unit.parent).where(
            (Unit.id == data.community_id) & (Unit.kind == UnitKind.community.value)).first()
        if place is None:
            errors["community"] = N_("所选社区不存在")
        else:
            community = Unit(_ignore_missing=True, **place)
            if grid_id is not None:
                if not await Unit.exists().where((Unit.id == grid_id) & (Unit.parent == community.id)):
                    errors["grid"] = N_("所选网格不属于该社区")
            else:
                from backend.routing.service import default_grid

                grid_id = await default_grid(community.id)
    if errors:
        field_name, message = next(iter(errors.items()))
        raise RequestError(message, field_name, fields=errors, max=MAX_DESCRIPTION, n=len(text))
    return CheckedRequest(data, category, community, grid_id)


async def find_by_idempotency_key(key: str | None) -> Request | None:
    if not key:
        return None
    # Nearly always absent: ask for the id alone first (a full-row query costs more to build than to run).
    found = await Request.select(Request.id).where(Request.idempotency_key == key).first()
    if found is None:
        return None
    return await Request.objects().where(Request.id == found["id"]).first()


async def submit(
    data: NewRequest | CheckedRequest,
    reporter: Viewer | None,
    *,
    filed_by: Viewer | None = None,
    attach: EventAttach | None = None,
    now: datetime | None = None,
) -> tuple[Request, bool]:
    """Create a request, its first assignment and its first event in one transaction.

    Returns (request, created). A repeated idempotency key returns the first request, created=False.
    ``data`` is checked by ``check_new`` (RequestError with every field error), unless it already was.
    """
    checked = data if isinstance(data, CheckedRequest) else await check_new(data)  # every field error at once
    data = checked.data
    now = now or utcnow()
    for attempt in range(5):
        try:
            # The writes share one transaction (check_new looked the place up before it). A repeated
            # idempotency key is caught by its unique index (below), not by a query on every submission.
            code = await _take_code(now)
            async with write_transaction():
                category, community, grid_id = checked.category, checked.community, checked.grid_id
                placement = await initial_placement(category, community, grid_id)
                actor = filed_by or reporter
                req, assignment, event_id = await _insert_submission(code, data, reporter, filed_by, actor,
                                                                     category, community, grid_id, placement, now)
                if attach is not None:
                    await attach(req.id, event_id)
                await run_hooks(TransitionResult(
                    req.id, "submit", "", Status.assigned.value, 1, event_id, opened_assignments=[assignment],
                    actor_id=actor.id if actor else None, code=req.code, reporter=req.reporter))
            break
        except Exception as exc:  # the same key submitted before, or the same daily code taken (PostgreSQL): retry
            if _is_unique_violation(exc) and attempt < 4:
                again = await find_by_idempotency_key(data.idempotency_key)
                if again is not None:
                    return again, False
                continue
            raise
    return req, True


def _is_unique_violation(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "unique" in text or "duplicate" in text


async def _open_assignment(request_id: int, placement: Placement, role: str, now: datetime) -> int:
    a = Assignment(request=request_id, unit=placement.unit_id, person=placement.person_id, role=role,
                   level=placement.level, is_open=True, opened_at=now, version=1)
    await a.save()
    return a.id


async def _write_event(
    request_id: int, *, assignment_id: int | None, actor: Viewer | None, action: str, from_status: str,
    to_status: str, unit_id: int | None, person_id: int | None, note: str, now: datetime,
    data: dict[str, Any] | None = None, is_public: bool = True,
) -> int:
    role = ""
    if actor is not None:
        role = actor.memberships[0].role if actor.is_staff else "resident"
    ev = Event(request=request_id, assignment=assignment_id, actor=actor.id if actor else None, actor_role=role,
               action=action, from_status=from_status, to_status=to_status, unit=unit_id, person=person_id,
               note=note, is_public=is_public, data=data or {}, created_at=now)
    await ev.save()
    return ev.id


# ---------------------------------------------------------------- transitions


@dataclass(frozen=True)
class Rule:
    from_statuses: frozenset[str]
    who: str  # "lead" | "handler" (lead or assist) | "reporter" | "dispatcher" | "system_or_reporter"
    needs_note: str | None = None  # message when a note/reason is required and missing


RULES: dict[str, Rule] = {
    "accept": Rule(frozenset({Status.assigned}), "lead"),
    "progress": Rule(frozenset({Status.assigned, Status.accepted}), "handler", N_("请填写进展说明")),
    "resolve": Rule(frozenset({Status.accepted}), "lead", N_("请填写办理结果")),
    "answer": Rule(frozenset({Status.assigned, Status.accepted}), "lead", N_("请填写答复内容")),
    "return": Rule(frozenset({Status.assigned, Status.accepted}), "lead", N_("退回必须填写理由")),
    "escalate": Rule(frozenset({Status.assigned, Status.accepted}), "lead", N_("上报必须填写理由")),
    "dispatch": Rule(frozenset({Status.assigned, Status.accepted, Status.returned}), "dispatcher"),
    "assist_report": Rule(frozenset({Status.assigned, Status.accepted}), "assist", N_("请填写协办情况")),
    "close_assist": Rule(frozenset({Status.assigned, Status.accepted, Status.returned}), "dispatcher"),
    "withdraw": Rule(frozenset({Status.submitted, Status.assigned}), "reporter"),
    "comment": Rule(frozenset({*OPEN_STATUSES, Status.resolved}), "reporter", N_("请填写补充内容")),
    "reopen": Rule(frozenset({Status.resolved}), "system_or_reporter"),
    "close": Rule(frozenset({Status.resolved}), "system_or_reporter"),
    # The same problem reported twice: closes with a link to the original (issue 17, backend/maps).
    "mark_duplicate": Rule(frozenset(OPEN_STATUSES), "handler_or_dispatcher", N_("请填写判定重复的理由")),
}

# Actions whose note is an internal instruction or reason: shown to staff only unless marked public.
INTERNAL_NOTE_ACTIONS = frozenset({"escalate", "dispatch", "return"})

ACTION_LABELS = {
    "submit": "提交诉求",
    "accept": "受理",
    "progress": "办理进展",
    "resolve": "办结",
    "answer": "答复",
    "return": "退回",
    "escalate": "上报",
    "dispatch": "派单",
    "assist_report": "协办反馈",
    "close_assist": "结束协办",
    "withdraw": "撤回",
    "comment": "补充说明",
    "reopen": "重新办理",
    "close": "结案",
    "rate": "满意度评价",  # a record() event written by backend/ratings
    "supporter_rate": "关注者评价",  # a supporter's rating (issue 17): no state change
    "light": "红黄灯",  # record() events of backend/lights
    "explanation": "书面说明",
    "explanation_review": "审核书面说明",
    "phone_call": "督办电话",
    "mark_duplicate": "合并为重复诉求",
}
STATUS_LABELS = {
    "submitted": "已提交",
    "assigned": "待受理",
    "accepted": "办理中",
    "resolved": "已办结",
    "returned": "已退回待派单",
    "closed": "已结案",
    "withdrawn": "已撤回",
    "duplicate": "重复诉求（已合并）",
}


async def open_lead(request_id: int) -> dict[str, Any] | None:
    return await Assignment.select().where(
        (Assignment.request == request_id) & (Assignment.role == AssignmentRole.lead.value)
        & (Assignment.is_open == True)
    ).first()


async def _close_assignment(assignment_id: int, now: datetime, reason: str, **extra: Any) -> None:
    values: dict[Any, Any] = {Assignment.is_open: False, Assignment.closed_at: now, Assignment.close_reason: reason}
    for key, value in extra.items():
        values[getattr(Assignment, key)] = value
    await Assignment.update(values).where(Assignment.id == assignment_id)


async def transition(
    request_id: int,
    action: str,
    actor: Viewer | None,
    expected_version: int | None,
    *,
    note: str = "",
    lead_unit_id: int | None = None,
    lead_person_id: int | None = None,
    assist_unit_ids: Sequence[int] = (),
    assignment_id: int | None = None,
    data: dict[str, Any] | None = None,
    attach: EventAttach | None = None,
    prepare: Callable[[int], Awaitable[None]] | None = None,
    note_public: bool | None = None,
    now: datetime | None = None,
) -> TransitionResult:
    """Apply ``action`` to a request. ``actor=None`` is the system (timers), allowed only where the rule says.

    ``prepare(request_id)`` runs in the transaction after the checks and before the change's event is
    written (a rating's own event comes before the close or reopen it causes). ``note_public``: whether
    the resident sees the note; internal actions (escalation reasons, dispatch instructions, returns)
    keep their note staff-only unless the author publishes it.

    Raises RequestError subclasses; on any refusal nothing is written.
    """
    rule = RULES.get(action)
    if rule is None:
        raise RequestError(N_("未知的操作"))
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise RequestError(N_("说明不能超过 {max} 字"), "note", max=MAX_NOTE)
    if rule.needs_note and not note:
        raise RequestError(rule.needs_note, "note")
    now = now or utcnow()
    opened: list[int] = []
    closed: list[int] = []
    async with write_transaction():
        req = await Request.select().where(Request.id == request_id).first()
        if req is None:
            raise RequestError(N_("诉求不存在"))
        if expected_version is not None and req["version"] != expected_version:
            raise StaleVersion(req["version"], req["status"])
        if req["status"] not in rule.from_statuses:
            raise InvalidState(N_("当前状态（{state}）不能{action}"),
                               state=STATUS_LABELS.get(req["status"], req["status"]), action=ACTION_LABELS[action])
        lead = await open_lead(request_id)
        await _check_actor(rule, action, actor, req, lead, assignment_id)
        if prepare is not None:
            await prepare(request_id)
        from_status = req["status"]
        to_status = from_status
        unit_id, person_id = req["current_unit"], req["current_person"]
        values: dict[Any, Any] = {}
        event_assignment = lead["id"] if lead else None
        event_data = dict(data or {})
        if note and action in INTERNAL_NOTE_ACTIONS and not note_public:
            event_data["note_internal"] = True  # the step is public, its note stays with the staff

        if action == "accept":
            to_status = Status.accepted.value
            values[Request.accepted_at] = req["accepted_at"] or now
            await Assignment.update({Assignment.accepted_at: now}).where(Assignment.id == lead["id"])
        elif action in ("resolve", "answer"):
            to_status = Status.resolved.value
            values[Request.resolved_at] = now
            if action == "answer":
                values[Request.answer] = note
                await Assignment.update({Assignment.accepted_at: lead["accepted_at"] or now}).where(
                    Assignment.id == lead["id"])
                values[Request.accepted_at] = req["accepted_at"] or now
            await Assignment.update({Assignment.resolved_at: now}).where(Assignment.id == lead["id"])
        elif action == "withdraw":
            to_status = Status.withdrawn.value
            values[Request.closed_at] = now
            values[Request.close_reason] = "withdrawn"
            closed += await _close_all(request_id, now, "withdrawn")
        elif action == "mark_duplicate":
            to_status = Status.duplicate.value
            values[Request.closed_at] = now
            values[Request.close_reason] = "duplicate"
            closed += await _close_all(request_id, now, "duplicate")
        elif action == "close":
            to_status = Status.closed.value
            values[Request.closed_at] = now
            values[Request.close_reason] = event_data.get("reason", "closed")
            closed += await _close_all(request_id, now, "closed")
        elif action in ("escalate", "return", "reopen", "dispatch"):
            placement = await _placement_for(action, req, lead, actor, lead_unit_id, lead_person_id)
            if placement.person_id is None:  # the invariant: an open request always has a named person
                raise InvalidState(N_("接收单位没有指定承办人，请联系管理员为该单位设置人员"))
            if lead is not None:
                await _close_assignment(lead["id"], now, action)
                closed.append(lead["id"])
            new_lead = await _open_assignment(request_id, placement, AssignmentRole.lead.value, now)
            opened.append(new_lead)
            event_assignment = new_lead
            unit_id, person_id = placement.unit_id, placement.person_id
            values[Request.current_unit] = unit_id
            values[Request.current_person] = person_id
            values[Request.level] = placement.level
            to_status = Status.returned.value if action == "return" else Status.assigned.value
            if action == "reopen":
                values[Request.resolved_at] = None
            if action == "dispatch":
                assists = [u for u in dict.fromkeys(assist_unit_ids) if u != placement.unit_id]
                for unit in assists:
                    if not await Unit.exists().where(Unit.id == unit):
                        raise RequestError(N_("协办单位不存在"), "assist")
                    p = Placement(unit, await designated_person(unit), "district")
                    opened.append(await _open_assignment(request_id, p, AssignmentRole.assist.value, now))
                event_data["assists"] = assists
                event_data["lead_unit"] = placement.unit_id
        elif action in ("assist_report", "close_assist"):
            target = await Assignment.select().where(
                (Assignment.id == (assignment_id or 0)) & (Assignment.request == request_id)
                & (Assignment.role == AssignmentRole.assist.value) & (Assignment.is_open == True)
            ).first()
            if target is None:
                raise InvalidState(N_("没有可结束的协办任务"))
            await _close_assignment(target["id"], now, action, resolved_at=now)
            closed.append(target["id"])
            event_assignment = target["id"]
            event_data["assist_unit"] = target["unit"]
        # progress / comment change no state.

        new_version = req["version"] + 1
        values.update({Request.status: to_status, Request.version: new_version, Request.updated_at: now})
        updated = await Request.update(values).where(
            (Request.id == request_id) & (Request.version == req["version"])
        ).returning(Request.id)
        if not updated:
            current = await Request.select(Request.version, Request.status).where(Request.id == request_id).first()
            raise StaleVersion(current["version"], current["status"])
        is_public = action not in ("close_assist",)
        event_id = await _write_event(
            request_id, assignment_id=event_assignment, actor=actor, action=action, from_status=from_status,
            to_status=to_status, unit_id=unit_id, person_id=person_id, note=note, now=now, data=event_data,
            is_public=is_public,
        )
        if attach is not None:
            await attach(request_id, event_id)
        result = TransitionResult(request_id, action, from_status, to_status, new_version, event_id, opened, closed,
                                  actor.id if actor else None, event_data, req["code"], req["reporter"])
        await run_hooks(result)
    return result


async def _close_all(request_id: int, now: datetime, reason: str) -> list[int]:
    rows = await Assignment.select(Assignment.id).where(
        (Assignment.request == request_id) & (Assignment.is_open == True))
    ids = [r["id"] for r in rows]
    if ids:
        await Assignment.update({Assignment.is_open: False, Assignment.closed_at: now,
                                 Assignment.close_reason: reason}).where(Assignment.id.is_in(ids))
    return ids


async def _check_actor(rule: Rule, action: str, actor: Viewer | None, req: dict[str, Any],
                       lead: dict[str, Any] | None, assignment_id: int | None) -> None:
    who = rule.who
    if who == "system_or_reporter":
        if actor is None or (actor.is_resident and req["reporter"] == actor.id):
            return
        raise NotAllowed(N_("只有提交诉求的居民本人可以进行此操作"))
    if actor is None:
        raise NotAllowed(N_("需要登录后操作"))
    if who == "handler_or_dispatcher":
        if is_command_center_staff(actor):
            return
        who = "lead"
    if who == "reporter":
        if actor.is_resident and req["reporter"] == actor.id:
            return
        raise NotAllowed(N_("只有提交诉求的居民本人可以进行此操作"))
    if who == "dispatcher":
        if is_command_center_staff(actor) and (lead is None or await _lead_is_command_center(lead)
                                            or action == "close_assist"):
            return
        if is_command_center_staff(actor):
            raise InvalidState(N_("该诉求不在指挥中心，不能派单"))
        raise NotAllowed(N_("只有区级指挥中心可以派单"))
    if who == "assist":
        target = await Assignment.select().where(
            (Assignment.id == (assignment_id or 0)) & (Assignment.request == req["id"])
            & (Assignment.role == AssignmentRole.assist.value)).first()
        if target is not None and await can_act_on_assignment(actor, target):
            return
        raise NotAllowed(N_("您不是该诉求的协办单位"))
    if lead is None:
        raise InvalidState(N_("该诉求当前没有承办单位"))
    if who == "lead":
        if await can_act_on_assignment(actor, lead):
            return
        raise NotAllowed(N_("该诉求不在您的责任范围内"))
    if who == "handler":
        if await can_act_on_assignment(actor, lead):
            return
        assists = await Assignment.select().where(
            (Assignment.request == req["id"]) & (Assignment.role == AssignmentRole.assist.value)
            & (Assignment.is_open == True))
        for a in assists:
            if await can_act_on_assignment(actor, a):
                return
        raise NotAllowed(N_("该诉求不在您的责任范围内"))
    raise NotAllowed(N_("无权操作"))


async def _lead_is_command_center(lead: dict[str, Any]) -> bool:
    cc = await command_center()
    return lead["unit"] == cc.id


async def _placement_for(action: str, req: dict[str, Any], lead: dict[str, Any] | None, actor: Viewer | None,
                         lead_unit_id: int | None, lead_person_id: int | None) -> Placement:
    if action == "reopen":
        # Back to the same lead unit (the last lead), with new clocks.
        last = await Assignment.select().where(
            (Assignment.request == req["id"]) & (Assignment.role == AssignmentRole.lead.value)
        ).order_by(Assignment.id, ascending=False).first()
        assert last is not None
        person = last["person"] or await designated_person(last["unit"])
        return Placement(last["unit"], person, last["level"])
    if action == "return":
        if lead is not None and await _lead_is_command_center(lead):
            raise InvalidState(N_("指挥中心不能退回给自己，请重新派单"))
        cc = await command_center()
        return Placement(cc.id, await designated_person(cc.id, Role.dispatcher), "district")
    if action == "escalate":
        current = await Unit.objects().where(Unit.id == lead["unit"]).first() if lead else None
        target = await escalation_target(current, req["street"]) if current else None
        if target is None:
            raise InvalidState(N_("该诉求已在区级，不能再上报；请由指挥中心派单"))
        return target
    # dispatch
    if lead_unit_id is None:
        raise RequestError(N_("请选择一个主办单位"), "lead")
    unit = await Unit.objects().where(Unit.id == lead_unit_id).first()
    if unit is None:
        raise RequestError(N_("主办单位不存在"), "lead")
    level = "district" if unit.kind in ("department", "section", "command_center") else (
        "street" if unit.kind == "street" else "community")
    if lead_person_id is not None and not await member_of(lead_person_id, unit.id):
        raise RequestError(N_("所选承办人不属于主办单位"), "lead_person")
    person = lead_person_id or await designated_person(unit.id)
    if person is None:
        raise RequestError(N_("主办单位没有指定承办人，请先为该单位设置人员"), "lead")
    return Placement(unit.id, person, level)


async def timeline(request_id: int, *, public_only: bool) -> list[dict[str, Any]]:
    q = Event.select(
        Event.id, Event.action, Event.from_status, Event.to_status, Event.note, Event.created_at, Event.data,
        Event.actor_role, Event.unit.name, Event.person.name, Event.person.public_title, Event.actor.name,
        Event.actor.public_title, Event.is_public,
    ).where(Event.request == request_id).order_by(Event.id)
    if public_only:
        q = q.where(Event.is_public == True)
    return await q


async def record(
    request_id: int,
    action: str,
    *,
    actor: Viewer | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
    assignment_id: int | None = None,
    is_public: bool = True,
    now: datetime | None = None,
) -> int:
    """Append an event that changes no request state (a light turning, a rating, a phone call logged).

    Call it inside the caller's transaction so the event and the caller's own rows commit together.
    """
    req = await Request.select(Request.status, Request.current_unit, Request.current_person).where(
        Request.id == request_id).first()
    if req is None:
        raise RequestError(N_("诉求不存在"))
    return await _write_event(
        request_id, assignment_id=assignment_id, actor=actor, action=action, from_status=req["status"],
        to_status=req["status"], unit_id=req["current_unit"], person_id=req["current_person"], note=note,
        now=now or utcnow(), data=data, is_public=is_public,
    )


async def record_many(events: Sequence[dict[str, Any]], *, now: datetime | None = None) -> None:
    """``record()`` for many system events at once (a burst of lights): one read, one INSERT per 500.

    Each item: ``request_id``, ``action`` and optionally ``note``, ``data``, ``assignment_id``,
    ``is_public``. Same rows as ``record(..., actor=None)``; call it inside the caller's transaction.
    """
    if not events:
        return
    now = now or utcnow()
    ids = sorted({e["request_id"] for e in events})
    reqs = {r["id"]: r for r in await Request.select(
        Request.id, Request.status, Request.current_unit, Request.current_person).where(Request.id.is_in(ids))}
    rows: list[Event] = []
    for e in events:
        req = reqs.get(e["request_id"])
        if req is None:
            raise RequestError(N_("诉求不存在"))
        rows.append(Event(request=e["request_id"], assignment=e.get("assignment_id"), actor=None, actor_role="",
                          action=e["action"], from_status=req["status"], to_status=req["status"],
                          unit=req["current_unit"], person=req["current_person"], note=e.get("note", ""),
                          is_public=e.get("is_public", True), data=e.get("data") or {}, created_at=now))
    for i in range(0, len(rows), 500):
        await Event.insert(*rows[i:i + 500])


STAFF_ACTIONS = ("accept", "progress", "resolve", "answer", "return")


async def staff_actions(viewer: Viewer, req: dict[str, Any]) -> list[str]:
    """The field actions this staff member may take on the request now, from RULES (what the pages offer)."""
    status = req["status"]
    lead = await open_lead(req["id"])
    is_lead = lead is not None and await can_act_on_assignment(viewer, lead)
    is_assist = False
    if not is_lead:
        rows = await Assignment.select().where(
            (Assignment.request == req["id"]) & (Assignment.role == AssignmentRole.assist.value)
            & (Assignment.is_open == True))
        for a in rows:
            if await can_act_on_assignment(viewer, a):
                is_assist = True
                break
    return _actions_for(req, status, is_lead, is_assist)


def _actions_for(req: dict[str, Any], status: str, is_lead: bool, is_assist: bool) -> list[str]:
    out = []
    for action in STAFF_ACTIONS:
        if status not in RULES[action].from_statuses:
            continue
        if action == "progress":
            if is_lead or is_assist:
                out.append(action)
        elif is_lead:
            if action == "answer" and req["kind"] != Kind.consultation.value:
                continue
            if action == "resolve" and req["kind"] == Kind.consultation.value and status != Status.accepted.value:
                continue
            out.append(action)
    return out


async def staff_actions_many(viewer: Viewer, reqs: Sequence[dict[str, Any]]) -> dict[int, tuple[list[str], bool]]:
    """``staff_actions`` of many requests at once, and whether the viewer acts as their lead: two queries in
    all instead of several per request (the field page lists up to 100; issue 22). id → (actions, is_lead)."""
    if not reqs:
        return {}
    rows = await Assignment.select(Assignment.request, Assignment.unit, Assignment.person, Assignment.role).where(
        Assignment.request.is_in([r["id"] for r in reqs]) & (Assignment.is_open == True)
        & Assignment.role.is_in([AssignmentRole.lead.value, AssignmentRole.assist.value])).order_by(Assignment.id)
    units = list({a["unit"] for a in rows if a["unit"] is not None})
    paths = {u["id"]: u["path"] for u in await Unit.select(Unit.id, Unit.path).where(Unit.id.is_in(units or [0]))}

    def can_act(a: dict[str, Any]) -> bool:  # can_act_on_assignment, with the paths read above
        if not viewer.is_staff:
            return False
        return a["person"] == viewer.id or handles_unit(viewer, paths.get(a["unit"], "/-/"))

    leads: dict[int, dict[str, Any]] = {}
    assists: dict[int, list[dict[str, Any]]] = {}
    for a in rows:
        if a["role"] == AssignmentRole.lead.value:
            leads.setdefault(a["request"], a)
        else:
            assists.setdefault(a["request"], []).append(a)
    out: dict[int, tuple[list[str], bool]] = {}
    for req in reqs:
        lead = leads.get(req["id"])
        is_lead = lead is not None and can_act(lead)
        is_assist = not is_lead and any(can_act(a) for a in assists.get(req["id"], []))
        out[req["id"]] = (_actions_for(req, req["status"], is_lead, is_assist), is_lead)
    return out
