"""村居公开: the catalogue, notices with versions and attachments, review by the 居务监督委员会, publication
with the privacy check, corrections, browsing and search, and residents' questions. No Litestar imports.

The overdue clock of periodic types lives in ``backend.notices.duties``; the due-date arithmetic in
``backend.notices.cadence``.
"""

from __future__ import annotations

import asyncio
import difflib
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import utcnow, write_transaction
from backend.errors import DomainError
from backend.i18n import N_
from backend.media.processing import PhotoError, process_image
from backend.media.storage import get_storage
from backend.notices import cadence as cad
from backend.notices.fts import segment, tsquery_text
from backend.notices.privacy import MARKS, TableError, exposure_in_table, find_exposed, masked, parse_table
from backend.notices.tables import (
    Attachment,
    AttachmentKind,
    Notice,
    NoticeQuestion,
    NoticeStatus,
    NoticeType,
    NoticeVersion,
    TypeLevel,
    VersionStatus,
)
from backend.notify.service import notify_accounts, unit_members
from backend.organisation.tables import Unit, UnitKind
from backend.requests import service as requests
from backend.requests.tables import Request
from backend.settings import get_settings

CADENCE_LABELS = {"immediate": "即时公开", "monthly": "每月", "quarterly": "每季度", "yearly": "每年",
                  "event": "逐项（事件）"}
LEVEL_LABELS = {"all": "社区和村", "community": "城市社区（居务）", "village": "村（村务）"}
NOTICE_STATUS_LABELS = {"draft": "未发布", "published": "已发布", "withdrawn": "已撤下"}
VERSION_STATUS_LABELS = {"draft": "草稿", "review": "待监委会审核", "returned": "已退回修改", "published": "现行版本",
                         "superseded": "已更正（旧版本）"}
ATTACHMENT_LABELS = {"pdf": "PDF", "image": "图片", "table": "表格", "board": "公开栏照片"}
PUBLISHER_ROLES = (Role.community_staff.value, Role.unit_head.value)
QUESTION_DAYS = 10  # an answer is due within 10 days (the lights' resolve clock of the question category)
QUESTION_CATEGORY = "open_affairs"
MAX_TITLE = 200
MAX_BODY = 20000
MAX_FILE = 10 * 1024 * 1024
MAX_FILES = 10
PAGE_SIZE = 20


class NoticeError(DomainError):
    """A refused change, with a message for the user, the form field and the HTTP status."""


def tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def today() -> date:
    return utcnow().astimezone(tz()).date()


# ---------------------------------------------------------------- who may do what


def publisher_units(viewer: Viewer | None) -> set[int]:
    """Communities this person publishes for: staff or head of that very community (not of a parent)."""
    if viewer is None or not viewer.is_staff:
        return set()
    return {m.unit_id for m in viewer.memberships
            if m.role in PUBLISHER_ROLES and m.unit_kind == UnitKind.community.value}


def reviewer_units(viewer: Viewer | None) -> set[int]:
    if viewer is None or not viewer.is_staff:
        return set()
    return {m.unit_id for m in viewer.memberships if m.role == Role.supervisor.value}


def can_manage(viewer: Viewer | None, unit_id: int) -> bool:
    return unit_id in publisher_units(viewer)


def can_review(viewer: Viewer | None, unit_id: int) -> bool:
    return unit_id in reviewer_units(viewer)


def can_see_drafts(viewer: Viewer | None, unit_id: int) -> bool:
    return can_manage(viewer, unit_id) or can_review(viewer, unit_id) or bool(viewer and viewer.is_admin)


# ---------------------------------------------------------------- the catalogue


@dataclass
class TypeInput:
    code: str = ""
    name: str = ""
    name_en: str = ""
    level: str = "all"
    basis: str = ""
    cadence: str = "quarterly"
    due_day: str = "20"
    grace_days: str = "10"
    publisher: str = ""
    needs_review: bool = True
    active: bool = True


async def list_types(*, active_only: bool = False) -> list[dict[str, Any]]:
    q = NoticeType.select().order_by(NoticeType.sort).order_by(NoticeType.id)
    if active_only:
        q = q.where(NoticeType.active == True)
    return await q


async def is_village(unit_id: int) -> bool:
    """A community of a town (镇) publishes 村务; of a street (街道), 居务."""
    row = await Unit.select(Unit.parent.name.as_alias("parent_name")).where(Unit.id == unit_id).first()
    return bool(row and (row["parent_name"] or "").endswith("镇"))


async def types_for_unit(unit_id: int) -> list[dict[str, Any]]:
    level = TypeLevel.village.value if await is_village(unit_id) else TypeLevel.community.value
    return [t for t in await list_types(active_only=True) if t["level"] in (TypeLevel.all.value, level)]


def _int(value: str, field: str, lo: int, hi: int, message: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise NoticeError(message, field) from None
    if not lo <= number <= hi:
        raise NoticeError(message, field)
    return number


async def save_type(actor: Viewer, type_id: int | None, data: TypeInput) -> int:
    """Create or change a catalogue entry (admins only). Bad input changes nothing."""
    if not actor.is_admin:
        raise NoticeError("只有管理员可以维护公开事项目录", status=403)
    name = data.name.strip()
    if not name or len(name) > 100:
        raise NoticeError("请填写事项名称（100 字以内）", "name")
    if data.cadence not in CADENCE_LABELS:
        raise NoticeError("请选择公开周期", "cadence")
    if data.level not in LEVEL_LABELS:
        raise NoticeError("请选择适用范围", "level")
    due_day = _int(data.due_day, "due_day", 1, 31, "截止日须为 1 到 31 之间的整数")
    grace = _int(data.grace_days, "grace_days", 1, 90, "宽限天数须为 1 到 90 之间的整数")
    if len(data.basis) > 2000 or len(data.name_en) > 150 or len(data.publisher) > 100:
        raise NoticeError("内容过长", "basis")
    values = {NoticeType.name: name, NoticeType.name_en: data.name_en.strip(), NoticeType.level: data.level,
              NoticeType.basis: data.basis.strip(), NoticeType.cadence: data.cadence, NoticeType.due_day: due_day,
              NoticeType.grace_days: grace, NoticeType.publisher: data.publisher.strip() or "居（村）民委员会",
              NoticeType.needs_review: data.needs_review, NoticeType.active: data.active,
              NoticeType.updated_at: utcnow()}
    if type_id is not None:
        done = await NoticeType.update(values).where(NoticeType.id == type_id).returning(NoticeType.id)
        if not done:
            raise NoticeError("公开事项不存在", status=404)
        return type_id
    code = data.code.strip() or f"t{secrets.token_hex(4)}"
    if len(code) > 40 or await NoticeType.exists().where(NoticeType.code == code):
        raise NoticeError("事项代码已存在或过长", "code")
    row = NoticeType(code=code, **{c._meta.name: v for c, v in values.items()})
    await row.save()
    return row.id


# ---------------------------------------------------------------- drafts


@dataclass
class NoticeInput:
    type_id: int | None
    title: str
    body: str
    period: str = ""  # "2026-11", "2026-Q3", "2026" for periodic types
    valid_from: str = ""
    valid_until: str = ""
    change_note: str = ""


@dataclass
class Upload:
    data: bytes
    filename: str
    board: bool = False  # the photo of the physical notice board


@dataclass
class Stored:
    kind: str
    filename: str
    storage_key: str = ""
    thumb_key: str = ""
    size: int = 0
    table: dict[str, Any] = field(default_factory=dict)


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
        raise NoticeError(f"标题不能超过 {MAX_TITLE} 字", "title")
    body = data.body.strip()
    if len(body) > MAX_BODY:
        raise NoticeError(f"正文不能超过 {MAX_BODY} 字", "body")
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


def _store_sync(up: Upload) -> Stored:
    """Check one upload and write its file(s). Runs in a thread (Pillow, openpyxl)."""
    name = (up.filename or "").strip()[:200]
    lower = name.lower()
    if len(up.data) > MAX_FILE:
        raise NoticeError(f"附件“{name}”超过 10 MB", "files", 413)
    if not up.data:
        raise NoticeError(f"附件“{name}”是空文件", "files")
    token = secrets.token_hex(12)
    base = f"notices/{token[:2]}/{token}"
    if up.data[:5] == b"%PDF-" and not up.board:
        get_storage().put(base + ".pdf", up.data)
        return Stored(AttachmentKind.pdf.value, name, base + ".pdf", size=len(up.data))
    if lower.endswith((".xlsx", ".csv")) and not up.board:
        try:
            table = parse_table(up.data, name)
        except TableError as exc:
            raise NoticeError(f"附件“{name}”：{exc.message}", "files") from None
        return Stored(AttachmentKind.table.value, name, size=len(up.data), table=table)
    try:
        done = process_image(up.data, name)  # metadata stripped, re-encoded
    except PhotoError as exc:
        raise NoticeError(f"附件“{name}”：{exc.message}（可上传 PDF、图片、XLSX 或 CSV）", "files") from None
    get_storage().put(base + ".jpg", done.display)
    get_storage().put(base + "_t.jpg", done.thumb)
    kind = AttachmentKind.board.value if up.board else AttachmentKind.image.value
    return Stored(kind, name, base + ".jpg", base + "_t.jpg", len(done.display))


async def store_uploads(uploads: list[Upload]) -> list[Stored]:
    if len(uploads) > MAX_FILES:
        raise NoticeError(f"一次最多上传 {MAX_FILES} 个附件", "files")
    out: list[Stored] = []
    try:
        for up in uploads:
            out.append(await asyncio.to_thread(_store_sync, up))
    except Exception:
        await discard(out)
        raise
    return out


async def discard(stored: list[Stored]) -> None:
    def run() -> None:
        for s in stored:
            for key in (s.storage_key, s.thumb_key):
                if key:
                    get_storage().delete(key)

    await asyncio.to_thread(run)


async def _attach(version_id: int, stored: list[Stored], start: int = 0) -> None:
    if stored:
        await Attachment.insert(*[
            Attachment(version=version_id, kind=s.kind, filename=s.filename, storage_key=s.storage_key,
                       thumb_key=s.thumb_key, size=s.size, table=s.table or {}, sort=start + i)
            for i, s in enumerate(stored)])


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
            await _attach(version.id, stored)
    except Exception:
        await discard(stored)
        raise
    return notice.id


async def _notice(notice_id: int) -> dict[str, Any]:
    row = await Notice.select().where(Notice.id == notice_id).first()
    if row is None:
        raise NoticeError("公开事项不存在", status=404)
    return row


async def open_version(notice_id: int) -> dict[str, Any] | None:
    """The version being prepared (draft, in review or returned), if any."""
    return await NoticeVersion.select().where(
        (NoticeVersion.notice == notice_id)
        & NoticeVersion.status.is_in([VersionStatus.draft.value, VersionStatus.review.value,
                                      VersionStatus.returned.value])).order_by(NoticeVersion.number,
                                                                               ascending=False).first()


async def update_draft(actor: Viewer, notice_id: int, data: NoticeInput, uploads: list[Upload] = (),
                       *, marks: dict[int, list[str]] | None = None, remove: list[int] = ()) -> None:
    """Change the open draft (or a returned version): fields, new attachments, removed ones, column marks."""
    notice = await _notice(notice_id)
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
            await _attach(version["id"], stored, count)
    except Exception:
        await discard(stored)
        raise


# ---------------------------------------------------------------- review and publication


async def attachments_of(version_id: int) -> list[dict[str, Any]]:
    return await Attachment.select().where(Attachment.version == version_id).order_by(Attachment.sort).order_by(
        Attachment.id).output(load_json=True)


async def privacy_problem(version: dict[str, Any]) -> str | None:
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
    notice = await _notice(notice_id)
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
    notice = await _notice(notice_id)
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


async def _search_text(notice: dict[str, Any], version: dict[str, Any]) -> str:
    ntype = await NoticeType.select(NoticeType.name).where(NoticeType.id == notice["notice_type"]).first()
    parts = [version["title"], version["body"], ntype["name"] if ntype else ""]
    for att in await attachments_of(version["id"]):
        if att["kind"] == AttachmentKind.table.value:  # the masked cells: nobody finds a row by its ID number
            shown = masked(att["table"] or {})
            parts.append(" ".join(shown["headers"]))
            parts.extend(" ".join(r) for r in shown["rows"][:300])
    return segment("\n".join(parts))[:200000]


async def _publish(notice: dict[str, Any], version: dict[str, Any], now: datetime) -> None:
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
    notice = await _notice(notice_id)
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
    notice = await _notice(notice_id)
    if not can_manage(actor, notice["unit"]):
        raise NoticeError("只有本社区（村）的工作人员可以上传公开栏照片", status=403)
    current = await NoticeVersion.select(NoticeVersion.id).where(
        (NoticeVersion.notice == notice_id) & (NoticeVersion.status == VersionStatus.published.value)).first()
    if current is None:
        raise NoticeError("发布后才能上传公开栏照片", status=409)
    upload.board = True
    stored = await store_uploads([upload])
    try:
        await _attach(current["id"], stored, 1000)
    except Exception:
        await discard(stored)
        raise


# ---------------------------------------------------------------- reading


async def unit_row(unit_id: int) -> dict[str, Any] | None:
    return await Unit.select(Unit.id, Unit.name, Unit.path, Unit.kind, Unit.parent.name.as_alias("parent_name")
                             ).where(Unit.id == unit_id).first()


def body_diff(old: str, new: str) -> list[tuple[str, str]]:
    """Line changes between two bodies: ('-', line) removed, ('+', line) added, (' ', line) unchanged."""
    out = []
    for line in difflib.ndiff((old or "").splitlines(), (new or "").splitlines()):
        if line[:1] in "-+ ":
            out.append((line[0], line[2:]))
    return out


async def notice_page(viewer: Viewer | None, notice_id: int, number: int | None = None) -> dict[str, Any]:
    """Everything the notice's page shows. Drafts are 404 for anyone but the unit's staff and reviewers."""
    notice = await _notice(notice_id)
    insider = can_see_drafts(viewer, notice["unit"])
    versions = await NoticeVersion.select().where(NoticeVersion.notice == notice_id).order_by(NoticeVersion.number)
    public = [v for v in versions if v["status"] in (VersionStatus.published.value, VersionStatus.superseded.value)]
    visible = versions if insider else public
    if not visible or (notice["status"] == NoticeStatus.withdrawn.value and not insider):
        raise NoticeError("公开事项不存在", status=404)
    if number is None:
        shown = next((v for v in visible if v["number"] == notice["current_version"]), visible[-1])
    else:
        shown = next((v for v in visible if v["number"] == number), None)
        if shown is None:
            raise NoticeError("该版本不存在", status=404)
    previous = next((v for v in reversed(public) if v["number"] < shown["number"]), None)
    atts = await attachments_of(shown["id"])
    tables = [a | {"shown": masked(a["table"] or {})} for a in atts if a["kind"] == AttachmentKind.table.value]
    board = []
    for v in public:  # board photos of every published version: the physical board over time
        board += [a for a in await attachments_of(v["id"]) if a["kind"] == AttachmentKind.board.value]
    ntype = await NoticeType.select().where(NoticeType.id == notice["notice_type"]).first()
    period = None
    if notice["period_start"] and ntype and ntype["cadence"] in cad.PERIODIC:
        period = cad.period_of(ntype["cadence"], notice["period_start"])
    return {
        "notice": notice, "type": ntype, "unit": await unit_row(notice["unit"]), "version": shown,
        "versions": visible, "previous": previous,
        "diff": body_diff(previous["body"], shown["body"]) if previous else [],
        "pdfs": [a for a in atts if a["kind"] == AttachmentKind.pdf.value],
        "images": [a for a in atts if a["kind"] == AttachmentKind.image.value],
        "tables": tables, "board": board, "period": period,
        "can_manage": can_manage(viewer, notice["unit"]), "can_review": can_review(viewer, notice["unit"]),
        "is_current": shown["number"] == notice["current_version"],
        "open_version": next((v for v in versions if v["status"] in (
            VersionStatus.draft.value, VersionStatus.review.value, VersionStatus.returned.value)), None)
        if insider else None,
    }


async def attachment_for(viewer: Viewer | None, att_id: int) -> dict[str, Any] | None:
    """The attachment if this viewer may see it (public versions: anyone; drafts: the unit's insiders)."""
    att = await Attachment.select(
        Attachment.all_columns(), Attachment.version.status.as_alias("version_status"),
        Attachment.version.notice.unit.as_alias("unit"), Attachment.version.notice.status.as_alias("notice_status"),
    ).where(Attachment.id == att_id).first()
    if att is None:
        return None
    public = att["version_status"] in (VersionStatus.published.value, VersionStatus.superseded.value) and att[
        "notice_status"] == NoticeStatus.published.value
    return att if public or can_see_drafts(viewer, att["unit"]) else None


@dataclass
class Browse:
    community_id: int
    type_id: int | None = None
    period: str = ""  # "2026" or "2026-11": notices whose period (or publication) falls in it
    q: str = ""
    page: int = 1


def _period_bounds(period: str) -> tuple[date, date] | None:
    period = period.strip()
    try:
        if len(period) == 4:
            p = cad.parse_key("yearly", period)
        elif len(period) == 7 and "Q" in period.upper():
            p = cad.parse_key("quarterly", period.upper())
        else:
            p = cad.parse_key("monthly", period)
    except ValueError:
        return None
    return p.start, p.end


async def browse(b: Browse) -> dict[str, Any]:
    """Published notices of a community, newest first; by type, by period, or by full-text search."""
    where = ["n.unit = {}", "n.status = 'published'"]
    args: list[Any] = [b.community_id]
    if b.type_id:
        where.append("n.notice_type = {}")
        args.append(b.type_id)
    bounds = _period_bounds(b.period) if b.period else None
    if bounds:
        # Periodic notices by the period they cover; the others by the day they were first published.
        where.append("(CASE WHEN n.period_start IS NOT NULL THEN n.period_start <= {} AND n.period_end >= {} "
                     "ELSE (n.published_at AT TIME ZONE {})::date BETWEEN {} AND {} END)")
        args += [bounds[1], bounds[0], get_settings().timezone, bounds[0], bounds[1]]
    rank = "n.published_at"
    words = tsquery_text(b.q) if b.q.strip() else ""
    if b.q.strip():
        if not words:
            return {"rows": [], "total": 0, "pages": 1, "words": []}
        where.append("to_tsvector('simple', n.search_text) @@ plainto_tsquery('simple', {})")
        args.append(words)
        rank = "ts_rank(to_tsvector('simple', n.search_text), plainto_tsquery('simple', {})) DESC, n.published_at"
        args_rank = [words]
    else:
        args_rank = []
    sql_where = " AND ".join(where)
    total = (await Notice.raw(f"SELECT count(*) AS c FROM notice n WHERE {sql_where}", *args))[0]["c"]
    page = max(b.page, 1)
    rows = await Notice.raw(
        f"SELECT n.id, n.title, n.published_at, n.period_start, n.period_end, n.current_version, "
        f"t.name AS type_name, t.name_en AS type_name_en, t.cadence "
        f"FROM notice n JOIN notice_type t ON t.id = n.notice_type "
        f"WHERE {sql_where} ORDER BY {rank} DESC, n.id DESC LIMIT {PAGE_SIZE} OFFSET {(page - 1) * PAGE_SIZE}",
        *args, *args_rank)
    for r in rows:
        r["period"] = cad.period_of(r["cadence"], r["period_start"]) if r["period_start"] and r[
            "cadence"] in cad.PERIODIC else None
    return {"rows": rows, "total": total, "pages": max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
            "words": words.split()}


async def communities() -> list[dict[str, Any]]:
    return await Unit.select(Unit.id, Unit.name, Unit.parent.name.as_alias("street_name")).where(
        (Unit.kind == UnitKind.community.value) & (Unit.active == True)).order_by(Unit.path)


async def home_community(viewer: Viewer | None) -> int | None:
    """The community a person most likely lives in: staff's own; a resident's latest request's."""
    if viewer is None:
        return None
    mine = sorted(publisher_units(viewer) | reviewer_units(viewer))
    if mine:
        return mine[0]
    if viewer.is_staff:
        for m in viewer.memberships:
            if m.unit_kind == UnitKind.community.value:
                return m.unit_id
        return None
    row = await Request.select(Request.community).where(
        (Request.reporter == viewer.id) & Request.community.is_not_null()).order_by(
        Request.created_at, ascending=False).first()
    return row["community"] if row else None


async def manage_list(viewer: Viewer) -> list[dict[str, Any]]:
    """The notices of the viewer's communities (all states), with what each is waiting for."""
    units = sorted(publisher_units(viewer) | reviewer_units(viewer))
    if not units:
        return []
    rows = await Notice.select(Notice.all_columns(), Notice.notice_type.name.as_alias("type_name"),
                               Notice.unit.name.as_alias("unit_name")).where(
        Notice.unit.is_in(units)).order_by(Notice.updated_at, ascending=False).limit(200)
    ids = [r["id"] for r in rows] or [0]
    open_by_notice: dict[int, dict[str, Any]] = {}
    for v in await NoticeVersion.select(NoticeVersion.notice, NoticeVersion.status, NoticeVersion.number,
                                        NoticeVersion.review_comment).where(
            NoticeVersion.notice.is_in(ids) & NoticeVersion.status.is_in(
                [VersionStatus.draft.value, VersionStatus.review.value, VersionStatus.returned.value])):
        open_by_notice[v["notice"]] = v
    for r in rows:
        r["open"] = open_by_notice.get(r["id"])
    return rows


async def review_queue(viewer: Viewer) -> list[dict[str, Any]]:
    units = sorted(reviewer_units(viewer))
    if not units:
        return []
    return await NoticeVersion.select(
        NoticeVersion.notice, NoticeVersion.number, NoticeVersion.title, NoticeVersion.submitted_at,
        NoticeVersion.notice.unit.name.as_alias("unit_name"),
        NoticeVersion.notice.notice_type.name.as_alias("type_name"),
    ).where((NoticeVersion.status == VersionStatus.review.value) & NoticeVersion.notice.unit.is_in(units)).order_by(
        NoticeVersion.submitted_at)


# ---------------------------------------------------------------- residents' questions


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
              ) -> requests.Request:
    """A resident's question on a published notice becomes a consultation request (the one submission
    service), linked to the notice in the same transaction."""
    if not viewer.is_resident:
        raise NoticeError("请以居民身份登录后提问", status=403)
    notice = await _notice(notice_id)
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


async def questions_of(viewer: Viewer | None, notice_id: int) -> dict[str, list[dict[str, Any]]]:
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
