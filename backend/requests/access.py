"""Who may see and do what on a request: the viewer's units against the request's and its assignments'.

Read-only: the transition service (transitions.py) asks it before it changes anything; the pages ask it
which actions to offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import fetch_prepared
from backend.organisation.tables import Unit
from backend.requests.rows import AssignmentRow, RequestRow, RequestState
from backend.requests.rules import HANDLING_ROLES, RULES, STAFF_ACTIONS
from backend.requests.tables import (
    Assignment,
    AssignmentRole,
    Kind,
    Status,
)


async def unit_path(unit_id: int | None) -> str:
    if unit_id is None:
        return "/-/"
    row = await Unit.select(Unit.path).where(Unit.id == unit_id).first()
    return row["path"] if row else "/-/"


def handles_unit(viewer: Viewer, path: str) -> bool:
    """The viewer handles work for this unit: a handling membership on it or above it."""
    return any(path.startswith(m.unit_path) for m in viewer.memberships if m.role in HANDLING_ROLES)


async def can_act_on_assignment(viewer: Viewer | None, assignment: AssignmentRow) -> bool:
    if viewer is None or not viewer.is_staff:
        return False
    if assignment["person"] == viewer.id:
        return True
    return handles_unit(viewer, await unit_path(assignment["unit"]))


async def can_view(viewer: Viewer | None, req: RequestRow) -> bool:
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


async def open_lead(request_id: int) -> AssignmentRow | None:
    return await Assignment.select().where(
        (Assignment.request == request_id) & (Assignment.role == AssignmentRole.lead.value)
        & (Assignment.is_open == True)
    ).first()


async def staff_actions(viewer: Viewer, req: RequestState) -> list[str]:
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


def _actions_for(req: RequestState, status: str, is_lead: bool, is_assist: bool) -> list[str]:
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


# The open assignments of a page of requests with their units' paths (prepared once per connection: the field
# page reads it on every load).
_OPEN_ASSIGNMENTS = ("SELECT a.request, a.unit, a.person, a.role, u.path FROM assignment a "
                     "LEFT JOIN unit u ON u.id = a.unit "
                     "WHERE a.request = ANY($1::int[]) AND a.is_open AND a.role = ANY($2::text[]) ORDER BY a.id")


async def staff_actions_many(viewer: Viewer, reqs: Sequence[RequestState]) -> dict[int, tuple[list[str], bool]]:
    """``staff_actions`` of many requests at once, and whether the viewer acts as their lead: two queries in
    all instead of several per request (the field page lists up to 100; issue 22). id → (actions, is_lead)."""
    if not reqs:
        return {}
    rows = await fetch_prepared(_OPEN_ASSIGNMENTS, [r["id"] for r in reqs],
                                [AssignmentRole.lead.value, AssignmentRole.assist.value])
    paths = {a["unit"]: a["path"] for a in rows if a["unit"] is not None}

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
