"""Residents' questions on a notice: each one a consultation request with the question category's clock.
"""

from __future__ import annotations

from datetime import timedelta

from backend.accounts.service import Viewer
from backend.notices.drafts import load_notice
from backend.notices.rows import NoticeQuestions
from backend.notices.rules import QUESTION_CATEGORY, QUESTION_DAYS, NoticeError
from backend.notices.tables import (
    NoticeQuestion,
    NoticeStatus,
)
from backend.requests import service as requests
from backend.requests.tables import Request


async def question_category() -> int:
    """The consultation category of questions on notices, with its 10-day answer clock (lights' resolve rule)."""
    from backend.lights.tables import LightRule  # the lights domain keeps the clock rules
    from backend.routing.tables import Category

    row = await Category.select(Category.id).where(Category.code == QUESTION_CATEGORY).first()
    if row is None:
        await Category.insert(Category(code=QUESTION_CATEGORY, name="居务公开", name_en="Open residential affairs",
                                       icon="📋", default_level="community", sort=90)).on_conflict(
            target=Category.code, action="DO NOTHING")
        row = await Category.select(Category.id).where(Category.code == QUESTION_CATEGORY).first()
    assert row is not None
    if not await LightRule.exists().where((LightRule.category == row["id"]) & (LightRule.stage == "resolve")):
        await LightRule(category=row["id"], stage="resolve", yellow_hours=float(24 * (QUESTION_DAYS - 2)),
                        red_hours=float(24 * QUESTION_DAYS)).save()
    return row["id"]


async def ask(viewer: Viewer, notice_id: int, question: str, consent: bool, key: str | None = None
              ) -> Request:
    """A resident's question on a published notice becomes a consultation request (the one submission
    service), linked to the notice in the same transaction."""
    if not viewer.is_resident:
        raise NoticeError("请以居民身份登录后提问", status=403)
    notice = await load_notice(notice_id)
    if notice["status"] != NoticeStatus.published.value:
        raise NoticeError("公开事项不存在", status=404)
    text = (question or "").strip()
    if len(text) < 2:
        raise NoticeError("请填写您的问题", "question")
    if len(text) > 1000:
        raise NoticeError("问题不能超过 1000 字", "question")
    category = await question_category()

    async def link(request_id: int, _event_id: int) -> None:
        await NoticeQuestion(notice=notice_id, version=notice["current_version"], request=request_id,
                             asker=viewer.id, question=text, public_consent=consent).save()

    data = requests.NewRequest(kind="consultation", category_id=category,
                               description=f"关于公开事项《{notice['title']}》的提问：{text}",
                               community_id=notice["unit"], is_public=consent, idempotency_key=key)
    try:
        req, _ = await requests.submit(data, viewer, attach=link)
    except requests.RequestError as exc:
        raise NoticeError(exc.message, "question") from None
    return req


async def questions_of(viewer: Viewer | None, notice_id: int) -> NoticeQuestions:
    """Answered questions the askers agreed to publish, and the viewer's own (any state, with the due date)."""
    rows = await NoticeQuestion.select(
        NoticeQuestion.all_columns(), NoticeQuestion.request.code.as_alias("code"),
        NoticeQuestion.request.status.as_alias("status"), NoticeQuestion.request.answer.as_alias("answer"),
        NoticeQuestion.request.resolved_at.as_alias("answered_at"),
    ).where(NoticeQuestion.notice == notice_id).order_by(NoticeQuestion.created_at)
    answered = ("resolved", "closed")
    public = [r for r in rows if r["public_consent"] and r["status"] in answered and r["answer"]]
    mine = [r | {"due_at": r["created_at"] + timedelta(days=QUESTION_DAYS)} for r in rows
            if viewer is not None and r["asker"] == viewer.id]
    return {"public": public, "mine": mine}
