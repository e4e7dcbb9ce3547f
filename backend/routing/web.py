"""What the routing pages share: the guards of the command center and the street platform, a request's
routing state (who leads, who assists, what this viewer may do), and the typed form payloads.

The controllers are split by who works there: ``action_controllers`` (escalate, report an assisting part),
``queue_controllers`` (the command center's queue, search and dispatch; the street's queue) and
``admin_controllers`` (the handling matrix, boundaries).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.i18n import N_
from backend.organisation.service import is_command_center_staff
from backend.organisation.tables import Unit, UnitKind
from backend.requests import service as requests
from backend.requests.rows import AssignmentRow, RequestRow
from backend.requests.tables import OPEN_STATUSES, Assignment, AssignmentRole, Status
from backend.requests.tables import Request as Req
from backend.routing.service import LEVEL_LABELS, command_center
from backend.web.forms import form_int
from backend.web.guards import require_staff, viewer_of

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
OPEN = {s.value for s in OPEN_STATUSES}
ESCALATING_KINDS = (UnitKind.grid.value, UnitKind.community.value, UnitKind.street.value)


# ---------------------------------------------------------------- reading forms


def ints(value: Any) -> list[int] | None:
    """A repeated form field as ints; None if any value is not a number."""
    if value is None or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    out = [form_int(v) for v in values if v != ""]
    return None if any(v is None for v in out) else [v for v in out if v is not None]


def one(value: Any) -> Any:
    """A single form field (a crafted repeated field counts as its first value)."""
    return value[0] if isinstance(value, list) and value else value


def text(value: Any) -> str:
    return str(one(value) or "")


@dataclass(frozen=True)
class NoteForm:
    """Escalate, report an assisting part, close an assisting part: a note, the version seen, maybe a part."""

    note: str
    version: int | None
    assignment_id: int | None
    note_public: bool

    @classmethod
    def of(cls, data: dict[str, Any]) -> NoteForm:
        return cls(note=text(data.get("note")), version=form_int(one(data.get("version"))),
                   assignment_id=form_int(one(data.get("assignment_id"))),
                   note_public=one(data.get("note_public")) == "1")


@dataclass(frozen=True)
class DispatchForm:
    """The dispatcher's choice: one lead unit (and maybe its handler), assisting units, an instruction."""

    leads: list[int] | None  # None: a value that is not a unit id
    assists: list[int] | None
    person_raw: Any
    person: int | None
    note: str
    version: int | None
    note_public: bool

    @classmethod
    def of(cls, data: dict[str, Any]) -> DispatchForm:
        person_raw = one(data.get("lead_person_id"))
        return cls(
            leads=ints(data.get("lead_unit_id")), assists=ints(data.get("assist_unit_ids")), person_raw=person_raw,
            person=form_int(person_raw) if person_raw not in (None, "") else None, note=text(data.get("note")),
            version=form_int(one(data.get("version"))), note_public=one(data.get("note_public")) == "1",
        )

    @property
    def lead(self) -> int | None:
        return self.leads[0] if self.leads else None

    def shown(self) -> dict[str, Any]:
        """What the form shows again after a refusal."""
        return {"lead": self.lead, "assists": self.assists or [], "lead_person": self.person, "note": self.note}

    def errors(self) -> dict[str, str]:
        """What is wrong with the choice itself, before the request service is asked (message ids)."""
        if self.leads is None or self.assists is None:
            return {"lead": N_("所选单位无效")}
        if not self.leads:
            return {"lead": N_("请选择一个主办单位")}
        if len(set(self.leads)) > 1:
            return {"lead": N_("主办单位只能有一个，其他单位请选为协办")}
        if self.leads[0] in self.assists:
            return {"assist": N_("主办单位不能同时作为协办单位")}
        if self.person_raw not in (None, "") and self.person is None:
            return {"lead_person": N_("所选承办人无效")}
        if self.version is None:
            return {"lead": N_("表单已失效，请刷新后重试")}
        return {}


@dataclass(frozen=True)
class CategoryRuleForm:
    level: str
    duties: list[int] | None = field(default=None)

    @classmethod
    def of(cls, data: dict[str, Any]) -> CategoryRuleForm:
        return cls(level=text(data.get("level")), duties=ints(data.get("duty_unit_ids")))


@dataclass(frozen=True)
class BoundaryForm:
    unit: int | None
    boundary: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> BoundaryForm:
        return cls(unit=form_int(one(data.get("unit"))), boundary=text(data.get("boundary")))


# ---------------------------------------------------------------- who may work here


def viewer(request: Request) -> Viewer:
    who = viewer_of(request)
    if who is None:
        raise NotAuthorizedException(N_("请先登录"))
    return who


async def command_center_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    if not is_command_center_staff(require_staff(connection)):
        raise PermissionDeniedException(N_("此页面仅供区级指挥中心调度员使用"))


def street_units(who: Viewer | None) -> list[int]:
    if who is None:
        return []
    return [
        m.unit_id
        for m in who.memberships
        if m.unit_kind == UnitKind.street.value and m.role in (Role.street_staff.value, Role.unit_head.value)
    ]


async def street_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    if not street_units(require_staff(connection)):
        raise PermissionDeniedException(N_("此页面仅供街道平台工作人员使用"))


# ---------------------------------------------------------------- a request's routing state

# The names the routing pages show with a request, and its status and level in words.
_RoutingNames = TypedDict("_RoutingNames", {
    "category.name": str, "category.icon": str, "current_unit.name": str | None, "current_unit.kind": str | None,
    "current_person.name": str | None, "current_person.public_title": str | None, "street.name": str | None,
    "community.name": str | None, "grid.name": str | None, "status_label": str, "level_label": str,
})


class RoutingRequest(RequestRow, _RoutingNames):
    """A request as the routing pages show it (request_row)."""


_AssignmentNames = TypedDict("_AssignmentNames", {
    "unit.name": str, "unit.kind": str, "person.name": str | None, "person.public_title": str | None})


class RoutedAssignment(AssignmentRow, _AssignmentNames):
    """An assignment with its unit's and person's names (assignments_of)."""


class RoutingContext(TypedDict):
    """What this viewer may do about routing on a request (routing_context), for the request's pages."""

    req: RoutingRequest
    version: int
    assignments: list[RoutedAssignment]
    lead: RoutedAssignment | None
    can_escalate: bool
    escalate_to: str
    my_assists: list[RoutedAssignment]
    can_dispatch: bool
    is_dispatcher: bool
    action_labels: dict[str, str]



async def request_row(request_id: int) -> RoutingRequest:
    row = (
        await Req.select(
            *Req.all_columns(),
            Req.category.name,
            Req.category.icon,
            Req.current_unit.name,
            Req.current_unit.kind,
            Req.current_person.name,
            Req.current_person.public_title,
            Req.street.name,
            Req.community.name,
            Req.grid.name,
        )
        .where(Req.id == request_id)
        .first()
    )
    if row is None:
        raise NotFoundException(N_("诉求不存在"))
    row["status_label"] = requests.STATUS_LABELS.get(row["status"], row["status"])
    row["level_label"] = LEVEL_LABELS.get(row["level"], row["level"])
    return row


async def assignments_of(request_id: int) -> list[RoutedAssignment]:
    return (
        await Assignment.select(
            *Assignment.all_columns(),
            Assignment.unit.name,
            Assignment.unit.kind,
            Assignment.person.name,
            Assignment.person.public_title,
        )
        .where(Assignment.request == request_id)
        .order_by(Assignment.id)
    )


async def routing_context(request_id: int, who: Viewer) -> RoutingContext:
    """What this viewer may do about routing on this request (escalate, report an assisting part, dispatch)."""
    req = await request_row(request_id)
    if not await requests.can_view(who, req):
        raise PermissionDeniedException(N_("该诉求不在您的责任范围内"))
    assignments = await assignments_of(request_id)
    lead = next((a for a in assignments if a["is_open"] and a["role"] == AssignmentRole.lead.value), None)
    is_open = req["status"] in OPEN
    can_escalate = bool(
        lead
        and req["status"] in (Status.assigned.value, Status.accepted.value)
        and lead["unit.kind"] in ESCALATING_KINDS
        and await requests.can_act_on_assignment(who, lead)
    )
    escalate_to = ""
    if can_escalate and lead is not None:
        if lead["unit.kind"] == UnitKind.street.value:
            escalate_to = (await command_center()).name
        else:
            street = await Unit.select(Unit.name).where(Unit.id == (req["street"] or 0)).first()
            escalate_to = street["name"] if street else ""
    my_assists = [
        a
        for a in assignments
        if a["is_open"]
        and a["role"] == AssignmentRole.assist.value
        and req["status"] in (Status.assigned.value, Status.accepted.value)
        and await requests.can_act_on_assignment(who, a)
    ]
    cc = await command_center()
    can_dispatch = bool(is_open and is_command_center_staff(who) and lead and lead["unit"] == cc.id)
    return {
        "req": req,
        "version": req["version"],
        "assignments": assignments,
        "lead": lead,
        "can_escalate": can_escalate,
        "escalate_to": escalate_to,
        "my_assists": my_assists,
        "can_dispatch": can_dispatch,
        "is_dispatcher": is_command_center_staff(who),
        "action_labels": requests.ACTION_LABELS,
    }


async def unit_name(result: requests.TransitionResult) -> str:
    """The unit now responsible after a hand-off (for the confirmation)."""
    unit_id = result.data.get("lead_unit")
    if unit_id is None:
        row = await Req.select(Req.current_unit).where(Req.id == result.request_id).first()
        unit_id = row["current_unit"] if row else None
    row = await Unit.select(Unit.name).where(Unit.id == (unit_id or 0)).first()
    return row["name"] if row else ""


async def dispatch_note(lead_id: int, assist_ids: list[int], note: str) -> str:
    """The dispatch event's note names the units, so the public timeline shows every hand-off
    ("主办：庙前街道；协办：区城管局环卫科"), followed by what the dispatcher wrote."""
    rows = await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.parent.name).where(
        Unit.id.is_in([lead_id, *assist_ids])
    )
    names = {
        r["id"]: ((r["parent.name"] or "") + r["name"]) if r["kind"] == UnitKind.section.value else r["name"]
        for r in rows
    }
    if lead_id not in names:
        return note  # the service refuses an unknown lead with its own message
    line = f"主办：{names[lead_id]}"
    if assist_ids:
        line += "；协办：" + "、".join(names.get(u, "?") for u in assist_ids)
    note = note.strip()
    return f"{line}。{note}" if note else line
