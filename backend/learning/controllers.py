"""Learning pages: members practise, take competitions and see boards (/learning); the organisation
department keeps the bank, creates competitions, sets branches and exports results (/staff/learning)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from backend.accounts.service import Viewer
from backend.accounts.tables import Account, Role
from backend.db import fetch_tuples, utcnow
from backend.i18n import gettext as _
from backend.learning import bank, competition, leaderboard, practice
from backend.learning.common import (
    DIFFICULTY_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    LearningError,
    is_department,
    is_member,
    practice_per_day,
    require_member,
)
from backend.learning.rows import CompetitionRow, UnitChoice
from backend.organisation.tables import Unit
from backend.settings import get_settings
from backend.web.forms import form_int
from backend.web.guards import roles, signed_in, viewer_of
from backend.web.render import is_htmx, page

LABELS = {"kind_labels": KIND_LABELS, "difficulty_labels": DIFFICULTY_LABELS, "status_labels": STATUS_LABELS}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
department = roles(Role.assessor, Role.admin)


def _viewer(request: Request) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None, "guarded"
    return viewer


async def _fields(request: Request) -> tuple[dict[str, str], dict[str, list[str]], bytes]:
    """Single values (trimmed to a sane length), multi-valued fields, and the bytes of an uploaded file."""
    form = await request.form()
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    upload = b""
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            upload = await value.read(bank.MAX_IMPORT_BYTES + 1)
            continue
        text = str(value)[:5000]
        single.setdefault(key, text)
        multi.setdefault(key, []).append(text[:20])
    return single, multi, upload


def _local(value: str) -> datetime | None:
    """A datetime-local field read in the district's time zone."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if not 2000 <= parsed.year <= 2100:
        return None
    return parsed.replace(tzinfo=ZoneInfo(get_settings().timezone)) if parsed.tzinfo is None else parsed


def _checked(viewer: Viewer) -> bool | None:
    """After ``_visible``: True when it checked that the member may take part (a department member it
    admits without that check, so the play state must ask)."""
    return None if is_department(viewer) else True


class LearningController(Controller):
    path = "/learning"
    guards = [signed_in]

    @get("/")
    async def hub(self, request: Request) -> Response:
        viewer = _viewer(request)
        ctx: dict[str, Any] = {"member": is_member(viewer), "department": is_department(viewer),
                               "per_day": practice_per_day(), **LABELS}
        if ctx["member"]:
            ctx["practice"] = await practice.state(viewer)
            ctx["competitions"] = await competition.list_for_member(viewer)
            ctx["branch"] = await competition.branch_of(viewer.id)
        elif ctx["department"]:
            ctx["competitions"] = await competition.list_all()
        return page(request, "learning/hub.html", ctx)

    # ------------------------------------------------------------ daily practice

    @get("/practice")
    async def practice_page(self, request: Request, reported: str = "") -> Response:
        st = await practice.state(_viewer(request))
        return page(request, "learning/practice.html", {"st": st, "reported": reported == "1", **LABELS})

    @post("/practice")
    async def practice_answer(self, request: Request) -> Response:
        viewer = _viewer(request)
        single, multi, _upload = await _fields(request)
        qid = form_int(single.get("question"))
        try:
            result = await practice.answer(viewer, qid or 0, multi.get("choice", []), single.get("answer", ""))
        except LearningError as exc:
            if exc.status in (403, 404):
                raise  # the one handler: its 403/404 page
            st = await practice.state(viewer)
            return page(request, "learning/practice.html", {"st": st, "error": exc.message, **LABELS},
                        status_code=exc.status)
        st = await practice.state(viewer)
        return page(request, "learning/practice.html", {"st": st, "result": result, **LABELS})

    @post("/questions/{question_id:int}/report")
    async def report(self, request: Request, question_id: int) -> Response:
        single, _multi, _upload = await _fields(request)
        await bank.report_question(_viewer(request), question_id, single.get("reason", ""))
        return Redirect("/learning/practice?reported=1", status_code=303)

    @get("/history")
    async def history(self, request: Request) -> Response:
        viewer = _viewer(request)
        require_member(viewer)
        return page(request, "learning/history.html", {"practice": await practice.history(viewer),
                                                       "attempts": await competition.member_history(viewer)})

    # ------------------------------------------------------------ competitions

    async def _visible(self, viewer: Viewer, competition_id: int) -> CompetitionRow:
        """The competition, if the viewer may see it (a member: may take part, else 403); see ``_checked``."""
        comp = await competition.get(competition_id)
        if is_department(viewer):
            return comp
        if not is_member(viewer):
            raise HTTPException(status_code=403, detail=_("仅限经组织部认定的党员参加学习和竞赛"))
        ok, _branch = await competition.may_take_part(viewer, comp)
        if not ok:
            raise HTTPException(status_code=403, detail=_("本次竞赛仅限指定支部的党员参加"))
        return comp

    @get("/competitions/{competition_id:int}")
    async def detail(self, request: Request, competition_id: int) -> Response:
        viewer = _viewer(request)
        await self._visible(viewer, competition_id)
        if not is_member(viewer):
            return Redirect(f"/learning/competitions/{competition_id}/board", status_code=303)
        return await self._play(request, viewer, competition_id, admitted=_checked(viewer))

    async def _play(self, request: Request, viewer: Viewer, competition_id: int, *, error: str | None = None,
                    status: int = 200, admitted: bool | None = None) -> Response:
        st = await competition.play_state(viewer, competition_id, admitted=admitted)
        review = await competition.review(viewer, competition_id)
        rank = None
        if st.attempt is not None and st.question is None:
            rows = await fetch_tuples(
                "SELECT count(*) + 1 FROM attempt WHERE competition = {} AND (score > {} OR (score = {} AND "
                "time_ms < {}))", competition_id, st.attempt["score"], st.attempt["score"], st.attempt["time_ms"])
            rank = rows[0][0]
        ctx = {"st": st, "review": review, "rank": rank, "error": error, "now": utcnow(),
               "late": request.query_params.get("late") == "1", **LABELS}
        return page(request, "learning/play.html", ctx, status_code=status)

    @get("/competitions/{competition_id:int}/play")
    async def play(self, request: Request, competition_id: int) -> Response:
        viewer = _viewer(request)
        await self._visible(viewer, competition_id)
        return await self._play(request, viewer, competition_id, admitted=_checked(viewer))

    @post("/competitions/{competition_id:int}/start")
    async def start(self, request: Request, competition_id: int) -> Response:
        viewer = _viewer(request)
        try:
            await competition.start(viewer, competition_id)
        except LearningError as exc:
            if exc.status in (403, 404):
                raise  # the one handler: its 403/404 page
            return await self._play(request, viewer, competition_id, error=exc.message, status=exc.status)
        return Redirect(f"/learning/competitions/{competition_id}/play", status_code=303)

    @post("/competitions/{competition_id:int}/answer")
    async def answer(self, request: Request, competition_id: int) -> Response:
        viewer = _viewer(request)
        single, multi, _upload = await _fields(request)
        try:
            outcome = await competition.submit(viewer, competition_id, form_int(single.get("question")),
                                               multi.get("choice", []), single.get("answer", ""))
        except LearningError as exc:
            if exc.status in (403, 404):
                raise  # the one handler: its 403/404 page
            return await self._play(request, viewer, competition_id, error=exc.message, status=exc.status)
        suffix = "?late=1" if outcome.timed_out else ""
        return Redirect(f"/learning/competitions/{competition_id}/play{suffix}", status_code=303)

    @get("/competitions/{competition_id:int}/board")
    async def board(self, request: Request, competition_id: int) -> Response:
        viewer = _viewer(request)
        comp = await self._visible(viewer, competition_id)
        data = await leaderboard.board(competition_id)
        return page(request, "learning/board.html", {"comp": comp, "b": data, "me": viewer.id, **LABELS},
                    block="board" if is_htmx(request) else None)


class LearningAdminController(Controller):
    """The organisation department's side (区委组织部: the assessor role; admins too)."""

    path = "/staff/learning"
    guards = [department]

    @get("/")
    async def bank_page(self, request: Request, category: str = "", kind: str = "") -> Response:
        ctx = {"questions": await bank.list_questions(category[:40], kind[:10]),
               "categories": await bank.categories(), "category": category[:40], "kind": kind[:10],
               "open_reports": len(await bank.open_reports()), **LABELS}
        return page(request, "learning/admin_bank.html", ctx)

    @get("/questions/new")
    async def new_question(self, request: Request) -> Response:
        return page(request, "learning/admin_question.html", {"form": {}, "errors": {}, **LABELS})

    @post("/questions")
    async def create_question(self, request: Request) -> Response:
        single, _multi, _upload = await _fields(request)
        inp = bank.QuestionInput(kind=single.get("kind", ""), category=single.get("category", ""),
                                 difficulty=single.get("difficulty", ""), stem=single.get("stem", ""),
                                 options=[single.get(f"option{i}", "") for i in range(bank.MAX_OPTIONS)],
                                 answer=single.get("answer", ""), explanation=single.get("explanation", ""),
                                 source=single.get("source", ""))
        try:
            await bank.create_question(_viewer(request), inp)
        except LearningError as exc:
            return page(request, "learning/admin_question.html",
                        {"form": single, "errors": {exc.field or "stem": exc.message}, **LABELS}, status_code=400)
        return Redirect("/staff/learning?saved=1", status_code=303)

    @post("/questions/{question_id:int}/active")
    async def toggle(self, request: Request, question_id: int) -> Response:
        single, _multi, _upload = await _fields(request)
        await bank.set_active(_viewer(request), question_id, single.get("active") == "1")
        return Redirect("/staff/learning", status_code=303)

    @get("/template.xlsx")
    async def template(self) -> Response:
        return Response(bank.template_xlsx(), media_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="question-bank-template.xlsx"'})

    @get("/import")
    async def import_page(self, request: Request) -> Response:
        return page(request, "learning/admin_import.html", {"report": None, "error": None})

    @post("/import")
    async def import_file(self, request: Request) -> Response:
        _single, _multi, upload = await _fields(request)
        try:
            report = await bank.import_xlsx(_viewer(request), upload)
        except LearningError as exc:
            return page(request, "learning/admin_import.html", {"report": None, "error": exc.message},
                        status_code=exc.status)
        return page(request, "learning/admin_import.html", {"report": report, "error": None},
                    status_code=400 if report.errors else 200)

    @get("/reports")
    async def reports(self, request: Request) -> Response:
        return page(request, "learning/admin_reports.html", {"reports": await bank.open_reports(), **LABELS})

    @post("/reports/{report_id:int}/resolve")
    async def resolve(self, request: Request, report_id: int) -> Response:
        single, _multi, _upload = await _fields(request)
        await bank.resolve_report(_viewer(request), report_id, single.get("deactivate") == "1")
        return Redirect("/staff/learning/reports", status_code=303)

    # ------------------------------------------------------------ competitions

    async def _units(self) -> list[UnitChoice]:
        return await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.path).where(
            Unit.kind.is_in(["street", "community"]) & (Unit.active == True)).order_by(Unit.path)

    @get("/competitions")
    async def competitions(self, request: Request) -> Response:
        return page(request, "learning/admin_competitions.html",
                    {"competitions": await competition.list_all(), **LABELS})

    @get("/competitions/new")
    async def new_competition(self, request: Request) -> Response:
        return page(request, "learning/admin_competition.html",
                    {"form": {}, "errors": {}, "units": await self._units(), "categories": await bank.categories(),
                     "chosen_units": [], **LABELS})

    @post("/competitions")
    async def create_competition(self, request: Request) -> Response:
        single, multi, _upload = await _fields(request)
        rules = []
        for i in range(3):
            count = form_int(single.get(f"count{i}"))
            rules.append(competition.DrawRule(category=single.get(f"category{i}", "")[:40],
                                              difficulty=form_int(single.get(f"difficulty{i}")) or 0,
                                              count=count if count is not None else 0))
        unit_ids = [u for u in (form_int(v) for v in multi.get("units", [])) if u is not None]
        inp = competition.CompetitionInput(
            title=single.get("title", ""), description=single.get("description", ""),
            starts_at=_local(single.get("starts_at", "")), ends_at=_local(single.get("ends_at", "")),
            seconds_per_question=form_int(single.get("seconds_per_question")), rules=rules,
            unit_ids=unit_ids if single.get("scope") == "units" else [])
        if single.get("scope") == "units" and not unit_ids:
            exc = LearningError(_("请选择参赛的单位（支部所在的街道或社区）"), field="units")
        else:
            try:
                cid = await competition.create(_viewer(request), inp)
            except LearningError as err:
                exc = err
            else:
                return Redirect(f"/learning/competitions/{cid}/board", status_code=303)
        return page(request, "learning/admin_competition.html",
                    {"form": single, "errors": {exc.field or "title": exc.message}, "units": await self._units(),
                     "categories": await bank.categories(), "chosen_units": unit_ids, **LABELS},
                    status_code=exc.status)

    @get("/competitions/{competition_id:int}/export.xlsx")
    async def export(self, competition_id: int) -> Response:
        comp = await competition.get(competition_id)
        data = leaderboard.export_xlsx(comp, await leaderboard.individual(competition_id, None),
                                       await leaderboard.branches(competition_id))
        return Response(data, media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="competition-{competition_id}.xlsx"'})

    # ------------------------------------------------------------ branches

    async def _branches_page(self, request: Request, error: str | None = None, status: int = 200) -> Response:
        rows = await fetch_tuples(
            "SELECT acc.id, acc.name, acc.phone, u.name FROM account acc LEFT JOIN member_branch mb ON "
            "mb.account = acc.id LEFT JOIN unit u ON u.id = mb.unit WHERE acc.is_party_member "
            "ORDER BY acc.id LIMIT 500")
        communities = await Unit.select(Unit.id, Unit.name).where(Unit.kind == "community").order_by(Unit.path)
        members = [{"id": r[0], "name": r[1], "phone": r[2], "branch": r[3]} for r in rows]
        return page(request, "learning/admin_branches.html",
                    {"members": members, "communities": communities, "error": error}, status_code=status)

    @get("/branches")
    async def branches(self, request: Request) -> Response:
        return await self._branches_page(request)

    @post("/branches")
    async def set_branch(self, request: Request) -> Response:
        single, _multi, _upload = await _fields(request)
        phone = single.get("phone", "").strip()[:20]
        acc = await Account.select(Account.id).where(Account.phone == phone).first() if phone else None
        if acc is None:
            return await self._branches_page(request, _("未找到该手机号的党员账号"), 400)
        try:
            await competition.set_branch(_viewer(request), acc["id"], form_int(single.get("unit")) or 0)
        except LearningError as exc:
            return await self._branches_page(request, exc.message, exc.status if exc.status != 404 else 400)
        return Redirect("/staff/learning/branches", status_code=303)
