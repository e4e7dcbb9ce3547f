"""The one place where a request changes state after its submission.

``transition()`` checks the transition (rules.RULES), the actor's right to make it (access.py) and the
version, writes the event and the assignments in the same transaction, and runs the hooks (clocks, notices)
in it. ``record()`` / ``record_many()`` append the events that change no state (a light, a rating, a call).
No Litestar imports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, cast

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import fetch_prepared, utcnow, write_transaction
from backend.i18n import N_
from backend.organisation.service import is_command_center_staff
from backend.organisation.tables import Unit
from backend.requests.access import can_act_on_assignment, open_lead
from backend.requests.hooks import run_hooks
from backend.requests.rows import AssignmentRow, EventToRecord, RequestRow, TimelineRow
from backend.requests.rules import (
    ACTION_LABELS,
    INTERNAL_NOTE_ACTIONS,
    MAX_NOTE,
    RULES,
    STATUS_LABELS,
    EventAttach,
    InvalidState,
    NotAllowed,
    OpenedAssignment,
    RequestError,
    Rule,
    StaleVersion,
    TransitionResult,
)
from backend.requests.tables import (
    Assignment,
    AssignmentRole,
    Event,
    Request,
    Status,
)
from backend.routing.service import (
    Placement,
    command_center,
    designated_person,
    escalation_target,
    member_of,
)


async def _open_assignment(request_id: int, placement: Placement, role: str, now: datetime) -> OpenedAssignment:
    a = Assignment(request=request_id, unit=placement.unit_id, person=placement.person_id, role=role,
                   level=placement.level, is_open=True, opened_at=now, version=1)
    await a.save()
    return OpenedAssignment(a.id, placement.unit_id, placement.person_id, role, now)


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
    opened: list[OpenedAssignment] = []
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
            event_assignment = new_lead.id
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
                                  actor.id if actor else None, event_data, req["code"], req["reporter"],
                                  req["category"])
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


async def _check_actor(rule: Rule, action: str, actor: Viewer | None, req: RequestRow,
                       lead: AssignmentRow | None, assignment_id: int | None) -> None:
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


async def _lead_is_command_center(lead: AssignmentRow) -> bool:
    cc = await command_center()
    return lead["unit"] == cc.id


async def _placement_for(action: str, req: RequestRow, lead: AssignmentRow | None, actor: Viewer | None,
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


# Every request page reads its timeline: prepared once per connection (fetch_prepared), keyed as Piccolo's
# select() keys joined names ("unit.name").
_TIMELINE = (
    'SELECT e.id, e.action, e.from_status, e.to_status, e.note, e.created_at, e.data, e.actor_role, '
    'u.name AS "unit.name", p.name AS "person.name", p.public_title AS "person.public_title", '
    'a.name AS "actor.name", a.public_title AS "actor.public_title", e.is_public '
    "FROM event e LEFT JOIN unit u ON u.id = e.unit LEFT JOIN account p ON p.id = e.person "
    "LEFT JOIN account a ON a.id = e.actor WHERE e.request = $1 AND (e.is_public OR NOT $2) ORDER BY e.id")


async def timeline(request_id: int, *, public_only: bool) -> list[TimelineRow]:
    return [cast(TimelineRow, dict(r)) for r in await fetch_prepared(_TIMELINE, request_id, public_only)]


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


async def record_many(events: Sequence[EventToRecord], *, now: datetime | None = None) -> None:
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
