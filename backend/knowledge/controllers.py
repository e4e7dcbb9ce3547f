"""Knowledge base pages: public browse/search/entry pages, the report form's suggestions, the resident's
"这解答了我的问题", and the staff pages (write, version, review, gaps, synonyms)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.response import Redirect

from backend.accounts.service import Viewer
from backend.errors import DomainError
from backend.i18n import gettext as _
from backend.knowledge import search, service
from backend.knowledge.service import CATEGORIES, STATE_LABELS, STATUS_LABELS
from backend.organisation.tables import Unit
from backend.web.errors import FORM, error_page
from backend.web.forms import form_int
from backend.web.guards import staff_only, viewer_of
from backend.web.render import page

MAX_FIELD = 6000
search.segmenter()  # load the word dictionary when the app starts, not on a resident's first keystroke
LABELS = {"categories": CATEGORIES, "state_labels": STATE_LABELS, "status_labels": STATUS_LABELS}


async def _fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: str(v)[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}


def _clean_q(q: str) -> str:
    return (q or "").replace("\x00", "").strip()[:search.MAX_QUERY]


class KnowledgeController(Controller):
    """Public: anyone, signed in or not."""

    path = "/kb"

    @get("/")
    async def index(self, request: Request) -> Response:
        return page(request, "knowledge/index.html", {"counts": await service.category_counts(), **LABELS})

    @get("/search")
    async def search_page(self, request: Request, q: str = "", category: str = "") -> Response:
        """Reads only. The page's script POSTs the search to ``/kb/search/log`` (the gap list's record), and a
        reader without scripts can still say 没有找到答案 (a POST form)."""
        q = _clean_q(q)
        category = category if category in CATEGORIES else ""
        hits = await search.search(q, limit=20, category=category, coverage=True) if q else []
        return page(request, "knowledge/search.html", {"q": q, "category": category, "hits": hits, **LABELS},
                    block="results")

    @post("/search/log")
    async def log_search(self, request: Request) -> Response:
        """The results page's beacon: the question is recorded once per page shown; answers its record's id."""
        f = await _fields(request)
        q = _clean_q(f.get("q", ""))
        if not q:
            raise HTTPException(status_code=400, detail=_("请输入您的问题。"))
        return Response({"s": await service.log_search(q, f.get("category", ""))}, media_type="application/json",
                        status_code=200)

    @post("/search/{search_id:int}/click")
    async def click(self, request: Request, search_id: int) -> Response:
        """A result opened from a logged search (posted by the page's script as the reader follows the link)."""
        entry_id = form_int((await _fields(request)).get("entry"))
        if entry_id is None or not await service.record_click(search_id, entry_id):
            raise NotFoundException(_("搜索记录或知识条目不存在"))
        return Response(None, status_code=204)

    @post("/search/unanswered")
    async def unanswered(self, request: Request) -> Response:
        """没有找到答案: counted for the command center's list, then on to asking the community."""
        f = await _fields(request)
        q = _clean_q(f.get("q", ""))
        if not q:
            raise HTTPException(status_code=400, detail=_("请输入您的问题。"))
        await service.mark_unanswered(form_int(f.get("s")), q, f.get("category", ""))
        return Redirect("/report", status_code=303)

    @get("/c/{category:str}")
    async def category(self, request: Request, category: str, page_no: int = 1) -> Response:
        if category not in CATEGORIES:
            raise NotFoundException(detail=_("没有这个分类"))
        rows, has_next = await service.browse(category, page_no)
        return page(request, "knowledge/category.html",
                    {"category": category, "rows": rows, "page_no": max(1, min(page_no, 1000)), "has_next": has_next,
                     **LABELS})

    @get("/{entry_id:int}")
    async def entry(self, request: Request, entry_id: int, s: str = "", thanks: str = "", served: str = "") -> Response:
        e = await service.public_entry(entry_id)
        share = str(request.base_url).rstrip("/") + f"/kb/{entry_id}"
        return page(request, "knowledge/entry.html",
                    {"e": e, "share_url": share, "search_id": form_int(s), "thanks": thanks, "served": served == "1",
                     **LABELS})

    @post("/{entry_id:int}/feedback")
    async def feedback(self, request: Request, entry_id: int) -> Response:
        f = await _fields(request)
        if f.get("helpful") not in ("1", "0"):
            raise HTTPException(status_code=400, detail=_("请选择“有帮助”或“没帮助”"))
        await service.feedback(entry_id, f["helpful"] == "1", form_int(f.get("s")))
        return Redirect(f"/kb/{entry_id}?thanks={'yes' if f['helpful'] == '1' else 'no'}", status_code=303)

    # ------------------------------------------------------------ the report form

    @get("/suggest")
    async def suggest(self, request: Request, description: str = "", q: str = "") -> Response:
        """Entries matching what the resident is typing (htmx, debounced). Reads only: changes nothing."""
        text = _clean_q(description or q)
        hits = [h for h in await search.search(text, limit=3) if h.matched] if len(text) >= 2 else []
        return page(request, "knowledge/_suggest.html", {"hits": hits, "question": text, **LABELS})

    @post("/self-served")
    async def self_served(self, request: Request) -> Response:
        f = await _fields(request)
        entry_id = form_int(f.get("entry_id"))
        if entry_id is None:
            raise HTTPException(status_code=400, detail=_("缺少知识条目"))
        await service.record_self_served(entry_id, f.get("question", ""), viewer_of(request))
        target = f"/kb/{entry_id}?served=1"
        if request.headers.get("hx-request") == "true":  # the button under the report form: leave the form
            return Response("", status_code=200, headers={"HX-Redirect": target})
        return Redirect(target, status_code=303)


# ---------------------------------------------------------------- staff


def _staff(request: Request) -> Viewer:
    viewer = viewer_of(request)
    if not service.is_kb_staff(viewer):
        raise PermissionDeniedException(_("您的角色无权编写知识库"))
    assert viewer is not None
    return viewer


async def _owner_choices(viewer: Viewer) -> list[dict[str, Any]]:
    q = Unit.select(Unit.id, Unit.name).order_by(Unit.path)
    if service.is_command_center(viewer):
        q = q.where(Unit.kind.is_in(["command_center", "department", "section", "street", "community"]))
    else:
        q = q.where(Unit.id.is_in(service.editable_units(viewer) or [0]))
    return await q


async def entry_form_again(request: Request, exc: DomainError) -> Response:
    """The entry form with the service's refusal (editing: a 403 is the page saying who may edit)."""
    entry_id = request.path_params.get("entry_id")
    if exc.status == 403 and entry_id is not None:
        return error_page(request, exc.status, exc.message)
    viewer = _staff(request)
    entry = await service.get_entry(entry_id) if entry_id is not None else None
    return await KnowledgeStaffController._form(request, viewer, await _fields(request), entry=entry,
                                                errors=exc.field_errors(), status=exc.status)


async def synonyms_again(request: Request, exc: DomainError) -> Response:
    terms = (await _fields(request)).get("terms", "")[:300]
    return page(request, "knowledge/synonyms.html",
                {"groups": await service.synonym_groups(), "error": exc.message, "terms": terms}, status_code=400)


class KnowledgeStaffController(Controller):
    path = "/kb/manage"
    guards = [staff_only]

    @get("/")
    async def manage(self, request: Request, status: str = "") -> Response:
        viewer = _staff(request)
        units = None if service.is_command_center(viewer) else service.editable_units(viewer)
        return page(request, "knowledge/manage.html", {
            "rows": await service.staff_entries(viewer, status=status), "status": status,
            "flagged": await service.flagged_for_owner(units), "queue": await service.review_queue(viewer),
            "is_cc": service.is_command_center(viewer), **LABELS})

    @staticmethod
    async def _form(request: Request, viewer: Viewer, form: dict[str, Any], *, entry: dict | None = None,
                    errors: dict[str, str] | None = None, status: int = 200) -> Response:
        return page(request, "knowledge/form.html", {
            "form": form, "entry": entry, "errors": errors or {}, "owners": await _owner_choices(viewer), **LABELS,
        }, status_code=status)

    @get("/new")
    async def new(self, request: Request, from_request: str = "") -> Response:
        viewer = _staff(request)
        form: dict[str, Any] = {"category": "other", "region": "迎泽区全区"}
        units = service.editable_units(viewer)
        if units:
            form["owner_unit"] = units[0]
        req_id = form_int(from_request)
        if req_id is not None:
            form |= await service.draft_from_request(viewer, req_id)
        return await self._form(request, viewer, form)

    @post("/new", opt={FORM: entry_form_again})
    async def create(self, request: Request) -> Response:
        viewer = _staff(request)
        f = await _fields(request)
        data = service.parse_entry(f)
        if data.errors:
            return await self._form(request, viewer, f, errors=data.errors, status=400)
        entry_id = await service.create_entry(viewer, data, submit=f.get("action") == "submit",
                                              from_request=form_int(f.get("from_request")))
        return Redirect(f"/kb/manage/{entry_id}", status_code=303)

    async def _entry(self, viewer: Viewer, entry_id: int) -> dict[str, Any]:
        entry = await service.get_entry(entry_id)
        if not (service.can_edit(viewer, entry["owner_unit"]) or service.is_command_center(viewer)):
            raise PermissionDeniedException(_("只有负责单位和审核人可以查看此条目的内部信息"))
        return entry

    @get("/{entry_id:int}")
    async def detail(self, request: Request, entry_id: int) -> Response:
        viewer = _staff(request)
        entry = await self._entry(viewer, entry_id)
        versions = await service.versions(entry_id)
        for v in versions:
            v["data"] = service.version_content(v)
        return page(request, "knowledge/staff_entry.html", {
            "entry": entry, "versions": versions, "outdated": service.outdated(entry),
            "clicks": (await service.click_counts([entry_id])).get(entry_id, 0),
            "can_edit": service.can_edit(viewer, entry["owner_unit"]),
            "can_review": service.is_reviewer(viewer, entry["owner_unit"]), **LABELS})

    @get("/{entry_id:int}/edit")
    async def edit_form(self, request: Request, entry_id: int) -> Response:
        viewer = _staff(request)
        entry = await self._entry(viewer, entry_id)
        if not service.can_edit(viewer, entry["owner_unit"]):
            raise PermissionDeniedException(_("只有负责单位和审核人可以修改此条目"))
        latest = (await service.versions(entry_id))[0]
        form = service.version_content(latest) | {"owner_unit": entry["owner_unit"], "review_by": entry["review_by"]}
        return await self._form(request, viewer, form, entry=entry)

    @post("/{entry_id:int}/edit", opt={FORM: entry_form_again})
    async def edit(self, request: Request, entry_id: int) -> Response:
        viewer = _staff(request)
        entry = await self._entry(viewer, entry_id)
        f = await _fields(request)
        data = service.parse_entry(f)
        if data.errors:
            return await self._form(request, viewer, f, entry=entry, errors=data.errors, status=400)
        await service.edit_entry(viewer, entry_id, data, submit=f.get("action") == "submit")
        return Redirect(f"/kb/manage/{entry_id}", status_code=303)

    @post("/{entry_id:int}/versions/{number:int}/submit")
    async def submit(self, request: Request, entry_id: int, number: int) -> Response:
        viewer = _staff(request)
        await service.submit_for_review(viewer, entry_id, number)
        return Redirect(f"/kb/manage/{entry_id}", status_code=303)

    @post("/{entry_id:int}/versions/{number:int}/review")
    async def review(self, request: Request, entry_id: int, number: int) -> Response:
        viewer = _staff(request)
        f = await _fields(request)
        if f.get("decision") not in ("approve", "reject"):
            raise HTTPException(status_code=400, detail=_("请选择“发布”或“退回”"))
        await service.review(viewer, entry_id, number, approve=f["decision"] == "approve", note=f.get("note", ""))
        return Redirect(f"/kb/manage/{entry_id}", status_code=303)

    @post("/{entry_id:int}/withdraw")
    async def withdraw(self, request: Request, entry_id: int) -> Response:
        viewer = _staff(request)
        await service.withdraw(viewer, entry_id)
        return Redirect(f"/kb/manage/{entry_id}", status_code=303)

    # ------------------------------------------------------------ handlers answering a consultation

    @get("/lookup")
    async def lookup(self, request: Request, q: str = "", request_id: str = "") -> Response:
        """Search from a consultation's page; each hit links back to the page with its answer filled in."""
        _staff(request)
        q = _clean_q(q)
        hits = await search.search(q, limit=5) if q else []
        return page(request, "knowledge/_lookup.html", {"hits": hits, "q": q, "request_id": form_int(request_id)},
                    block="results")

    @post("/from-request/{request_id:int}")
    async def from_request(self, request: Request, request_id: int) -> Response:
        """"Save this answer to the knowledge base": a draft the handler completes and sends for review."""
        viewer = _staff(request)
        entry_id = await service.save_answer_as_draft(viewer, request_id)
        return Redirect(f"/kb/manage/{entry_id}/edit", status_code=303)

    # ------------------------------------------------------------ command center

    @get("/gaps")
    async def gaps(self, request: Request, days: int = 90) -> Response:
        viewer = _staff(request)
        if not service.is_command_center(viewer):
            raise PermissionDeniedException(_("此页面仅供指挥中心使用"))
        days = max(1, min(days, 366))
        return page(request, "knowledge/gaps.html", {
            "gaps": await service.gaps(days), "days": days, "self_served": await service.self_served_count(),
        })

    @get("/synonyms")
    async def synonyms(self, request: Request) -> Response:
        self._synonym_admin(request)
        return page(request, "knowledge/synonyms.html", {"groups": await service.synonym_groups(), "error": None,
                                                          "terms": ""})

    def _synonym_admin(self, request: Request) -> Viewer:
        viewer = _staff(request)
        if not (viewer.is_admin or service.is_command_center(viewer)):
            raise PermissionDeniedException(_("同义词词典由管理员和指挥中心维护"))
        return viewer

    @post("/synonyms", opt={FORM: synonyms_again})
    async def add_synonyms(self, request: Request) -> Response:
        viewer = self._synonym_admin(request)
        f = await _fields(request)
        await service.add_synonyms(viewer, f.get("terms", ""))
        return Redirect("/kb/manage/synonyms", status_code=303)

    @post("/synonyms/{group_id:int}/delete")
    async def delete_synonyms(self, request: Request, group_id: int) -> Response:
        self._synonym_admin(request)
        await service.delete_synonyms(group_id)
        return Redirect("/kb/manage/synonyms", status_code=303)
