"""Review by the 居务监督委员会 and publication with the privacy check; corrections; board photos.

The overdue clock of periodic types lives in ``backend.notices.duties``; the due-date arithmetic in
``backend.notices.cadence``.
"""

from __future__ import annotations

from datetime import datetime

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import utcnow, write_transaction
from backend.i18n import N_
from backend.notices.attachments import Upload, attach_files, attachments_of, discard, store_uploads
from backend.notices.drafts import load_notice, open_version
from backend.notices.fts import segment
from backend.notices.privacy import exposure_in_table, find_exposed, masked
from backend.notices.rows import NoticeRow, VersionRow
from backend.notices.rules import NoticeError, can_manage, can_review
from backend.notices.tables import (
    Attachment,
    AttachmentKind,
    Notice,
    NoticeStatus,
    NoticeType,
    NoticeVersion,
    VersionStatus,
)
from backend.notify.service import notify_accounts, unit_members


async def privacy_problem(version: VersionRow) -> str | None:
    """Why this version may not be published (an ID or mobile number in the clear), or None."""
    for text, where in ((version["title"], "标题"), (version["body"], "正文")):
        if (what := find_exposed(text or "")) is not None:
            return f"{where}含有{what}，公开内容不得出现完整的{what}"
    for att in await attachments_of(version["id"]):
        if att["kind"] == AttachmentKind.table.value:
            problem = exposure_in_table(att["table"] or {})
            if problem:
                return f"附件“{att['filename']}”{problem}"
    return None


async def submit_version(actor: Viewer, notice_id: int, *, now: datetime | None = None) -> str:
    """Send the open draft to the 居务监督委员会, or publish it at once when its type needs no review.
    Returns the new status of the version."""
    notice = await load_notice(notice_id)
    if not can_manage(actor, notice["unit"]):
        raise NoticeError("只有本社区（村）的工作人员可以提交公开事项", status=403)
    version = await open_version(notice_id)
    if version is None or version["status"] == VersionStatus.review.value:
        raise NoticeError("没有待提交的草稿", status=409)
    problem = await privacy_problem(version)
    if problem:
        raise NoticeError(problem, "privacy", 422)
    ntype = await NoticeType.select(NoticeType.needs_review).where(NoticeType.id == notice["notice_type"]).first()
    now = now or utcnow()
    async with write_transaction():
        if ntype and not ntype["needs_review"]:
            await _publish(notice, version, now)
            return VersionStatus.published.value
        moved = await NoticeVersion.update({NoticeVersion.status: VersionStatus.review.value,
                                            NoticeVersion.submitted_at: now}).where(
            (NoticeVersion.id == version["id"]) & NoticeVersion.status.is_in(
                [VersionStatus.draft.value, VersionStatus.returned.value])).returning(NoticeVersion.id)
        if not moved:
            raise NoticeError("草稿已被他人提交", status=409)
        reviewers = await unit_members(notice["unit"], Role.supervisor)
        await notify_accounts(reviewers, "", version["title"], f"/notices/{notice_id}/review", "notice_review",
                              key=N_("有公开事项待审核"))
    return VersionStatus.review.value


async def review(actor: Viewer, notice_id: int, decision: str, comment: str = "", *,
                 now: datetime | None = None) -> str:
    """The 居务监督委员会 approves (publishes) or returns the version in review with a comment."""
    notice = await load_notice(notice_id)
    if not can_review(actor, notice["unit"]):
        raise NoticeError("只有本社区（村）居务监督委员会成员可以审核", status=403)
    if decision not in ("approve", "return"):
        raise NoticeError("请选择审核结果", "decision")
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise NoticeError("审核意见不能超过 2000 字", "comment")
    if decision == "return" and not comment:
        raise NoticeError("退回修改须填写意见", "comment")
    version = await open_version(notice_id)
    if version is None or version["status"] != VersionStatus.review.value:
        raise NoticeError("没有待审核的版本", status=409)
    now = now or utcnow()
    async with write_transaction():
        values = {NoticeVersion.reviewed_by: actor.id, NoticeVersion.reviewed_at: now,
                  NoticeVersion.review_comment: comment}
        if decision == "return":
            values[NoticeVersion.status] = VersionStatus.returned.value
        moved = await NoticeVersion.update(values).where(
            (NoticeVersion.id == version["id"]) & (NoticeVersion.status == VersionStatus.review.value)
        ).returning(NoticeVersion.id)
        if not moved:
            raise NoticeError("该版本已被审核", status=409)
        if decision == "approve":
            problem = await privacy_problem(version)
            if problem:
                raise NoticeError(problem, "privacy", 422)
            await _publish(notice, version, now)
            return VersionStatus.published.value
        await notify_accounts([version["author"]], "", comment, f"/notices/{notice_id}/edit", "notice_review",
                              key=N_("公开事项被退回修改"))
    return VersionStatus.returned.value


async def _search_text(notice: NoticeRow, version: VersionRow) -> str:
    ntype = await NoticeType.select(NoticeType.name).where(NoticeType.id == notice["notice_type"]).first()
    parts = [version["title"], version["body"], ntype["name"] if ntype else ""]
    for att in await attachments_of(version["id"]):
        if att["kind"] == AttachmentKind.table.value:  # the masked cells: nobody finds a row by its ID number
            shown = masked(att["table"] or {})
            parts.append(" ".join(shown["headers"]))
            parts.extend(" ".join(r) for r in shown["rows"][:300])
    return segment("\n".join(parts))[:200000]


async def _publish(notice: NoticeRow, version: VersionRow, now: datetime) -> None:
    """Inside a transaction: the version becomes the current one, the previous one stays as superseded."""
    from backend.notices.duties import settle  # the duty clock reads notices; imported here to avoid a cycle

    await NoticeVersion.update({NoticeVersion.status: VersionStatus.superseded.value}).where(
        (NoticeVersion.notice == notice["id"]) & (NoticeVersion.status == VersionStatus.published.value))
    await NoticeVersion.update({NoticeVersion.status: VersionStatus.published.value,
                                NoticeVersion.published_at: now,
                                NoticeVersion.submitted_at: version["submitted_at"] or now}).where(
        NoticeVersion.id == version["id"])
    await Notice.update({
        Notice.status: NoticeStatus.published.value, Notice.current_version: version["number"],
        Notice.title: version["title"], Notice.published_at: notice["published_at"] or now,
        Notice.updated_at: now, Notice.search_text: await _search_text(notice, version),
    }).where(Notice.id == notice["id"])
    await settle(unit_id=notice["unit"])


async def start_correction(actor: Viewer, notice_id: int) -> int:
    """A new draft version copied from the published one (its attachments too); the old one stays public."""
    notice = await load_notice(notice_id)
    if not can_manage(actor, notice["unit"]):
        raise NoticeError("只有本社区（村）的工作人员可以更正公开事项", status=403)
    if not notice["current_version"]:
        raise NoticeError("尚未发布的事项直接修改草稿即可", status=409)
    if await open_version(notice_id) is not None:
        raise NoticeError("已有一个正在准备的更正版本", status=409)
    current = await NoticeVersion.select().where(
        (NoticeVersion.notice == notice_id) & (NoticeVersion.status == VersionStatus.published.value)).first()
    assert current is not None
    async with write_transaction():
        last = await NoticeVersion.select(NoticeVersion.number).where(NoticeVersion.notice == notice_id).order_by(
            NoticeVersion.number, ascending=False).first()
        draft = NoticeVersion(notice=notice_id, number=last["number"] + 1, status=VersionStatus.draft.value,
                              title=current["title"], body=current["body"], valid_from=current["valid_from"],
                              valid_until=current["valid_until"], author=actor.id)
        await draft.save()
        atts = [a for a in await attachments_of(current["id"]) if a["kind"] != AttachmentKind.board.value]
        if atts:
            await Attachment.insert(*[Attachment(
                version=draft.id, kind=a["kind"], filename=a["filename"], storage_key=a["storage_key"],
                thumb_key=a["thumb_key"], size=a["size"], table=a["table"] or {}, sort=a["sort"]) for a in atts])
    return draft.id


async def add_board_photo(actor: Viewer, notice_id: int, upload: Upload) -> None:
    """The photo of the physical board, attached to the published version (evidence, not content)."""
    notice = await load_notice(notice_id)
    if not can_manage(actor, notice["unit"]):
        raise NoticeError("只有本社区（村）的工作人员可以上传公开栏照片", status=403)
    current = await NoticeVersion.select(NoticeVersion.id).where(
        (NoticeVersion.notice == notice_id) & (NoticeVersion.status == VersionStatus.published.value)).first()
    if current is None:
        raise NoticeError("发布后才能上传公开栏照片", status=409)
    upload.board = True
    stored = await store_uploads([upload])
    try:
        await attach_files(current["id"], stored, 1000)
    except Exception:
        await discard(stored)
        raise
