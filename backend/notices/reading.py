"""Reading notices: one notice with its versions, browsing and full-text search, the staff's lists.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.accounts.service import Viewer
from backend.notices import cadence as cad
from backend.notices.attachments import attachments_of
from backend.notices.drafts import load_notice
from backend.notices.fts import tsquery_text
from backend.notices.privacy import masked
from backend.notices.rows import (
    AttachmentSeen,
    BrowseResult,
    CommunityRow,
    ManagedNotice,
    OpenVersionState,
    PendingReview,
    UnitRow,
)
from backend.notices.rules import (
    PAGE_SIZE,
    NoticeError,
    can_manage,
    can_review,
    can_see_drafts,
    publisher_units,
    reviewer_units,
)
from backend.notices.tables import (
    Attachment,
    AttachmentKind,
    Notice,
    NoticeStatus,
    NoticeType,
    NoticeVersion,
    VersionStatus,
)
from backend.organisation.tables import Unit, UnitKind
from backend.requests.tables import Request
from backend.settings import get_settings


async def unit_row(unit_id: int) -> UnitRow | None:
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
    notice = await load_notice(notice_id)
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


async def attachment_for(viewer: Viewer | None, att_id: int) -> AttachmentSeen | None:
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


async def browse(b: Browse) -> BrowseResult:
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


async def communities() -> list[CommunityRow]:
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


async def manage_list(viewer: Viewer) -> list[ManagedNotice]:
    """The notices of the viewer's communities (all states), with what each is waiting for."""
    units = sorted(publisher_units(viewer) | reviewer_units(viewer))
    if not units:
        return []
    rows = await Notice.select(Notice.all_columns(), Notice.notice_type.name.as_alias("type_name"),
                               Notice.unit.name.as_alias("unit_name")).where(
        Notice.unit.is_in(units)).order_by(Notice.updated_at, ascending=False).limit(200)
    ids = [r["id"] for r in rows] or [0]
    open_by_notice: dict[int, OpenVersionState] = {}
    for v in await NoticeVersion.select(NoticeVersion.notice, NoticeVersion.status, NoticeVersion.number,
                                        NoticeVersion.review_comment).where(
            NoticeVersion.notice.is_in(ids) & NoticeVersion.status.is_in(
                [VersionStatus.draft.value, VersionStatus.review.value, VersionStatus.returned.value])):
        open_by_notice[v["notice"]] = v
    for r in rows:
        r["open"] = open_by_notice.get(r["id"])
    return rows


async def review_queue(viewer: Viewer) -> list[PendingReview]:
    units = sorted(reviewer_units(viewer))
    if not units:
        return []
    return await NoticeVersion.select(
        NoticeVersion.notice, NoticeVersion.number, NoticeVersion.title, NoticeVersion.submitted_at,
        NoticeVersion.notice.unit.name.as_alias("unit_name"),
        NoticeVersion.notice.notice_type.name.as_alias("type_name"),
    ).where((NoticeVersion.status == VersionStatus.review.value) & NoticeVersion.notice.unit.is_in(units)).order_by(
        NoticeVersion.submitted_at)
