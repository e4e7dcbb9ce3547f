"""Drafting a notice: a new notice or a new version of one, with its attachments. No Litestar imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.accounts.service import Viewer
from backend.db import utcnow, write_transaction
from backend.i18n import N_
from backend.notices import cadence as cad
from backend.notices.attachments import Upload, attach_files, discard, store_uploads
from backend.notices.catalogue import types_for_unit
from backend.notices.privacy import MARKS
from backend.notices.rows import NoticeRow, VersionRow
from backend.notices.rules import MAX_BODY, MAX_TITLE, NoticeError, can_manage
from backend.notices.tables import (
    Attachment,
    AttachmentKind,
    Notice,
    NoticeStatus,
    NoticeVersion,
    VersionStatus,
)


@dataclass
class NoticeInput:
    type_id: int | None
    title: str
    body: str
    period: str = ""  # "2026-11", "2026-Q3", "2026" for periodic types
    valid_from: str = ""
    valid_until: str = ""
    change_note: str = ""


def _date(value: str, field: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise NoticeError("请填写有效的日期（如 2026-12-01）", field) from None


async def _checked(data: NoticeInput, unit_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate a draft's fields: (the notice type, the cleaned values). Raises NoticeError."""
    if data.type_id is None:
        raise NoticeError("请选择公开事项类型", "type")
    ntype = next((t for t in await types_for_unit(unit_id) if t["id"] == data.type_id), None)
    if ntype is None:
        raise NoticeError("请选择本单位适用的公开事项类型", "type")
    title = data.title.strip()
    if not title:
        raise NoticeError("请填写标题", "title")
    if len(title) > MAX_TITLE:
        raise NoticeError(N_("标题不能超过 {max} 字"), "title", max=MAX_TITLE)
    body = data.body.strip()
    if len(body) > MAX_BODY:
        raise NoticeError(N_("正文不能超过 {max} 字"), "body", max=MAX_BODY)
    period_start = period_end = None
    if ntype["cadence"] in cad.PERIODIC:
        if not data.period.strip():
            raise NoticeError("请选择公开所属期间", "period")
        try:
            p = cad.parse_key(ntype["cadence"], data.period)
        except ValueError as exc:
            raise NoticeError(str(exc), "period") from None
        period_start, period_end = p.start, p.end
    valid_from = _date(data.valid_from, "valid_from")
    valid_until = _date(data.valid_until, "valid_until")
    if valid_from and valid_until and valid_until < valid_from:
        raise NoticeError("公示截止日期不能早于开始日期", "valid_until")
    if len(data.change_note) > 2000:
        raise NoticeError("更正说明不能超过 2000 字", "change_note")
    return ntype, {"title": title, "body": body, "period_start": period_start, "period_end": period_end,
                   "valid_from": valid_from, "valid_until": valid_until, "change_note": data.change_note.strip()}


async def create_draft(actor: Viewer, unit_id: int, data: NoticeInput, uploads: list[Upload] = ()) -> int:
    """A new notice with its first version as a draft. Refused input writes nothing."""
    if not can_manage(actor, unit_id):
        raise NoticeError("只有本社区（村）的工作人员可以起草公开事项", status=403)
    ntype, clean = await _checked(data, unit_id)
    stored = await store_uploads(list(uploads))
    try:
        async with write_transaction():
            notice = Notice(unit=unit_id, notice_type=ntype["id"], status=NoticeStatus.draft.value,
                            title=clean["title"], period_start=clean["period_start"], period_end=clean["period_end"],
                            created_by=actor.id)
            await notice.save()
            version = NoticeVersion(notice=notice.id, number=1, status=VersionStatus.draft.value,
                                    title=clean["title"], body=clean["body"], valid_from=clean["valid_from"],
                                    valid_until=clean["valid_until"], author=actor.id)
            await version.save()
            await attach_files(version.id, stored)
    except Exception:
        await discard(stored)
        raise
    return notice.id


async def load_notice(notice_id: int) -> NoticeRow:
    row = await Notice.select().where(Notice.id == notice_id).first()
    if row is None:
        raise NoticeError("公开事项不存在", status=404)
    return row


async def open_version(notice_id: int) -> VersionRow | None:
    """The version being prepared (draft, in review or returned), if any."""
    return await NoticeVersion.select().where(
        (NoticeVersion.notice == notice_id)
        & NoticeVersion.status.is_in([VersionStatus.draft.value, VersionStatus.review.value,
                                      VersionStatus.returned.value])).order_by(NoticeVersion.number,
                                                                               ascending=False).first()


async def update_draft(actor: Viewer, notice_id: int, data: NoticeInput, uploads: list[Upload] = (),
                       *, marks: dict[int, list[str]] | None = None, remove: list[int] = ()) -> None:
    """Change the open draft (or a returned version): fields, new attachments, removed ones, column marks."""
    notice = await load_notice(notice_id)
    if not can_manage(actor, notice["unit"]):
        raise NoticeError("只有本社区（村）的工作人员可以修改公开事项", status=403)
    version = await open_version(notice_id)
    if version is None or version["status"] == VersionStatus.review.value:
        raise NoticeError("没有可修改的草稿（审核中的版本不能修改）", status=409)
    if data.type_id is None:
        data.type_id = notice["notice_type"]
    if notice["current_version"] and data.type_id != notice["notice_type"]:
        raise NoticeError("已发布事项的类型不能更改", "type")
    _, clean = await _checked(data, notice["unit"])
    stored = await store_uploads(list(uploads))
    try:
        async with write_transaction():
            await NoticeVersion.update({
                NoticeVersion.title: clean["title"], NoticeVersion.body: clean["body"],
                NoticeVersion.valid_from: clean["valid_from"], NoticeVersion.valid_until: clean["valid_until"],
                NoticeVersion.change_note: clean["change_note"], NoticeVersion.status: VersionStatus.draft.value,
            }).where(NoticeVersion.id == version["id"])
            if not notice["current_version"]:  # the period and type are fixed once published
                await Notice.update({Notice.notice_type: data.type_id, Notice.title: clean["title"],
                                     Notice.period_start: clean["period_start"],
                                     Notice.period_end: clean["period_end"],
                                     Notice.updated_at: utcnow()}).where(Notice.id == notice_id)
            if remove:
                await Attachment.delete().where((Attachment.version == version["id"]) & Attachment.id.is_in(
                    list(remove)))
            for att_id, wanted in (marks or {}).items():
                att = await Attachment.select(Attachment.table).where(
                    (Attachment.id == att_id) & (Attachment.version == version["id"])
                    & (Attachment.kind == AttachmentKind.table.value)).first().output(load_json=True)
                if att is None:
                    continue
                table = dict(att["table"] or {})
                width = len(table.get("headers") or [])
                table["marks"] = [(m if m in MARKS else "") for m in (list(wanted) + [""] * width)[:width]]
                await Attachment.update({Attachment.table: table}).where(Attachment.id == att_id)
            count = await Attachment.count().where(Attachment.version == version["id"])
            await attach_files(version["id"], stored, count)
    except Exception:
        await discard(stored)
        raise
