"""Light pages: admin rules, the command center's board, explanations and phone calls, the assessment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect

from backend.accounts.tables import Role
from backend.errors import DomainError
from backend.i18n import gettext as _
from backend.lights import assess, service
from backend.lights.rules import CLOCK_LABELS, COLOR_LABELS, STAGE_LABELS
from backend.organisation.service import is_command_center_staff
from backend.routing.tables import Category
from backend.settings import get_settings
from backend.web.errors import FORM
from backend.web.flash import N_, flash
from backend.web.guards import admin_only, roles, staff_only, viewer_of
from backend.web.render import page

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
LABELS = {"stages": STAGE_LABELS, "colors": COLOR_LABELS, "clocks": CLOCK_LABELS}
STATUS_LABELS = {"open": "待说明", "submitted": "待审核", "returned": "已退回待补充", "accepted": "已通过"}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def local_input(value: Any) -> datetime | None:
    """A ``datetime-local`` field (Beijing time) → UTC; None when empty or unreadable."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        return None
    if naive.tzinfo is None:
        naive = naive.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return naive.astimezone(UTC)


@dataclass(frozen=True)
class RuleForm:
    """A light rule as the admin typed it; the service reads the hours and office hours (and refuses them)."""

    category: int | None
    stage: str
    yellow_hours: Any
    red_hours: Any
    clock: str
    office_hours: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> RuleForm:
        return cls(category=_int(data.get("category")), stage=str(data.get("stage", "")),
                   yellow_hours=data.get("yellow_hours"), red_hours=data.get("red_hours"),
                   clock=str(data.get("clock", "")), office_hours=str(data.get("office_hours", "")))


async def rules_again(request: Request, exc: DomainError) -> Response:
    return await LightRulesController._page(request, dict(await request.form()), exc.field_errors(),
                                            status=exc.status)


class LightRulesController(Controller):
    path = "/admin/lights"
    guards = [admin_only]

    @get("/")
    async def rules(self, request: Request) -> Response:
        return await self._page(request, {}, {})

    @staticmethod
    async def _page(request: Request, form: dict, errors: dict, status: int = 200) -> Response:
        categories = await Category.select(Category.id, Category.name).where(Category.active == True).order_by(
            Category.sort)
        return page(request, "lights/rules.html", {"rules": await service.list_rules(), "categories": categories,
                                                   "form": form, "errors": errors, **LABELS}, status_code=status)

    @post("/", opt={FORM: rules_again})
    async def save(self, request: Request, data: Form) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        form = RuleForm.of(data)
        await service.save_rule(viewer, category_id=form.category, stage=form.stage, yellow_hours=form.yellow_hours,
                                red_hours=form.red_hours, clock=form.clock, office_hours=form.office_hours)
        return Redirect("/admin/lights?saved=1", status_code=303)

    @post("/{rule_id:int}/delete")
    async def delete(self, request: Request, rule_id: int) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        await service.delete_rule(viewer, rule_id)
        flash(request, N_("规则已删除"))
        return Redirect("/admin/lights", status_code=303)


async def explanation_again(request: Request, exc: DomainError) -> Response:
    """The explanation page with the refused form's message and what was typed."""
    return await LightsController._detail(request, request.path_params["expl_id"], dict(await request.form()),
                                          exc.field_errors(), exc.status)


class LightsController(Controller):
    path = ""
    guards = [staff_only]

    @get("/cc/lights")
    async def board(self, request: Request) -> Response:
        viewer = viewer_of(request)
        if not (is_command_center_staff(viewer) or (viewer and viewer.is_admin)):
            raise PermissionDeniedException(_("红黄灯督办看板仅供指挥中心使用"))
        items = await service.board()
        for i in items:
            i["lit_for"] = service.duration_label(i["lit_seconds"])
        return page(request, "lights/board.html", {"items": items, **LABELS,
                                                   "reds": sum(i["color"] == "red" for i in items),
                                                   "yellows": sum(i["color"] == "yellow" for i in items)},
                    block="board")

    @get("/lights/explanations")
    async def explanations(self, request: Request) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        lists = await service.explanations_for(viewer)
        return page(request, "lights/explanations.html", {**lists, "status_labels": STATUS_LABELS, **LABELS})

    @staticmethod
    async def _detail(request: Request, expl_id: int, form: dict | None = None, errors: dict | None = None,
                      status: int = 200) -> Response:
        viewer = viewer_of(request)
        ex = await service.explanation(expl_id)
        if ex is None:
            raise NotFoundException(_("说明任务不存在"))
        is_head = service.is_head_of(viewer, ex["unit"])
        is_cc = is_command_center_staff(viewer)
        if not (is_head or is_cc or (viewer and viewer.is_admin)):
            raise PermissionDeniedException(_("您无权查看该说明任务"))
        return page(request, "lights/explanation.html", {
            "ex": ex, "calls": await service.calls_of(expl_id), "is_head": is_head, "is_cc": is_cc,
            "form": form or {}, "errors": errors or {}, "status_labels": STATUS_LABELS,
            "overdue": ex["status"] in ("open", "returned") and ex["first_submitted_at"] is None
            and service.aware(ex["due_at"]) < service.utcnow(), **LABELS,
        }, status_code=status)

    @get("/lights/explanations/{expl_id:int}")
    async def detail(self, request: Request, expl_id: int) -> Response:
        return await self._detail(request, expl_id)

    async def _act(self, request: Request, expl_id: int, data: dict, action: Any, done: str) -> Response:
        await action()  # LightError: the explanation page again (explanation_again), or a 404 when it is gone
        flash(request, done)
        return Redirect(f"/lights/explanations/{expl_id}", status_code=303)

    @post("/lights/explanations/{expl_id:int}/submit", opt={FORM: explanation_again})
    async def submit(self, request: Request, expl_id: int, data: Form) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        return await self._act(request, expl_id, data, lambda: service.submit_explanation(
            expl_id, viewer, reason=data.get("reason"), measures=data.get("measures"),
            promised_at=local_input(data.get("promised_at"))), N_("书面说明已提交，等待指挥中心审核"))

    @post("/lights/explanations/{expl_id:int}/review", opt={FORM: explanation_again})
    async def review(self, request: Request, expl_id: int, data: Form) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        return await self._act(request, expl_id, data, lambda: service.review_explanation(
            expl_id, viewer, decision=str(data.get("decision", "")), comment=data.get("comment")),
            N_("审核意见已保存"))

    @post("/lights/explanations/{expl_id:int}/calls", opt={FORM: explanation_again})
    async def call(self, request: Request, expl_id: int, data: Form) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        return await self._act(request, expl_id, data, lambda: service.log_call(
            expl_id, viewer, called_at=local_input(data.get("called_at")), callee=data.get("callee"),
            outcome=data.get("outcome")), N_("电话督办已记录"))


class AssessController(Controller):
    path = "/assess"
    guards = [roles(Role.assessor, Role.admin, Role.unit_head)]

    async def _result(self, request: Request) -> assess.Assessment:
        viewer = viewer_of(request)
        assert viewer is not None
        q = request.query_params
        # AssessError: its 400/403/404 page, or (on the page itself) the message beside the filters.
        period = assess.parse_period(q.get("year"), q.get("start"), q.get("end"))
        return await assess.assessment(viewer, root_id=_int(q.get("unit")), kind=q.get("kind") or None, period=period)

    @get("/")
    async def index(self, request: Request) -> Response:
        try:
            result = await self._result(request)
        except assess.AssessError as exc:
            if exc.status != 400:
                raise
            return page(request, "lights/assess.html", {"error": exc.message, "q": request.query_params,
                                                        "kinds": assess.KIND_FILTERS}, status_code=400)
        query = str(request.url.query or "")
        return page(request, "lights/assess.html", {**result, "pct": assess.pct, "kinds": assess.KIND_FILTERS,
                                                    "q": request.query_params, "query": query,
                                                    "score_note": assess.SCORE_NOTE, "definition": assess.DEFINITION,
                                                    "small_sample_note": assess.SMALL_SAMPLE_NOTE,
                                                    "min_n": assess.MIN_N})

    @get("/export.csv")
    async def csv(self, request: Request) -> Response:
        result = await self._result(request)
        return Response(assess.to_csv(result), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="assessment.csv"'})

    @get("/export.xlsx")
    async def xlsx(self, request: Request) -> Response:
        result = await self._result(request)
        return Response(assess.to_xlsx(result),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": 'attachment; filename="assessment.xlsx"'})

