"""Staff on a request: escalate it one level up, report the assisting part their unit did.

A refusal of the request service (``RequestError``) is answered by the app's one handler, which shows the
request's routing page again (``opt={FORM: …}``) with the message under the action, what was typed kept,
and the service's status (400/403/409: a stale version shows the new state with a fresh version).
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from backend.errors import DomainError
from backend.requests import service as requests
from backend.requests.service import RequestError
from backend.routing.web import Form, NoteForm, request_row, routing_context, unit_name, viewer
from backend.web.errors import FORM, FormPage
from backend.web.flash import N_, flash
from backend.web.guards import staff_only
from backend.web.render import page


def routing_page_again(action: str) -> FormPage:
    """The request's routing page with ``action``'s form showing the refusal and what was typed."""

    async def reshow(request: Request, exc: DomainError) -> Response:
        typed = NoteForm.of(dict(await request.form()))
        ctx = await routing_context(request.path_params["request_id"], viewer(request))
        form = {"note": typed.note, "assignment_id": typed.assignment_id}
        return page(request, "routing/request.html",
                    ctx | {"form": form, "errors": {action: exc.message}, "failed": action}, status_code=exc.status)

    return reshow


class RoutingActionsController(Controller):
    path = "/staff/requests"
    guards = [staff_only]

    @get("/{request_id:int}/routing")
    async def routing_page(self, request: Request, request_id: int) -> Response:
        ctx = await routing_context(request_id, viewer(request))
        return page(request, "routing/request.html", ctx | {"form": {}, "errors": {}}, block="routing")

    @get("/{request_id:int}/assist-forms")
    async def assist_forms(self, request: Request, request_id: int) -> Response:
        """The viewer's "report my part" forms, loaded into the request page (empty when none)."""
        ctx = await routing_context(request_id, viewer(request))
        return page(request, "routing/_assist_forms.html", ctx | {"form": {}, "errors": {}})

    @post("/{request_id:int}/escalate", opt={FORM: routing_page_again("escalate")})
    async def escalate(self, request: Request, request_id: int, data: Form) -> Response:
        who = viewer(request)
        await request_row(request_id)
        form = NoteForm.of(data)
        if form.version is None:
            raise RequestError(N_("表单已失效，请刷新后重试"))
        result = await requests.transition(request_id, "escalate", who, form.version, note=form.note,
                                           note_public=form.note_public)
        flash(request, N_("已上报，现由 {unit} 负责"), unit=await unit_name(result))
        return Redirect(f"/staff/requests/{request_id}", status_code=303)

    @post("/{request_id:int}/assist-report", opt={FORM: routing_page_again("assist_report")})
    async def assist_report(self, request: Request, request_id: int, data: Form) -> Response:
        who = viewer(request)
        await request_row(request_id)
        form = NoteForm.of(data)
        if form.version is None or form.assignment_id is None:
            raise RequestError(N_("表单已失效，请刷新后重试"))
        await requests.transition(request_id, "assist_report", who, form.version, note=form.note,
                                  assignment_id=form.assignment_id, note_public=form.note_public)
        flash(request, N_("协办情况已提交"))
        return Redirect(f"/staff/requests/{request_id}", status_code=303)
