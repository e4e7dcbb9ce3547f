"""Four-level routing pages: escalation and assisting reports on a request, the command center's queue,
search and dispatch form, the street's queue by category, and the admin matrix and boundaries.

HTTP in → routing/requests service → page or 303. Every refusal re-shows the form with its message
and the service's status (400/403/409); a stale version answers 409 with the request's new state.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body
from litestar.response import Redirect

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.lights.badges import light_states
from backend.notices import duties as notice_duties
from backend.organisation.service import is_command_center_staff
from backend.organisation.tables import Unit, UnitKind
from backend.requests import service as requests
from backend.requests.service import RequestError, StaleVersion
from backend.requests.tables import OPEN_STATUSES, Assignment, AssignmentRole, Status
from backend.requests.tables import Request as Req
from backend.routing import queries
from backend.routing.service import (
    LEVEL_LABELS,
    RoutingError,
    category_matrix,
    command_center,
    dispatch_options,
    duty_candidates,
    set_boundary,
    set_category_rule,
)
from backend.routing.tables import Category
from backend.web.flash import N_, flash
from backend.web.forms import form_int
from backend.web.guards import admin_only, staff_only, viewer_of
from backend.web.render import is_htmx, page

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
OPEN = {s.value for s in OPEN_STATUSES}
ESCALATING_KINDS = (UnitKind.grid.value, UnitKind.community.value, UnitKind.street.value)


# ---------------------------------------------------------------- small helpers


def _ints(value: Any) -> list[int] | None:
    """A repeated form field as ints; None if any value is not a number."""
    if value is None or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    out = [form_int(v) for v in values if v != ""]
    return None if any(v is None for v in out) else [v for v in out if v is not None]


def _one(value: Any) -> Any:
    """A single form field (a crafted repeated field counts as its first value)."""
    return value[0] if isinstance(value, list) and value else value


def _viewer(request: Request) -> Viewer:
    viewer = viewer_of(request)
    if viewer is None:
        raise NotAuthorizedException("请先登录")
    return viewer


def command_center_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    staff_only(connection, handler)
    if not is_command_center_staff(viewer_of(connection)):
        raise PermissionDeniedException("此页面仅供区级指挥中心调度员使用")


def street_units(viewer: Viewer | None) -> list[int]:
    if viewer is None:
        return []
    return [
        m.unit_id
        for m in viewer.memberships
        if m.unit_kind == UnitKind.street.value and m.role in (Role.street_staff.value, Role.unit_head.value)
    ]


def street_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    staff_only(connection, handler)
    if not street_units(viewer_of(connection)):
        raise PermissionDeniedException("此页面仅供街道平台工作人员使用")


async def _request_row(request_id: int) -> dict[str, Any]:
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
        raise NotFoundException("诉求不存在")
    row["status_label"] = requests.STATUS_LABELS.get(row["status"], row["status"])
    row["level_label"] = LEVEL_LABELS.get(row["level"], row["level"])
    return row


async def _assignments(request_id: int) -> list[dict[str, Any]]:
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


async def routing_context(request_id: int, viewer: Viewer) -> dict[str, Any]:
    """What this viewer may do about routing on this request (escalate, report an assisting part, dispatch)."""
    req = await _request_row(request_id)
    if not await requests.can_view(viewer, req):
        raise PermissionDeniedException("该诉求不在您的责任范围内")
    assignments = await _assignments(request_id)
    lead = next((a for a in assignments if a["is_open"] and a["role"] == AssignmentRole.lead.value), None)
    is_open = req["status"] in OPEN
    can_escalate = bool(
        lead
        and req["status"] in (Status.assigned.value, Status.accepted.value)
        and lead["unit.kind"] in ESCALATING_KINDS
        and await requests.can_act_on_assignment(viewer, lead)
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
        and await requests.can_act_on_assignment(viewer, a)
    ]
    cc = await command_center()
    can_dispatch = bool(is_open and is_command_center_staff(viewer) and lead and lead["unit"] == cc.id)
    return {
        "req": req,
        "version": req["version"],
        "assignments": assignments,
        "lead": lead,
        "can_escalate": can_escalate,
        "escalate_to": escalate_to,
        "my_assists": my_assists,
        "can_dispatch": can_dispatch,
        "is_dispatcher": is_command_center_staff(viewer),
        "action_labels": requests.ACTION_LABELS,
    }


async def _unit_name(result: requests.TransitionResult) -> str:
    """The unit now responsible after a hand-off (for the confirmation)."""
    unit_id = result.data.get("lead_unit")
    if unit_id is None:
        row = await Req.select(Req.current_unit).where(Req.id == result.request_id).first()
        unit_id = row["current_unit"] if row else None
    row = await Unit.select(Unit.name).where(Unit.id == (unit_id or 0)).first()
    return row["name"] if row else ""


async def _dispatch_note(lead_id: int, assist_ids: list[int], note: str) -> str:
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


# ---------------------------------------------------------------- staff: escalate, report an assisting part


class RoutingActionsController(Controller):
    path = "/staff/requests"
    guards = [staff_only]

    @get("/{request_id:int}/routing")
    async def routing_page(self, request: Request, request_id: int) -> Response:
        ctx = await routing_context(request_id, _viewer(request))
        return page(request, "routing/request.html", ctx | {"form": {}, "errors": {}}, block="routing")

    @get("/{request_id:int}/assist-forms")
    async def assist_forms(self, request: Request, request_id: int) -> Response:
        """The viewer's "report my part" forms, loaded into the request page (empty when none)."""
        ctx = await routing_context(request_id, _viewer(request))
        return page(request, "routing/_assist_forms.html", ctx | {"form": {}, "errors": {}})

    async def _reshow(self, request: Request, request_id: int, form: dict, exc: RequestError, action: str) -> Response:
        ctx = await routing_context(request_id, _viewer(request))
        # A stale version shows the request's new state with a fresh version; what was typed stays.
        errors = {action: exc.message}
        return page(
            request,
            "routing/request.html",
            ctx | {"form": form, "errors": errors, "failed": action},
            status_code=exc.status,
        )

    @post("/{request_id:int}/escalate")
    async def escalate(self, request: Request, request_id: int, data: Form) -> Response:
        viewer = _viewer(request)
        await _request_row(request_id)
        note = str(_one(data.get("note")) or "")
        try:
            version = form_int(_one(data.get("version")))
            if version is None:
                raise RequestError("表单已失效，请刷新后重试")
            result = await requests.transition(request_id, "escalate", viewer, version, note=note,
                                               note_public=_one(data.get("note_public")) == "1")
        except RequestError as exc:
            return await self._reshow(request, request_id, {"note": note}, exc, "escalate")
        flash(request, N_("已上报，现由 {unit} 负责"), unit=await _unit_name(result))
        return Redirect(f"/staff/requests/{request_id}", status_code=303)

    @post("/{request_id:int}/assist-report")
    async def assist_report(self, request: Request, request_id: int, data: Form) -> Response:
        viewer = _viewer(request)
        await _request_row(request_id)
        note = str(_one(data.get("note")) or "")
        assignment_id = form_int(_one(data.get("assignment_id")))
        try:
            version = form_int(_one(data.get("version")))
            if version is None or assignment_id is None:
                raise RequestError("表单已失效，请刷新后重试")
            await requests.transition(
                request_id, "assist_report", viewer, version, note=note, assignment_id=assignment_id,
                note_public=_one(data.get("note_public")) == "1",
            )
        except RequestError as exc:
            return await self._reshow(
                request, request_id, {"note": note, "assignment_id": assignment_id}, exc, "assist_report"
            )
        flash(request, N_("协办情况已提交"))
        return Redirect(f"/staff/requests/{request_id}", status_code=303)


# ---------------------------------------------------------------- the command center


class CommandCenterController(Controller):
    path = "/cc"
    guards = [command_center_only]

    @get("/queue")
    async def queue(self, request: Request) -> Response:
        rows = await queries.dispatch_queue()
        return page(
            request,
            "routing/cc_queue.html",
            {"rows": rows, "status_labels": requests.STATUS_LABELS, "action_labels": requests.ACTION_LABELS},
            block="queue",
        )

    @get("/search")
    async def search(self, request: Request) -> Response:
        p = request.query_params
        errors: dict[str, str] = {}
        unit_id = form_int(p.get("unit")) if p.get("unit") else None
        category_id = form_int(p.get("category")) if p.get("category") else None
        if p.get("unit") and unit_id is None:
            errors["unit"] = "单位不存在"
        if p.get("category") and category_id is None:
            errors["category"] = "类别不存在"
        f = queries.SearchFilters(
            q=str(p.get("q") or "")[:200],
            status=str(p.get("status") or ""),
            unit_id=unit_id,
            category_id=category_id,
            date_from=str(p.get("from") or ""),
            date_to=str(p.get("to") or ""),
            page=max(1, form_int(p.get("page")) or 1),
        )
        rows: list[dict] = []
        total = 0
        if not errors:
            try:
                rows, total = await queries.search_requests(f)
            except RoutingError as exc:
                errors[exc.field or "q"] = exc.message
        units = (
            await Unit.select(Unit.id, Unit.name, Unit.depth)
            .where(Unit.kind != UnitKind.grid.value)
            .order_by(Unit.path)
        )
        categories = await Category.select(Category.id, Category.name).order_by(Category.sort, Category.id)
        pages = max(1, -(-total // queries.PAGE_SIZE))
        return page(
            request,
            "routing/cc_search.html",
            {
                "rows": rows,
                "total": total,
                "f": f,
                "errors": errors,
                "units": units,
                "categories": categories,
                "pages": pages,
                "status_labels": requests.STATUS_LABELS,
                # htmx does not swap 4xx bodies: an htmx search shows its message in place with a 200.
            },
            status_code=400 if errors and not is_htmx(request) else 200,
            block="results",
        )

    async def _dispatch_page(
        self, request: Request, request_id: int, form: dict[str, Any] | None, errors: dict[str, str], status: int = 200
    ) -> Response:
        viewer = _viewer(request)
        ctx = await routing_context(request_id, viewer)
        req = ctx["req"]
        options = await dispatch_options(req["street"], req["community"], req["category"])
        open_assists = [a for a in ctx["assignments"] if a["is_open"] and a["role"] == AssignmentRole.assist.value]
        if form is None:  # first view: the rule's suggestion, minus assists already working on it
            busy = {a["unit"] for a in open_assists}
            form = {
                "lead": options.suggested_lead,
                "assists": [u for u in options.suggested_assists if u not in busy],
                "lead_person": None,
                "note": "",
            }
        arrival = (await queries._arrivals([request_id])).get(request_id)
        return page(
            request,
            "routing/dispatch.html",
            ctx
            | {
                "options": options,
                "form": form,
                "errors": errors,
                "open_assists": open_assists,
                "arrival": arrival,
                "light": (await light_states([request_id]))[request_id],
            },
            status_code=status,
        )

    @get("/requests/{request_id:int}/dispatch")
    async def dispatch_form(self, request: Request, request_id: int) -> Response:
        return await self._dispatch_page(request, request_id, None, {})

    @post("/requests/{request_id:int}/dispatch")
    async def dispatch(self, request: Request, request_id: int, data: Form) -> Response:
        viewer = _viewer(request)
        await _request_row(request_id)
        note = str(_one(data.get("note")) or "")
        raw_lead = data.get("lead_unit_id")
        leads = _ints(raw_lead)
        assists = _ints(data.get("assist_unit_ids"))
        person_raw = _one(data.get("lead_person_id"))
        person = form_int(person_raw) if person_raw not in (None, "") else None
        form = {"lead": leads[0] if leads else None, "assists": assists or [], "lead_person": person, "note": note}
        errors: dict[str, str] = {}
        if leads is None or assists is None:
            errors["lead"] = "所选单位无效"
        elif not leads:
            errors["lead"] = "请选择一个主办单位"
        elif len(set(leads)) > 1:
            errors["lead"] = "主办单位只能有一个，其他单位请选为协办"
        elif leads[0] in assists:
            errors["assist"] = "主办单位不能同时作为协办单位"
        elif person_raw not in (None, "") and person is None:
            errors["lead_person"] = "所选承办人无效"
        version = form_int(_one(data.get("version")))
        if version is None and not errors:
            errors["lead"] = "表单已失效，请刷新后重试"
        if errors:
            return await self._dispatch_page(request, request_id, form, errors, status=400)
        assert leads and assists is not None and version is not None
        # An assisting unit already working on the request keeps its one open part.
        busy = {
            a["unit"]
            for a in await Assignment.select(Assignment.unit).where(
                (Assignment.request == request_id)
                & (Assignment.role == AssignmentRole.assist.value)
                & (Assignment.is_open == True)
            )
        }
        new_assists = [u for u in assists if u not in busy]
        try:
            handoff = await _dispatch_note(leads[0], new_assists, "")
            result = await requests.transition(
                request_id,
                "dispatch",
                viewer,
                version,
                note=await _dispatch_note(leads[0], new_assists, note),
                lead_unit_id=leads[0],
                lead_person_id=person,
                assist_unit_ids=new_assists,
                # Residents see the hand-off; the dispatcher's instruction only if published.
                data={"public_note": handoff},
                note_public=_one(data.get("note_public")) == "1",
            )
        except StaleVersion as exc:
            return await self._dispatch_page(request, request_id, None, {"lead": exc.message}, status=409)
        except RequestError as exc:
            field = exc.field if exc.field in ("lead", "assist", "lead_person", "note") else "lead"
            return await self._dispatch_page(request, request_id, form, {field: exc.message}, status=exc.status)
        flash(request, N_("已派单：{code} 由 {unit} 主办"), code=result.code, unit=await _unit_name(result))
        return Redirect("/cc/queue", status_code=303)

    @post("/requests/{request_id:int}/close-assist")
    async def close_assist(self, request: Request, request_id: int, data: Form) -> Response:
        viewer = _viewer(request)
        await _request_row(request_id)
        try:
            version = form_int(_one(data.get("version")))
            assignment_id = form_int(_one(data.get("assignment_id")))
            if version is None or assignment_id is None:
                raise RequestError("表单已失效，请刷新后重试")
            await requests.transition(
                request_id,
                "close_assist",
                viewer,
                version,
                assignment_id=assignment_id,
                note=str(_one(data.get("note")) or ""),
            )
        except RequestError as exc:
            return await self._dispatch_page(
                request, request_id, None, {"close_assist": exc.message}, status=exc.status
            )
        flash(request, N_("已结束协办"))
        back = f"/cc/requests/{request_id}/dispatch"
        return Redirect(back, status_code=303)


# ---------------------------------------------------------------- the street platform


class StreetController(Controller):
    path = "/street"
    guards = [street_only]

    @get("/queue")
    async def queue(self, request: Request) -> Response:
        viewer = _viewer(request)
        raw = request.query_params.get("category")
        category_id = form_int(raw) if raw else None
        status = 200
        error = ""
        if raw and (category_id is None or not await Category.exists().where(Category.id == category_id)):
            category_id, status, error = None, 400, "类别不存在"
        groups, counts = await queries.street_queue(street_units(viewer), category_id)
        categories = await Category.select(Category.id, Category.name, Category.icon).order_by(
            Category.sort, Category.id
        )
        return page(
            request,
            "routing/street_queue.html",
            {
                "groups": groups,
                "counts": counts,
                "categories": categories,
                "category_id": category_id,
                "error": error,
                "status_labels": requests.STATUS_LABELS,
                "action_labels": requests.ACTION_LABELS,
                "notice_overdue": await notice_duties.board(viewer),  # 村居公开: overdue notices of the street
            },
            status_code=status,
            block="queue",
        )


# ---------------------------------------------------------------- admin: the handling matrix, boundaries


class RoutingAdminController(Controller):
    path = "/admin"
    guards = [admin_only]

    async def _matrix_page(
        self, request: Request, errors: dict[int, str], status: int = 200, saved: int | None = None
    ) -> Response:
        return page(
            request,
            "routing/admin_categories.html",
            {
                "rules": await category_matrix(),
                "duty_units": await duty_candidates(),
                "levels": LEVEL_LABELS,
                "errors": errors,
                "saved": saved,
            },
            status_code=status,
        )

    @get("/categories")
    async def categories(self, request: Request) -> Response:
        saved = form_int(request.query_params.get("saved"))
        return await self._matrix_page(request, {}, saved=saved)

    @post("/categories/{category_id:int}")
    async def save_category(self, request: Request, category_id: int, data: Form) -> Response:
        duties = _ints(data.get("duty_unit_ids"))
        try:
            if duties is None:
                raise RoutingError("责任单位只能选择职能部门或其科室", "duties")
            await set_category_rule(category_id, str(_one(data.get("level")) or ""), duties)
        except RoutingError as exc:
            if exc.field == "category":
                raise NotFoundException(exc.message) from exc
            return await self._matrix_page(request, {category_id: exc.message}, status=400)
        return Redirect(f"/admin/categories?saved={category_id}#cat-{category_id}", status_code=303)

    async def _boundaries_page(
        self, request: Request, form: dict, errors: dict, status: int = 200, found: Any = None
    ) -> Response:
        units = (
            await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.code, Unit.depth, Unit.boundary)
            .where(Unit.kind.is_in([UnitKind.street.value, UnitKind.community.value, UnitKind.grid.value]))
            .order_by(Unit.path)
        )
        return page(
            request,
            "routing/admin_boundaries.html",
            {
                "units": units,
                "form": form,
                "errors": errors,
                "found": found,
            },
            status_code=status,
        )

    @get("/boundaries")
    async def boundaries(self, request: Request) -> Response:
        from backend.routing.geo import locate

        p = request.query_params
        found: Any = None
        errors: dict[str, str] = {}
        form: dict[str, Any] = {"lon": p.get("lon", ""), "lat": p.get("lat", "")}
        if p.get("lon") or p.get("lat"):
            try:
                lon, lat = float(str(p.get("lon"))), float(str(p.get("lat")))
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError
            except (TypeError, ValueError):
                errors["point"] = "请输入有效的经度和纬度"
            else:
                j = await locate(lon, lat)
                if j is None:
                    found = False
                else:
                    names = {
                        r["id"]: r["name"]
                        for r in await Unit.select(Unit.id, Unit.name).where(
                            Unit.id.is_in([u for u in (j.grid_id, j.community_id, j.street_id) if u])
                        )
                    }
                    found = {
                        "grid": names.get(j.grid_id or 0, ""),
                        "community": names.get(j.community_id, ""),
                        "street": names.get(j.street_id, ""),
                    }
        return await self._boundaries_page(request, form, errors, status=400 if errors else 200, found=found)

    @post("/boundaries")
    async def save_boundary(self, request: Request, data: Form) -> Response:
        unit_id = form_int(_one(data.get("unit")))
        text = str(_one(data.get("boundary")) or "")
        try:
            if unit_id is None:
                raise RoutingError("请选择单位", "unit")
            await set_boundary(unit_id, text)
        except RoutingError as exc:
            return await self._boundaries_page(
                request, {"unit": unit_id, "boundary": text}, {exc.field or "boundary": exc.message}, status=400
            )
        return Redirect("/admin/boundaries?saved=1", status_code=303)
