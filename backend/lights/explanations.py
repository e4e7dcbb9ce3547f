"""Red-light explanations written by the unit head, reviewed by the command center, and the command
center's logged phone calls. No Litestar imports.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from backend.accounts.service import Viewer
from backend.accounts.tables import Account, Role
from backend.db import aware, utcnow, write_transaction
from backend.i18n import N_
from backend.lights.rows import ExplanationLists, ExplanationRow, PhoneCallRow
from backend.lights.rules import MAX_TEXT, LightError
from backend.lights.tables import Explanation, ExplanationStatus, PhoneCall
from backend.notify.service import notify_accounts, unit_members
from backend.organisation.service import is_command_center_staff
from backend.organisation.tables import Unit
from backend.requests.service import record


def is_head_of(viewer: Viewer | None, unit_id: int) -> bool:
    return viewer is not None and viewer.is_staff and any(
        m.unit_id == unit_id and m.role == Role.unit_head.value for m in viewer.memberships)


async def explanation(expl_id: int) -> ExplanationRow | None:
    return await Explanation.select(
        Explanation.all_columns(), Explanation.unit.name.as_alias("unit_name"),
        Explanation.request.code.as_alias("code"), Explanation.request.description.as_alias("description"),
        Explanation.clock.stage.as_alias("stage"), Explanation.clock.red_lit_at.as_alias("red_lit_at"),
        Explanation.submitted_by.name.as_alias("submitted_by_name"),
        Explanation.reviewed_by.name.as_alias("reviewed_by_name"),
    ).where(Explanation.id == expl_id).first()


async def explanations_for(viewer: Viewer) -> ExplanationLists:
    """The head's tasks (open or sent back first) and, for the command center, those awaiting review."""
    cols = (Explanation.all_columns(), Explanation.unit.name.as_alias("unit_name"),
            Explanation.request.code.as_alias("code"), Explanation.clock.stage.as_alias("stage"))
    head_units = list(viewer.unit_ids(Role.unit_head))
    mine = await Explanation.select(*cols).where(Explanation.unit.is_in(head_units or [0])).order_by(
        Explanation.id, ascending=False).limit(200)
    review: list[ExplanationRow] = []
    recent: list[ExplanationRow] = []
    if is_command_center_staff(viewer):
        review = await Explanation.select(*cols).where(
            Explanation.status == ExplanationStatus.submitted.value).order_by(Explanation.submitted_at)
        recent = await Explanation.select(*cols).where(
            Explanation.status != ExplanationStatus.submitted.value).order_by(Explanation.id, ascending=False).limit(50)
    todo = [e for e in mine if e["status"] in ("open", "returned")]
    done = [e for e in mine if e["status"] not in ("open", "returned")]
    return {"todo": todo, "done": done, "review": review, "recent": recent}


def _text(value: Any, field: str, message: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise LightError(message, field)
    if len(text) > MAX_TEXT:
        raise LightError(N_("不能超过 {max} 字"), field, max=MAX_TEXT)
    return text


async def submit_explanation(expl_id: int, viewer: Viewer, *, reason: Any, measures: Any,
                             promised_at: datetime | None, now: datetime | None = None) -> None:
    """The unit head explains a red light. Refused (nothing written) for anyone else, after review, or empty."""
    now = now or utcnow()
    reason_t = _text(reason, "reason", "请填写超时原因")
    measures_t = _text(measures, "measures", "请填写已采取的措施")
    if promised_at is None:
        raise LightError("请填写承诺办结时间", "promised_at")
    if aware(promised_at) <= now:  # type: ignore[operator]
        raise LightError("承诺办结时间须晚于现在", "promised_at")
    async with write_transaction():
        ex = await Explanation.select().where(Explanation.id == expl_id).first()
        if ex is None:
            raise LightError("说明任务不存在", status=404)
        if not is_head_of(viewer, ex["unit"]):
            raise LightError("只有责任单位的负责人可以提交书面说明", status=403)
        if ex["status"] not in (ExplanationStatus.open.value, ExplanationStatus.returned.value):
            raise LightError("该说明已提交或已审核，不能再修改", status=409)
        first = aware(ex["first_submitted_at"]) or now
        late = first > aware(ex["due_at"])  # type: ignore[operator]
        done = await Explanation.update({
            Explanation.reason: reason_t, Explanation.measures: measures_t, Explanation.promised_at: promised_at,
            Explanation.status: ExplanationStatus.submitted.value, Explanation.submitted_at: now,
            Explanation.first_submitted_at: first, Explanation.submitted_by: viewer.id, Explanation.late: late,
            Explanation.version: ex["version"] + 1,
        }).where((Explanation.id == expl_id) & (Explanation.version == ex["version"])).returning(Explanation.id)
        if not done:
            raise LightError("该说明刚刚被他人更新，请刷新后再试", status=409)
        await record(ex["request"], "explanation", actor=viewer, note=reason_t, assignment_id=ex["assignment"],
                     data={"explanation": expl_id, "late": late}, is_public=False, now=now)


async def review_explanation(expl_id: int, viewer: Viewer, *, decision: str, comment: Any,
                             now: datetime | None = None) -> None:
    now = now or utcnow()
    if not is_command_center_staff(viewer):
        raise LightError("只有指挥中心可以审核书面说明", status=403)
    if decision not in ("accept", "return"):
        raise LightError("请选择通过或退回", "decision")
    comment_t = str(comment or "").strip()
    if decision == "return" and not comment_t:
        raise LightError("退回时请填写意见", "comment")
    if len(comment_t) > MAX_TEXT:
        raise LightError(N_("不能超过 {max} 字"), "comment", max=MAX_TEXT)
    status = ExplanationStatus.accepted.value if decision == "accept" else ExplanationStatus.returned.value
    async with write_transaction():
        ex = await Explanation.select().where(Explanation.id == expl_id).first()
        if ex is None:
            raise LightError("说明任务不存在", status=404)
        done = await Explanation.update({
            Explanation.status: status, Explanation.review_comment: comment_t, Explanation.reviewed_at: now,
            Explanation.reviewed_by: viewer.id, Explanation.version: ex["version"] + 1,
        }).where((Explanation.id == expl_id) & (Explanation.status == ExplanationStatus.submitted.value)
                 ).returning(Explanation.id)
        if not done:
            raise LightError("该说明当前不在待审核状态", status=409)
        await record(ex["request"], "explanation_review", actor=viewer, note=comment_t,
                     assignment_id=ex["assignment"], data={"explanation": expl_id, "decision": decision},
                     is_public=False, now=now)
    if decision == "return":
        heads = await unit_members(ex["unit"], Role.unit_head)
        await notify_accounts(heads, "", comment_t, f"/lights/explanations/{expl_id}", kind="explanation",
                              key=N_("书面说明被退回，请补充"))


async def log_call(expl_id: int, viewer: Viewer, *, called_at: datetime | None, callee: Any, outcome: Any,
                   now: datetime | None = None) -> int:
    now = now or utcnow()
    if not is_command_center_staff(viewer):
        raise LightError("只有指挥中心可以登记督办电话", status=403)
    if called_at is None:
        raise LightError("请填写通话时间", "called_at")
    if aware(called_at) > now + timedelta(minutes=5):  # type: ignore[operator]
        raise LightError("通话时间不能晚于现在", "called_at")
    callee_t = _text(callee, "callee", "请填写接听人")[:100]
    outcome_t = _text(outcome, "outcome", "请填写通话结果")
    async with write_transaction():
        ex = await Explanation.select().where(Explanation.id == expl_id).first()
        if ex is None:
            raise LightError("说明任务不存在", status=404)
        call = PhoneCall(explanation=expl_id, called_at=called_at, callee=callee_t, outcome=outcome_t,
                         logged_by=viewer.id, created_at=now)
        await call.save()
        await record(ex["request"], "phone_call", actor=viewer, note=outcome_t, assignment_id=ex["assignment"],
                     data={"explanation": expl_id, "callee": callee_t}, is_public=False, now=now)
    return call.id


async def calls_of(expl_id: int) -> list[PhoneCallRow]:
    return await PhoneCall.select(PhoneCall.all_columns(), PhoneCall.logged_by.name.as_alias("logged_by_name")).where(
        PhoneCall.explanation == expl_id).order_by(PhoneCall.called_at)


async def unit_name(unit_id: int) -> str:
    row = await Unit.select(Unit.name).where(Unit.id == unit_id).first()
    return row["name"] if row else ""


async def account_name(account_id: int | None) -> str:
    if not account_id:
        return ""
    row = await Account.select(Account.name).where(Account.id == account_id).first()
    return row["name"] if row else ""
