"""Request pages: the resident's report flow and follow-up, public pages, and the staff field pages.

HTTP in → service call → page or 303. Photos are processed and stored before the service's
transaction and attached inside it; on any refusal the stored files are deleted (or kept in the
form's draft so the resident does not have to pick them again).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Parameter
from litestar.response import Redirect

from backend.accounts.service import Viewer, load_viewer
from backend.accounts.tables import Role
from backend.db import after_response, run_held
from backend.i18n import gettext as _
from backend.lights.badges import light_states
from backend.maps import service as maps
from backend.media.controllers import upload_quota
from backend.media.processing import MAX_BYTES, PhotoError
from backend.ratings.service import SCORE_LABELS, ratings_of, supporter_rating_context
from backend.requests import queries
from backend.requests.photos import service as media
from backend.requests.reporting import (
    KEY_RE,
    KIND_LABELS,
    SOURCE_LABELS,
    Draft,
    attribute_answers,
    check_form,
    drop_draft,
    form_values,
    load_draft,
    new_key,
    resident_account_for,
    route_preview,
    save_draft,
)
from backend.requests.rows import RequestView, TimelineEntry
from backend.requests.service import (
    ACTION_LABELS,
    MAX_DESCRIPTION,
    MAX_NOTE,
    RULES,
    STATUS_LABELS,
    CheckedRequest,
    RequestError,
    StaleVersion,
    can_view,
    find_by_idempotency_key,
    staff_actions,
    submit,
    transition,
)
from backend.requests.tables import Source, Status
from backend.routing.attributes import answers_of, for_categories
from backend.web.auth import draft_token
from backend.web.flash import N_, flash
from backend.web.forms import form_int
from backend.web.guards import resident_only, signed_in, staff_only, viewer_of
from backend.web.render import page

Values = dict[str, str]


# ---------------------------------------------------------------- shared helpers


async def read_uploads(form: Any, request: Request, name: str = "photos") -> tuple[list[tuple[str, bytes]], str | None]:
    """The non-empty files of a multipart field, each read up to the size limit (never more into memory),
    counted against the hourly upload limits before anything is decoded or written (429 when over)."""
    files: list[tuple[str, bytes]] = []
    getall = getattr(form, "getall", None)
    items = getall(name, []) if getall else []
    for item in items:
        if not isinstance(item, UploadFile):
            continue
        data = await item.read(MAX_BYTES + 1)
        filename = item.filename or ""
        await item.close()
        if not data and not filename:
            continue  # an empty file input: the browser sends an empty part
        if len(data) > MAX_BYTES:
            return [], _("「{name}」超过 15 MB，请压缩后再上传").format(name=filename[:40] or _("照片"))
        files.append((filename, data))
    if name == "photos":  # photos chosen with WeChat's JS-SDK arrive as media ids (issue 23)
        from backend.wechat.jssdk import photos_from_form

        wechat_files, error = await photos_from_form(form, media.MAX_PHOTOS)
        if error:
            return [], error
        files += wechat_files
    await upload_quota(request, files)
    return files, None


def _int(value: Any) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _labels() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS, "action_labels": ACTION_LABELS,
            "source_labels": SOURCE_LABELS, "score_labels": SCORE_LABELS}


async def _form_context(values: Values, errors: dict[str, str], *, staff: bool, kept: int, drafted: bool,
                        located: str = "", notice: str = "") -> dict[str, Any]:
    key = values.get("idempotency_key") or ""
    if not KEY_RE.match(key):
        key = new_key()
    return {
        "form": values, "errors": errors, "key": key, "staff": staff, "kept_photos": kept, "drafted": drafted,
        "located": located, "notice": notice, "categories": await queries.categories(),
        "communities": await queries.communities(),
        "kinds": KIND_LABELS, "max_description": MAX_DESCRIPTION, "max_photos": media.MAX_PHOTOS,
        "action": "/staff/report" if staff else "/report", "route": await route_preview(values),
        "sources": {k: v for k, v in SOURCE_LABELS.items() if k != Source.resident.value},
    } | await _attribute_context(values)


async def _attribute_context(values: Values) -> dict[str, Any]:
    """The categories' extra questions and the answers given so far (requests/_category_attributes.html)."""
    ids = [c["id"] for c in await queries.categories()]
    return {"category_attributes": await for_categories(ids), "attr_answers": attribute_answers(values)}


def _blank(staff: bool) -> Values:
    values = dict.fromkeys(("kind", "category", "description", "lat", "lon", "community", "address",
                            "contact_name", "contact_phone"), "")
    values |= {"is_public": "1", "idempotency_key": new_key(), "source": Source.patrol.value if staff else ""}
    return values


async def _show_form(request: Request, values: Values, errors: dict[str, str], *, staff: bool, kept: int,
                     located: str = "", notice: str = "", ok_notice: str = "", status: int = 400,
                     drafted: bool | None = None) -> Response:
    """``drafted``: the form continues a draft (by default: one holding ``kept`` photos); its POST reads it."""
    from backend.wechat.jssdk import page_config

    ctx = await _form_context(values, errors, staff=staff, kept=kept, drafted=kept > 0 if drafted is None else drafted,
                              located=located, notice=notice)
    ctx["ok_notice"] = ok_notice
    ctx["wx"] = None if staff else await page_config(request)  # inside WeChat: location and photos (issue 23)
    return page(request, "requests/report.html", ctx, status_code=status)


async def _take_report(request: Request, viewer: Viewer | None, *, staff: bool) -> Response:
    """POST of the report form, for residents (signed in or not) and for staff filing on behalf / on patrol."""
    form = await request.form()
    values = form_values(form)
    key = values["idempotency_key"]
    # A repeated key (a double tap, a retried POST) is found by submit() at its unique index, not by a read on
    # every submission. The draft is read only where this form came from one (photos kept, or resumed after
    # sign-in: the form says so), and always for an anonymous POST (a resubmission keeps the first's photos).
    from_draft = viewer is None or form.get("drafted") == "1"
    draft = await load_draft(key, viewer, draft_token(request)) if from_draft and KEY_RE.match(key) else None
    kept = draft.photos if draft else []
    uploads, upload_error = await read_uploads(form, request)
    checked = await check_form(values, staff=staff)
    errors = dict(checked.errors)
    new_photos: list[media.StoredPhoto] = []
    if upload_error:
        errors["photos"] = upload_error
    elif len(kept) + len(uploads) > media.MAX_PHOTOS:
        errors["photos"] = _("最多上传 {max} 张照片（您选择了 {n} 张）").format(
            max=media.MAX_PHOTOS, n=len(kept) + len(uploads))
    elif uploads:
        try:
            new_photos = await media.store_uploads(uploads)
        except PhotoError as exc:
            errors["photos"] = exc.message
    photos = kept + new_photos
    if errors or checked.request is None:
        await _keep_photos(request, key, viewer, values, photos)
        return await _show_form(request, values, errors, staff=staff, kept=len(photos) if KEY_RE.match(key) else 0,
                                located=checked.located)
    if viewer is None:
        # Sign-in comes at the end: keep everything (photos already stored) and come back to it.
        await save_draft(Draft(key, None, values, photos, draft_token(request, create=True)))
        return Redirect(f"/login?next=/report/resume/{key}", status_code=303)
    return await _create(request, viewer, checked.request, values, photos, fresh=new_photos, staff=staff,
                         drafted=draft is not None)


async def _keep_photos(request: Request, key: str, viewer: Viewer | None, values: Values,
                       photos: list[media.StoredPhoto]) -> None:
    if not photos:
        return
    if KEY_RE.match(key):
        token = None if viewer else draft_token(request, create=True)
        await save_draft(Draft(key, viewer.id if viewer else None, values, photos, token))
    else:
        await media.discard(photos)


async def _create(request: Request, viewer: Viewer, checked: CheckedRequest, values: Values,
                  photos: list[media.StoredPhoto], *, fresh: list[media.StoredPhoto], staff: bool,
                  drafted: bool) -> Response:
    """Submit what the service checked; ``fresh`` are the photos stored by this very POST (the others came
    from the draft, if ``drafted``)."""
    data = checked.data
    reporter: Viewer | None = viewer
    filed_by: Viewer | None = None
    if staff:
        filed_by, reporter = viewer, None
        if data.source == Source.on_behalf.value and data.contact_phone:
            account_id = await resident_account_for(data.contact_phone)
            reporter = await load_viewer(account_id) if account_id else None
    try:
        with after_response() as later:  # timers and pushes are queued once the person has the answer
            req, created = await submit(checked, reporter, filed_by=filed_by, attach=media.attacher(photos))
    except RequestError as exc:
        await _keep_photos(request, data.idempotency_key or "", viewer, values, photos)
        return await _show_form(request, values, exc.field_errors(), staff=staff, kept=len(photos))
    except BaseException:
        await media.discard(fresh)  # the draft (if any) keeps its photos for a retry; the sweep collects the rest
        raise
    if not created:
        # The first submission won. Only this POST's own copies are surely unused: the draft's photos may be
        # the very files a concurrent first POST (a double tap) just attached.
        await media.discard(fresh)
        mine = req.filed_by == viewer.id if staff else req.reporter == viewer.id
        if not mine:  # someone else's form: never show or join their request
            values["idempotency_key"] = ""
            return await _show_form(request, values, {"form": _("表单已失效，请重新提交")}, staff=staff, kept=0)
    if drafted:  # a draft saved meanwhile (a double tap) expires anyway
        later.append(partial(drop_draft, data.idempotency_key or ""))
    return Redirect(f"/staff/requests/{req.id}" if staff else f"/report/done/{req.code}", status_code=303,
                    background=BackgroundTask(run_held, later))


async def _timeline(request_id: int, *, public_only: bool, staff_view: bool = False) -> list[TimelineEntry]:
    return await queries.timeline_with_photos(request_id, public_only=public_only, staff_view=staff_view)


# ---------------------------------------------------------------- residents


class ReportController(Controller):
    path = ""

    @get("/report")
    async def report_form(self, request: Request) -> Response:
        viewer = viewer_of(request)
        if viewer is not None and viewer.is_staff:
            return Redirect("/staff/report", status_code=303)
        return await _show_form(request, _blank(False), {}, staff=False, kept=0, status=200)

    @get("/report/route")
    async def route(self, request: Request) -> Response:
        """Where the report will go, shown on the form once a location is chosen (reads only)."""
        values = {k: str(request.query_params.get(k) or "")[:50]
                  for k in ("lat", "lon", "community", "category", "place")}
        return page(request, "requests/_route_preview.html", {"route": await route_preview(values)})

    @post("/report")
    async def report_submit(self, request: Request) -> Response:
        viewer = viewer_of(request)
        if viewer is not None and not viewer.is_resident:
            raise PermissionDeniedException(_("工作人员请使用“代居民反映”入口"))
        return await _take_report(request, viewer, staff=False)

    @get("/report/resume/{key:str}", guards=[resident_only])
    async def resume(self, request: Request, key: str) -> Response:
        """After sign-in: the form again, filled in from this browser's draft; the resident confirms with a POST
        (a GET never files a request)."""
        viewer = viewer_of(request)
        assert viewer is not None
        draft = await load_draft(key, viewer, draft_token(request))
        if draft is None:
            existing = await find_by_idempotency_key(key) if KEY_RE.match(key) else None
            if existing is not None and existing.reporter == viewer.id:
                return Redirect(f"/report/done/{existing.code}", status_code=303)
            return await _show_form(request, _blank(False), {}, staff=False, kept=0, status=410,
                                    notice=_("填写的内容已超过 1 小时未提交，已失效，请重新填写。"))
        await save_draft(Draft(key, viewer.id, draft.values, draft.photos))  # now the signed-in resident's
        checked = await check_form(draft.values)
        return await _show_form(request, draft.values, checked.errors, staff=False, kept=len(draft.photos),
                                drafted=True, located=checked.located, status=200 if checked.data else 400,
                                ok_notice=_("您填写的诉求和照片已保存，请核对后点“提交”。"))

    @get("/report/done/{code:str}", guards=[resident_only])
    async def done(self, request: Request, code: str) -> Response:
        viewer = viewer_of(request)
        req = await queries.request_row(code=code)
        if req is None or viewer is None or req["reporter"] != viewer.id:
            raise NotFoundException(_("诉求不存在"))
        return page(request, "requests/done.html", {"req": req} | _labels())

    @get("/my", guards=[resident_only])
    async def my(self, request: Request,
                 before: int | None = Parameter(query="before", default=None, ge=1, le=2**31 - 1)) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        rows = await queries.my_requests(viewer, before=before, limit=queries.MY_PAGE + 1)
        items = rows[:queries.MY_PAGE]
        older = items[-1]["id"] if len(rows) > queries.MY_PAGE else None
        return page(request, "requests/my.html", {
            "items": items, "before": before, "older": older,
            "to_rate": await queries.resolved_to_rate(viewer)} | _labels())

    async def _own(self, request: Request, code: str) -> tuple[Viewer, RequestView]:
        viewer = viewer_of(request)
        req = await queries.request_row(code=code)
        if req is None or viewer is None or not viewer.is_resident or req["reporter"] != viewer.id:
            # Another resident's request does not exist as far as this viewer is concerned.
            raise NotFoundException(_("诉求不存在或您无权查看"))
        return viewer, req

    async def _detail(self, request: Request, viewer: Viewer, req: RequestView, *, errors: dict[str, str] | None
                      = None, note: str = "", status: int = 200, conflict: str = "") -> Response:
        ctx = {
            "req": req, "timeline": await _timeline(req["id"], public_only=True), "errors": errors or {},
            "note": note, "conflict": conflict, "version": req["version"],
            "can_withdraw": req["status"] in RULES["withdraw"].from_statuses,
            "can_comment": req["status"] in RULES["comment"].from_statuses,
            "max_note": MAX_NOTE, "max_photos": media.MAX_PHOTOS, "ratings": await ratings_of(req["id"]),
            "attribute_answers": await answers_of(req["category"], req["attributes"]),
        } | _labels()
        return page(request, "requests/detail.html", ctx, status_code=status)

    @get("/r/{code:str}", guards=[signed_in])
    async def detail(self, request: Request, code: str) -> Response:
        viewer = viewer_of(request)
        if viewer is not None and viewer.is_staff:
            req = await queries.request_row(code=code)
            if req is not None and await can_view(viewer, req):
                return Redirect(f"/staff/requests/{req['id']}", status_code=303)
            raise NotFoundException(_("诉求不存在或您无权查看"))
        viewer, req = await self._own(request, code)
        return await self._detail(request, viewer, req)

    @post("/r/{code:str}/comment", guards=[resident_only])
    async def comment(self, request: Request, code: str) -> Response:
        viewer, req = await self._own(request, code)
        form = await request.form()
        note = str(form.get("note") or "").strip()
        uploads, upload_error = await read_uploads(form, request)
        if upload_error:
            return await self._detail(request, viewer, req, errors={"photos": upload_error}, note=note, status=400)
        if len(uploads) > media.MAX_PHOTOS:
            return await self._detail(request, viewer, req, note=note, status=400, errors={
                "photos": _("最多上传 {max} 张照片（您选择了 {n} 张）").format(max=media.MAX_PHOTOS, n=len(uploads))})
        if not note and uploads:
            note = _("补充了照片")
        try:
            photos = await media.store_uploads(uploads)
        except PhotoError as exc:
            return await self._detail(request, viewer, req, errors={"photos": exc.message}, note=note, status=400)
        try:
            # A comment changes no state: it needs no version and never conflicts with the staff's work.
            await transition(req["id"], "comment", viewer, None, note=note, attach=media.attacher(photos))
        except RequestError as exc:
            await media.discard(photos)
            fresh = await queries.request_row(request_id=req["id"]) or req
            return await self._detail(request, viewer, fresh, errors={"note": exc.message}, note=note,
                                      status=exc.status)
        except BaseException:
            await media.discard(photos)
            raise
        flash(request, N_("补充内容已提交"))
        return Redirect(f"/r/{code}", status_code=303)

    @post("/r/{code:str}/withdraw", guards=[resident_only])
    async def withdraw(self, request: Request, code: str) -> Response:
        viewer, req = await self._own(request, code)
        form = await request.form()
        version = _int(form.get("version"))
        try:
            if version is None:
                raise RequestError(_("表单已失效，请刷新后重试"))
            await transition(req["id"], "withdraw", viewer, version)
        except RequestError as exc:
            fresh = await queries.request_row(request_id=req["id"]) or req
            return await self._detail(request, viewer, fresh, errors={"withdraw": exc.message}, status=exc.status,
                                      conflict=exc.message if isinstance(exc, StaleVersion) else "")
        flash(request, N_("诉求 {code} 已撤回"), code=code)
        return Redirect(f"/r/{code}", status_code=303)


class PublicController(Controller):
    """Open pages: only public requests, only what is safe to show (community name, never person or address)."""

    path = ""

    @get("/public")
    async def public_list(self, request: Request, page_no: int = 1) -> Response:
        page_no = max(1, min(page_no, 1000))
        items = await queries.public_requests(page=page_no)
        return page(request, "requests/public_list.html", {"items": items, "page_no": page_no} | _labels())

    @get("/p/{code:str}")
    async def public_detail(self, request: Request, code: str) -> Response:
        req = await queries.request_row(code=code)
        if req is None or not req["is_public"] or req["status"] == Status.withdrawn.value:
            raise NotFoundException(_("诉求不存在或未公开"))
        public = {k: req[k] for k in ("id", "code", "kind", "status", "description", "created_at", "resolved_at",
                                      "category.name", "community.name", "street.name", "current_unit.name",
                                      "current_person.name", "current_person.public_title", "answer")}
        ctx = {"req": public, "timeline": await _timeline(req["id"], public_only=True), "public": True,
               "supported_now": request.query_params.get("supported") == "1"}
        ctx |= await maps.public_context(req, viewer_of(request))  # supporters, the original of a duplicate
        ctx |= await supporter_rating_context(req, viewer_of(request), ctx["i_support"])  # and their ratings
        return page(request, "requests/public_detail.html", ctx | _labels())


# ---------------------------------------------------------------- staff in the field



def _viewer(request: Request) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None  # staff_only guard
    return viewer


async def _staff_request(viewer: Viewer, request_id: int) -> RequestView:
    req = await queries.request_row(request_id=request_id)
    if req is None or not await can_view(viewer, req):
        raise NotFoundException(_("诉求不存在或不在您的范围内"))
    return req




async def _staff_detail(request: Request, viewer: Viewer, req: RequestView, *, errors: dict[str, str] | None = None,
                        notes: dict[str, str] | None = None, conflict: str = "", status: int = 200) -> Response:
    ctx = {
        "req": req, "version": req["version"], "timeline": await _timeline(req["id"], public_only=False,
                                                                          staff_view=True),
        "actions": await staff_actions(viewer, req), "errors": errors or {}, "notes": notes or {},
        "conflict": conflict, "reporter_phone": await queries.reporter_phone(req["reporter"]),
        "counts": await queries.inbox_counts(viewer), "max_note": MAX_NOTE, "max_photos": media.MAX_PHOTOS,
        "attribute_answers": await answers_of(req["category"], req["attributes"]),
        "ratings": await ratings_of(req["id"]),
        "light": (await light_states([req["id"]]))[req["id"]],
    } | _labels()
    ctx |= await maps.staff_request_context(req, viewer, ctx["actions"])  # map, supporters, mark a duplicate
    ctx |= await supporter_rating_context(req, viewer, ctx["i_support"])  # the supporters' ratings
    return page(request, "requests/staff_request.html", ctx, status_code=status)


# The confirmation each staff action ends with (shown once on the next page, in the reader's language).
DONE_LABELS = {
    "accept": "已受理 {code}",
    "progress": "已记录 {code} 的办理进展",
    "resolve": "已办结 {code}，已通知居民评价",
    "answer": "已答复 {code}，已通知居民评价",
    "return": "已将 {code} 退回指挥中心",
}


class StaffRequestsController(Controller):
    path = "/staff"
    guards = [staff_only]

    @get("/inbox")
    async def inbox(self, request: Request, status: str = "", kind: str = "", category: str = "") -> Response:
        viewer = _viewer(request)
        filters = {"status": status if status in STATUS_LABELS else "", "kind": kind if kind in KIND_LABELS else "",
                   "category": category if category.isdigit() else ""}
        items = await queries.inbox(viewer, **filters)
        ctx = {"items": items, "filters": filters, "counts": await queries.inbox_counts(viewer),
               "categories": await queries.categories()} | _labels()
        return page(request, "requests/inbox.html", ctx, block="inbox_list")

    @get("/inbox/counts")
    async def inbox_counts(self, request: Request) -> Response:
        counts = await queries.inbox_counts(_viewer(request))
        return page(request, "requests/_inbox_counts.html", {"counts": counts} | _labels())

    @get("/requests/{request_id:int}")
    async def request_detail(self, request: Request, request_id: int, kb: str = "") -> Response:
        viewer = _viewer(request)
        from backend.knowledge.service import answer_note  # ?kb=ID: answer with a knowledge entry (issue 18)

        notes = await answer_note(form_int(kb))
        return await _staff_detail(request, viewer, await _staff_request(viewer, request_id), notes=notes)

    async def _act(self, request: Request, request_id: int, action: str) -> Response:
        viewer = _viewer(request)
        req = await _staff_request(viewer, request_id)
        form = await request.form()
        note = str(form.get("note") or "").strip()
        version = _int(form.get("version"))
        notes = {action: note}
        uploads, upload_error = await read_uploads(form, request)
        if upload_error or len(uploads) > media.MAX_PHOTOS:
            message = upload_error or _("最多上传 {max} 张照片（您选择了 {n} 张）").format(
                max=media.MAX_PHOTOS, n=len(uploads))
            return await _staff_detail(request, viewer, req, errors={action: message}, notes=notes, status=400)
        if version is None:
            return await _staff_detail(request, viewer, req, errors={action: _("表单已失效，请刷新后重试")},
                                       notes=notes, status=400)
        try:
            photos = await media.store_uploads(uploads)
        except PhotoError as exc:
            return await _staff_detail(request, viewer, req, errors={action: exc.message}, notes=notes, status=400)
        try:
            await transition(request_id, action, viewer, version, note=note, attach=media.attacher(photos),
                             note_public=form.get("note_public") == "1")
        except RequestError as exc:
            await media.discard(photos)
            fresh = await _staff_request(viewer, request_id)
            if isinstance(exc, StaleVersion):
                # Never overwrite: show the new state and fresh forms; what was typed stays in the form.
                return await _staff_detail(request, viewer, fresh, conflict=exc.message, notes=notes,
                                           status=409)
            if exc.status == 403:
                raise PermissionDeniedException(exc.message) from exc
            return await _staff_detail(request, viewer, fresh, errors={action: exc.message}, notes=notes,
                                       status=exc.status)
        except BaseException:
            await media.discard(photos)
            raise
        flash(request, DONE_LABELS[action], code=req["code"])
        return Redirect(f"/staff/requests/{request_id}", status_code=303)

    @post("/requests/{request_id:int}/accept")
    async def accept(self, request: Request, request_id: int) -> Response:
        return await self._act(request, request_id, "accept")

    @post("/requests/{request_id:int}/progress")
    async def progress(self, request: Request, request_id: int) -> Response:
        return await self._act(request, request_id, "progress")

    @post("/requests/{request_id:int}/resolve")
    async def resolve(self, request: Request, request_id: int) -> Response:
        return await self._act(request, request_id, "resolve")

    @post("/requests/{request_id:int}/answer")
    async def answer(self, request: Request, request_id: int) -> Response:
        return await self._act(request, request_id, "answer")

    @post("/requests/{request_id:int}/return")
    async def return_(self, request: Request, request_id: int) -> Response:
        return await self._act(request, request_id, "return")

    @get("/report")
    async def staff_report_form(self, request: Request) -> Response:
        return await _show_form(request, _blank(True), {}, staff=True, kept=0, status=200)

    @post("/report", guards=[staff_only])
    async def staff_report_submit(self, request: Request) -> Response:
        viewer = _viewer(request)
        if not viewer.has_role(Role.grid_worker, Role.community_staff, Role.street_staff, Role.unit_head,
                               Role.dispatcher):
            raise PermissionDeniedException(_("您的角色不能代居民反映诉求"))
        return await _take_report(request, viewer, staff=True)
