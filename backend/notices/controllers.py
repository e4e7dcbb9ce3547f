"""村居公开 pages: residents browse, search, read, print and ask; community staff draft, submit, correct and
photograph the board; the 居务监督委员会 reviews; streets see overdue lights; admins keep the catalogue."""

from __future__ import annotations

import asyncio
import io
import secrets
from typing import Any
from urllib.parse import urlencode

import segno
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.response import Redirect

from backend.accounts.service import Viewer
from backend.db import utcnow
from backend.media.storage import get_storage
from backend.notices import cadence as cad
from backend.notices import duties
from backend.notices import service as svc
from backend.notices.attachments import Upload
from backend.notices.catalogue import TypeInput
from backend.notices.drafts import NoticeInput
from backend.notices.privacy import MARK_LABELS, MARKS
from backend.notices.rules import NoticeError
from backend.web.forms import form_int
from backend.web.guards import admin_only, signed_in, staff_only, viewer_of
from backend.web.render import page

LABELS = {"cadences": svc.CADENCE_LABELS, "levels": svc.LEVEL_LABELS, "version_labels": svc.VERSION_STATUS_LABELS,
          "notice_labels": svc.NOTICE_STATUS_LABELS, "mark_labels": MARK_LABELS, "marks": MARKS,
          "light_labels": duties.LIGHT_LABELS, "attachment_labels": svc.ATTACHMENT_LABELS,
          "question_days": svc.QUESTION_DAYS}
MAX_FIELD = 20000


def _viewer(request: Request) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None, "guarded"
    return viewer


async def _form(request: Request) -> tuple[dict[str, str], list[tuple[str, UploadFile]], Any]:
    form = await request.form()
    fields: dict[str, str] = {}
    files: list[tuple[str, UploadFile]] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            files.append((key, value))
        elif key not in fields:
            fields[key] = str(value)[:MAX_FIELD]
    return fields, files, form


async def _uploads(files: list[tuple[str, UploadFile]], name: str = "files") -> list[Upload]:
    out = []
    for key, f in files:
        if key != name:
            continue
        data = await f.read()
        if data or f.filename:  # an empty file input still sends an empty part
            out.append(Upload(data, f.filename or ""))
    return out


def _input(f: dict[str, str]) -> NoticeInput:
    return NoticeInput(type_id=form_int(f.get("type")), title=f.get("title", ""), body=f.get("body", ""),
                       period=f.get("period", ""), valid_from=f.get("valid_from", ""),
                       valid_until=f.get("valid_until", ""), change_note=f.get("change_note", ""))


def _marks(form: Any) -> dict[int, list[str]]:
    """Column marks sent as mark_<attachment>_<column> = id|phone|address|''."""
    out: dict[int, dict[int, str]] = {}
    for key, value in form.multi_items():
        if isinstance(key, str) and key.startswith("mark_"):
            parts = key.split("_")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() and len(parts[2]) < 3:
                att = form_int(parts[1])
                if att is not None:
                    out.setdefault(att, {})[int(parts[2])] = str(value) if str(value) in MARKS else ""
    return {a: [cols.get(i, "") for i in range(max(cols) + 1)] for a, cols in out.items() if cols}


class NoticesController(Controller):
    path = "/notices"

    # ------------------------------------------------------------ residents

    @get("/")
    async def browse(self, request: Request) -> Response:
        viewer = viewer_of(request)
        qp = request.query_params
        communities = await svc.communities()
        raw = qp.get("community")
        community_id = form_int(raw) if raw else await svc.home_community(viewer)
        status, error = 200, ""
        if raw and community_id not in {c["id"] for c in communities}:
            community_id, status, error = None, 400, "所选社区不存在"
        type_id = form_int(qp.get("type")) if qp.get("type") else None
        period = (qp.get("period") or "").strip()[:10]
        q = (qp.get("q") or "").strip()[:100]
        page_no = form_int(qp.get("page")) or 1
        if period and svc._period_bounds(period) is None:
            status, error, period = 400, "期间格式不正确（如 2026、2026-Q3 或 2026-11）", ""
        result: dict[str, Any] = {"rows": [], "total": 0, "pages": 1, "words": []}
        types: list[dict[str, Any]] = []
        if community_id:
            types = await svc.types_for_unit(community_id)
            result = await svc.browse(svc.Browse(community_id, type_id, period, q, max(min(page_no, 10000), 1)))
        unit = next((c for c in communities if c["id"] == community_id), None)
        base = {"community": community_id or "", "type": type_id or "", "period": period, "q": q}
        return page(request, "notices/list.html", {
            "communities": communities, "unit": unit, "types": types, "type_id": type_id, "period": period, "q": q,
            "result": result, "page_no": page_no, "error": error,
            "query": lambda **kw: urlencode({k: v for k, v in (base | kw).items() if v not in ("", None)}),
            **LABELS}, status_code=status, block="results")

    @get("/{notice_id:int}")
    async def detail(self, request: Request, notice_id: int) -> Response:
        viewer = viewer_of(request)
        raw = request.query_params.get("v")
        number = form_int(raw) if raw else None
        if raw and number is None:
            raise NotFoundException("该版本不存在")
        ctx = await svc.notice_page(viewer, notice_id, number)
        ctx["questions"] = await svc.questions_of(viewer, notice_id)
        ctx["asked"] = request.query_params.get("asked") == "1"
        ctx["ask_key"] = secrets.token_hex(16)
        return page(request, "notices/detail.html", ctx | LABELS)

    @get("/{notice_id:int}/print")
    async def print_view(self, request: Request, notice_id: int) -> Response:
        ctx = await svc.notice_page(viewer_of(request), notice_id)
        url = f"{str(request.base_url).rstrip('/')}/notices/{notice_id}"
        buf = io.BytesIO()
        segno.make(url, error="m").save(buf, kind="svg", scale=4, border=2, xmldecl=False, svgns=True,
                                        title="QR", nl=False)
        return page(request, "notices/print.html", ctx | LABELS | {"qr_svg": buf.getvalue().decode(), "url": url})

    @post("/{notice_id:int}/ask", guards=[signed_in])
    async def ask(self, request: Request, notice_id: int) -> Response:
        viewer = _viewer(request)
        f, _, _ = await _form(request)
        key = f.get("key") or None
        if key is not None and not (8 <= len(key) <= 64):
            key = None
        try:
            await svc.ask(viewer, notice_id, f.get("question", ""), f.get("consent") in ("1", "on"), key)
        except NoticeError as exc:
            if exc.status != 400:
                raise  # the one handler: the 4xx page
            ctx = await svc.notice_page(viewer, notice_id)
            ctx |= {"questions": await svc.questions_of(viewer, notice_id), "ask_error": exc.message,
                    "ask_form": f, "ask_key": secrets.token_hex(16), "asked": False}
            return page(request, "notices/detail.html", ctx | LABELS, status_code=400)
        return Redirect(f"/notices/{notice_id}?asked=1#questions", status_code=303)

    @get("/files/{att_id:int}/{variant:str}")
    async def file(self, request: Request, att_id: int, variant: str) -> Response:
        att = await svc.attachment_for(viewer_of(request), att_id)
        if att is None or variant not in ("full", "thumb") or att["kind"] == "table":
            raise NotFoundException("附件不存在")
        key = att["thumb_key"] if variant == "thumb" and att["thumb_key"] else att["storage_key"]
        try:
            data = await asyncio.to_thread(get_storage().get, key)
        except (OSError, ValueError):
            raise NotFoundException("附件不存在") from None
        is_pdf = att["kind"] == "pdf"
        headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
        if is_pdf:
            headers["Content-Disposition"] = "inline; filename*=UTF-8''" + _quote(att["filename"] or "notice.pdf")
        return Response(data, media_type="application/pdf" if is_pdf else "image/jpeg", headers=headers)

    # ------------------------------------------------------------ community staff

    @get("/manage", guards=[staff_only])
    async def manage(self, request: Request) -> Response:
        viewer = _viewer(request)
        units = sorted(svc.publisher_units(viewer) | svc.reviewer_units(viewer))
        lights = []
        for u in units:
            lights += [d for d in await duties.unit_duties(u) if d["light"] in ("red", "yellow", "late", "pending")]
        return page(request, "notices/manage.html", {
            "rows": await svc.manage_list(viewer), "can_publish": bool(svc.publisher_units(viewer)),
            "queue": await svc.review_queue(viewer), "duties": lights, "has_units": bool(units), **LABELS})

    async def _form_page(self, request: Request, *, notice_id: int | None, form: dict[str, Any],
                         errors: dict[str, str], status: int = 200) -> Response:
        viewer = _viewer(request)
        unit_id = form.get("unit")
        if notice_id is not None:
            notice = await svc._notice(notice_id)
            unit_id = notice["unit"]
        else:
            notice = None
        version = await svc.open_version(notice_id) if notice_id else None
        types = await svc.types_for_unit(unit_id) if unit_id else []
        present = {t["cadence"] for t in types}
        period_groups = [(c, cad.recent_periods(c, svc.today())) for c in cad.PERIODIC if c in present]
        return page(request, "notices/form.html", {
            "notice": notice, "version": version, "form": form, "errors": errors, "types": types,
            "period_groups": period_groups, "attachments": await svc.attachments_of(version["id"]) if version else [],
            "units": sorted(svc.publisher_units(viewer)), **LABELS}, status_code=status)

    @get("/new", guards=[staff_only])
    async def new_form(self, request: Request) -> Response:
        viewer = _viewer(request)
        units = sorted(svc.publisher_units(viewer))
        if not units:
            raise PermissionDeniedException("只有社区（村）工作人员可以发布公开事项")
        return await self._form_page(request, notice_id=None, form={"unit": units[0]}, errors={})

    @post("/new", guards=[staff_only])
    async def create(self, request: Request) -> Response:
        viewer = _viewer(request)
        units = sorted(svc.publisher_units(viewer))
        if not units:
            raise PermissionDeniedException("只有社区（村）工作人员可以发布公开事项")
        f, files, _ = await _form(request)
        unit_id = form_int(f.get("unit")) or units[0]
        try:
            notice_id = await svc.create_draft(viewer, unit_id, _input(f), await _uploads(files))
        except NoticeError as exc:
            if exc.status in (403, 404):
                raise  # the one handler: the 4xx page
            form = dict(f) | {"unit": units[0] if unit_id not in units else unit_id, "type": form_int(f.get("type"))}
            return await self._form_page(request, notice_id=None, form=form, errors={exc.field or "form": exc.message},
                                         status=400)
        return Redirect(f"/notices/{notice_id}/edit?saved=1", status_code=303)

    async def _editable(self, request: Request, notice_id: int) -> dict[str, Any]:
        notice = await svc._notice(notice_id)
        if not svc.can_manage(_viewer(request), notice["unit"]):
            raise NotFoundException("公开事项不存在")  # other communities' drafts are not even acknowledged
        return notice

    @get("/{notice_id:int}/edit", guards=[staff_only])
    async def edit_form(self, request: Request, notice_id: int) -> Response:
        notice = await self._editable(request, notice_id)
        version = await svc.open_version(notice_id)
        if version is None:
            return Redirect(f"/notices/{notice_id}", status_code=303)
        form = {"type": notice["notice_type"], "title": version["title"], "body": version["body"],
                "period": "", "valid_from": version["valid_from"] or "", "valid_until": version["valid_until"] or "",
                "change_note": version["change_note"], "saved": request.query_params.get("saved") == "1"}
        ntype = next((t for t in await svc.list_types() if t["id"] == notice["notice_type"]), None)
        if notice["period_start"] and ntype and ntype["cadence"] in cad.PERIODIC:
            form["period"] = cad.period_of(ntype["cadence"], notice["period_start"]).key
        return await self._form_page(request, notice_id=notice_id, form=form, errors={})

    @post("/{notice_id:int}/edit", guards=[staff_only])
    async def edit(self, request: Request, notice_id: int) -> Response:
        await self._editable(request, notice_id)
        viewer = _viewer(request)
        f, files, form = await _form(request)
        remove = [i for i in (form_int(v) for v in form.getall("remove")) if i is not None] \
            if "remove" in form else []
        try:
            await svc.update_draft(viewer, notice_id, _input(f), await _uploads(files), marks=_marks(form),
                                   remove=remove)
            if f.get("action") == "submit":
                await svc.submit_version(viewer, notice_id)
                return Redirect(f"/notices/{notice_id}", status_code=303)
        except NoticeError as exc:
            if exc.status in (403, 404, 409):
                raise  # the one handler: the 4xx page
            return await self._form_page(request, notice_id=notice_id, form=dict(f) | {"type": form_int(
                f.get("type"))}, errors={exc.field or "form": exc.message}, status=exc.status)
        return Redirect(f"/notices/{notice_id}/edit?saved=1", status_code=303)

    @post("/{notice_id:int}/correct", guards=[staff_only])
    async def correct(self, request: Request, notice_id: int) -> Response:
        await self._editable(request, notice_id)
        await svc.start_correction(_viewer(request), notice_id)
        return Redirect(f"/notices/{notice_id}/edit", status_code=303)

    @post("/{notice_id:int}/board-photo", guards=[staff_only])
    async def board_photo(self, request: Request, notice_id: int) -> Response:
        await self._editable(request, notice_id)
        _, files, _ = await _form(request)
        uploads = await _uploads(files, "photo")
        if not uploads:
            raise HTTPException(status_code=400, detail="请选择公开栏照片")
        await svc.add_board_photo(_viewer(request), notice_id, uploads[0])
        return Redirect(f"/notices/{notice_id}#board", status_code=303)

    # ------------------------------------------------------------ the 居务监督委员会

    @get("/{notice_id:int}/review", guards=[staff_only])
    async def review_form(self, request: Request, notice_id: int) -> Response:
        viewer = _viewer(request)
        notice = await svc._notice(notice_id)
        if not svc.can_review(viewer, notice["unit"]):
            raise NotFoundException("公开事项不存在")
        version = await svc.open_version(notice_id)
        if version is None or version["status"] != "review":
            return Redirect(f"/notices/{notice_id}", status_code=303)
        ctx = await svc.notice_page(viewer, notice_id, version["number"])
        ctx["problem"] = await svc.privacy_problem(version)
        return page(request, "notices/review.html", ctx | LABELS | {"error": ""})

    @post("/{notice_id:int}/review", guards=[staff_only])
    async def review(self, request: Request, notice_id: int) -> Response:
        viewer = _viewer(request)
        f, _, _ = await _form(request)
        try:
            await svc.review(viewer, notice_id, f.get("decision", ""), f.get("comment", ""))
        except NoticeError as exc:
            if exc.status in (403, 404, 409):
                raise  # the one handler: the 4xx page
            version = await svc.open_version(notice_id)
            ctx = await svc.notice_page(viewer, notice_id, version["number"] if version else None)
            ctx["problem"] = await svc.privacy_problem(version) if version else None
            return page(request, "notices/review.html", ctx | LABELS | {"error": exc.message},
                        status_code=exc.status)
        return Redirect(f"/notices/{notice_id}", status_code=303)

    # ------------------------------------------------------------ the street's (and district's) board

    @get("/board", guards=[staff_only])
    async def board(self, request: Request) -> Response:
        rows = await duties.board(_viewer(request), now=utcnow())
        return page(request, "notices/board.html", {"rows": rows, **LABELS})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


class NoticeTypesAdminController(Controller):
    path = "/admin/notice-types"
    guards = [admin_only]

    async def _page(self, request: Request, errors: dict[str, str], form: dict[str, Any], status: int = 200,
                    edit_id: int | None = None) -> Response:
        return page(request, "notices/admin_types.html", {
            "types": await svc.list_types(), "errors": errors, "form": form, "edit_id": edit_id, **LABELS},
            status_code=status)

    @get("/")
    async def index(self, request: Request) -> Response:
        return await self._page(request, {}, {"cadence": "quarterly", "due_day": 20, "grace_days": 10,
                                              "level": "all", "needs_review": True, "active": True})

    def _input(self, f: dict[str, str]) -> TypeInput:
        return TypeInput(code=f.get("code", ""), name=f.get("name", ""), name_en=f.get("name_en", ""),
                         level=f.get("level", ""), basis=f.get("basis", ""), cadence=f.get("cadence", ""),
                         due_day=f.get("due_day", ""), grace_days=f.get("grace_days", ""),
                         publisher=f.get("publisher", ""), needs_review=f.get("needs_review") in ("1", "on"),
                         active=f.get("active") in ("1", "on"))

    @post("/")
    async def create(self, request: Request) -> Response:
        f, _, _ = await _form(request)
        try:
            await svc.save_type(_viewer(request), None, self._input(f))
        except NoticeError as exc:
            return await self._page(request, {exc.field or "form": exc.message}, f, exc.status)
        return Redirect("/admin/notice-types?saved=1", status_code=303)

    @post("/{type_id:int}")
    async def update(self, request: Request, type_id: int) -> Response:
        f, _, _ = await _form(request)
        try:
            await svc.save_type(_viewer(request), type_id, self._input(f))
        except NoticeError as exc:
            if exc.status == 404:
                raise  # the one handler: the 4xx page
            return await self._page(request, {exc.field or "form": exc.message}, f, exc.status, type_id)
        return Redirect("/admin/notice-types?saved=1", status_code=303)

