"""Where requests wait for someone: the command center's queue, search and dispatch form, and the street
platform's queue by category.

Dispatching checks the dispatcher's choice here (one lead, assists apart from it) and leaves the rest to
the request service; its refusals are answered by the app's one handler, which shows the dispatch form
again (``opt={FORM: …}``) with the choice kept, or the request's new state after a stale version (409).
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from backend.errors import DomainError
from backend.i18n import gettext
from backend.lights.badges import light_states
from backend.notices import duties as notice_duties
from backend.organisation.tables import Unit, UnitKind
from backend.requests import service as requests
from backend.requests.service import RequestError, StaleVersion
from backend.requests.tables import Assignment, AssignmentRole
from backend.routing import queries
from backend.routing.service import RoutingError, dispatch_options
from backend.routing.tables import Category
from backend.routing.web import (
    DispatchForm,
    Form,
    NoteForm,
    command_center_only,
    dispatch_note,
    request_row,
    routing_context,
    street_only,
    street_units,
    unit_name,
    viewer,
)
from backend.web.errors import FORM
from backend.web.flash import N_, flash
from backend.web.forms import form_int
from backend.web.render import is_htmx, page

DISPATCH_FIELDS = ("lead", "assist", "lead_person", "note")


async def dispatch_page(request: Request, request_id: int, form: dict[str, Any] | None, errors: dict[str, str],
                        status: int = 200) -> Response:
    ctx = await routing_context(request_id, viewer(request))
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


async def dispatch_again(request: Request, exc: DomainError) -> Response:
    """The dispatch form after a refusal: a stale version shows the new state and the suggestion afresh."""
    request_id = request.path_params["request_id"]
    if isinstance(exc, StaleVersion):
        return await dispatch_page(request, request_id, None, {"lead": exc.message}, status=409)
    field = exc.field if exc.field in DISPATCH_FIELDS else "lead"
    form = DispatchForm.of(dict(await request.form())).shown()
    return await dispatch_page(request, request_id, form, {field: exc.message}, status=exc.status)


async def close_assist_again(request: Request, exc: DomainError) -> Response:
    return await dispatch_page(request, request_id=request.path_params["request_id"], form=None,
                               errors={"close_assist": exc.message}, status=exc.status)


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
            errors["unit"] = gettext(N_("单位不存在"))
        if p.get("category") and category_id is None:
            errors["category"] = gettext(N_("类别不存在"))
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
            try:  # a bad filter is shown beside the search box, with the others (a GET: no form to post again)
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

    @get("/requests/{request_id:int}/dispatch")
    async def dispatch_form(self, request: Request, request_id: int) -> Response:
        return await dispatch_page(request, request_id, None, {})

    @post("/requests/{request_id:int}/dispatch", opt={FORM: dispatch_again})
    async def dispatch(self, request: Request, request_id: int, data: Form) -> Response:
        who = viewer(request)
        await request_row(request_id)
        form = DispatchForm.of(data)
        if errors := form.errors():
            return await dispatch_page(request, request_id, form.shown(),
                                       {k: gettext(v) for k, v in errors.items()}, status=400)
        assert form.lead is not None and form.assists is not None and form.version is not None
        # An assisting unit already working on the request keeps its one open part.
        busy = {
            a["unit"]
            for a in await Assignment.select(Assignment.unit).where(
                (Assignment.request == request_id)
                & (Assignment.role == AssignmentRole.assist.value)
                & (Assignment.is_open == True)
            )
        }
        new_assists = [u for u in form.assists if u not in busy]
        handoff = await dispatch_note(form.lead, new_assists, "")
        result = await requests.transition(
            request_id,
            "dispatch",
            who,
            form.version,
            note=await dispatch_note(form.lead, new_assists, form.note),
            lead_unit_id=form.lead,
            lead_person_id=form.person,
            assist_unit_ids=new_assists,
            # Residents see the hand-off; the dispatcher's instruction only if published.
            data={"public_note": handoff},
            note_public=form.note_public,
        )
        flash(request, N_("已派单：{code} 由 {unit} 主办"), code=result.code, unit=await unit_name(result))
        return Redirect("/cc/queue", status_code=303)

    @post("/requests/{request_id:int}/close-assist", opt={FORM: close_assist_again})
    async def close_assist(self, request: Request, request_id: int, data: Form) -> Response:
        who = viewer(request)
        await request_row(request_id)
        form = NoteForm.of(data)
        if form.version is None or form.assignment_id is None:
            raise RequestError(N_("表单已失效，请刷新后重试"))
        await requests.transition(request_id, "close_assist", who, form.version, assignment_id=form.assignment_id,
                                  note=form.note)
        flash(request, N_("已结束协办"))
        return Redirect(f"/cc/requests/{request_id}/dispatch", status_code=303)


class StreetController(Controller):
    path = "/street"
    guards = [street_only]

    @get("/queue")
    async def queue(self, request: Request) -> Response:
        who = viewer(request)
        raw = request.query_params.get("category")
        category_id = form_int(raw) if raw else None
        status = 200
        error = ""
        if raw and (category_id is None or not await Category.exists().where(Category.id == category_id)):
            category_id, status, error = None, 400, gettext(N_("类别不存在"))
        groups, counts = await queries.street_queue(street_units(who), category_id)
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
                "notice_overdue": await notice_duties.board(who),  # 村居公开: overdue notices of the street
            },
            status_code=status,
            block="queue",
        )
