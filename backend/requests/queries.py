"""Read side of the request pages: inbox, lists, and timelines with photos. No Litestar imports."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from piccolo.query.functions.aggregate import Count

from backend.accounts.service import Viewer
from backend.accounts.tables import Account
from backend.i18n import gettext as _
from backend.organisation.tables import Unit
from backend.requests.photos.service import photos_by_event
from backend.requests.rows import PublicRequestRow, RequestListRow, RequestView, TimelineEntry, TimelineRow
from backend.requests.service import ACTION_LABELS, HANDLING_ROLES, STATUS_LABELS, timeline
from backend.requests.tables import OPEN_STATUSES, Assignment, Request, Status
from backend.routing.tables import Category

LIST_COLUMNS = (
    Request.id, Request.code, Request.kind, Request.status, Request.urgent, Request.created_at,
    Request.description, Request.is_public, Request.source, Request.level, Request.version,
    Request.category.name, Request.community.name, Request.current_unit.name, Request.current_person.name,
    Request.current_person.public_title,
)
class CategoryOption(TypedDict):
    """A category of the report form's picker."""

    id: int
    code: str
    name: str
    icon: str


class CommunityOption(TypedDict):
    id: int
    name: str


class StreetCommunities(TypedDict):
    """A street and its communities, for the report form's picker."""

    street: str
    communities: list[CommunityOption]


INBOX_COUNTED = (Status.assigned.value, Status.accepted.value, Status.returned.value)


async def handled_unit_ids(viewer: Viewer) -> list[int]:
    """Units the viewer handles work for: each handling membership's unit and everything below it."""
    paths = sorted({m.unit_path for m in viewer.memberships if m.role in HANDLING_ROLES})
    ids: set[int] = set()
    for path in paths:
        rows = await Unit.select(Unit.id).where(Unit.path.like(path + "%"))
        ids.update(r["id"] for r in rows)
    return sorted(ids)


async def _inbox_scope(viewer: Viewer) -> Any:
    unit_ids = await handled_unit_ids(viewer)
    scope = Request.current_person == viewer.id
    if unit_ids:
        scope = scope | Request.current_unit.is_in(unit_ids)
        # Co-assigned (协办) work sits with another lead but is the viewer's too.
        assist = Assignment.select(Assignment.request).where(
            (Assignment.is_open == True) & (Assignment.role == "assist")
            & (Assignment.unit.is_in(unit_ids) | (Assignment.person == viewer.id)))
        ids = [r["request"] for r in await assist]
        if ids:
            scope = scope | Request.id.is_in(ids)
    return scope


async def inbox(viewer: Viewer, *, status: str = "", kind: str = "", category: str = "",
                limit: int = 200) -> list[RequestListRow]:
    """The viewer's work, each with its light: red, then yellow, then the oldest (urgent first within each)."""
    where = await _inbox_scope(viewer)
    if status in STATUS_LABELS:
        where = where & (Request.status == status)
    else:
        where = where & Request.status.is_in([s.value for s in OPEN_STATUSES])
    if kind:
        where = where & (Request.kind == kind)
    if category.isdigit():
        where = where & (Request.category == int(category))
    rows = await Request.select(*LIST_COLUMNS).where(where).order_by(Request.urgent, ascending=False).order_by(
        Request.created_at).limit(limit)
    from backend.lights.badges import with_lights  # the lights domain reads requests, not the other way

    return await with_lights(rows)


async def inbox_counts(viewer: Viewer) -> dict[str, int]:
    where = (await _inbox_scope(viewer)) & Request.status.is_in(list(INBOX_COUNTED))
    rows = await Request.select(Request.status, Count(Request.id, alias="n")).where(where).group_by(Request.status)
    counts = dict.fromkeys(INBOX_COUNTED, 0)
    for r in rows:
        counts[r["status"]] = r["n"]
    return counts


async def my_requests(viewer: Viewer, limit: int = 100) -> list[RequestListRow]:
    return await Request.select(*LIST_COLUMNS).where(Request.reporter == viewer.id).order_by(
        Request.id, ascending=False).limit(limit)


async def public_requests(*, page: int = 1, per_page: int = 30) -> list[PublicRequestRow]:
    """Public requests, without anything personal: no reporter, phone, name or address."""
    cols = (Request.code, Request.kind, Request.status, Request.created_at, Request.resolved_at, Request.description,
            Request.category.name, Request.community.name, Request.current_unit.name)
    return await Request.select(*cols).where(
        (Request.is_public == True) & (Request.status != Status.withdrawn.value)
    ).order_by(Request.id, ascending=False).offset((page - 1) * per_page).limit(per_page)


async def categories() -> list[CategoryOption]:
    return await Category.select(Category.id, Category.code, Category.name, Category.icon).where(
        Category.active == True).order_by(Category.sort, Category.id)


async def communities() -> list[StreetCommunities]:
    """Communities grouped under their streets, for the picker."""
    rows = await Unit.select(Unit.id, Unit.name, Unit.parent.name).where(
        (Unit.kind == "community") & (Unit.active == True)).order_by(Unit.path)
    groups: dict[str, list[CommunityOption]] = {}
    for r in rows:
        groups.setdefault(r["parent.name"], []).append({"id": r["id"], "name": r["name"]})
    return [{"street": k, "communities": v} for k, v in groups.items()]


async def request_row(*, code: str | None = None, request_id: int | None = None) -> RequestView | None:
    q = Request.select(
        Request.all_columns(), Request.category.name, Request.community.name, Request.street.name,
        Request.grid.name, Request.current_unit.name, Request.current_person.name,
        Request.current_person.public_title, Request.reporter.phone, Request.reporter.name,
        Request.filed_by.name, Request.filed_by.public_title,
    )
    if code is not None:
        q = q.where(Request.code == code)
    else:
        q = q.where(Request.id == (request_id or 0))
    return await q.first()


def _who(prefix: str, ev: TimelineRow) -> str:
    name, title = ev.get(f"{prefix}.name") or "", ev.get(f"{prefix}.public_title") or ""
    return f"{title} {name}".strip()


async def timeline_with_photos(request_id: int, *, public_only: bool, staff_view: bool = False
                               ) -> list[TimelineEntry]:
    """Events in order, each with its photos; residents appear as "居民", staff as title + name."""
    photos = await photos_by_event(request_id)
    out: list[TimelineEntry] = []
    for ev in await timeline(request_id, public_only=public_only):
        data = ev["data"] or {}
        if isinstance(data, str):
            data = json.loads(data or "{}")
        note_internal = bool(data.get("note_internal"))
        is_resident = ev["actor_role"] == "resident"
        if is_resident:
            actor = "居民"
        elif ev["actor_role"] == "":
            actor = "系统"
        else:
            actor = _who("actor", ev)
        out.append({
            "id": ev["id"], "action": ev["action"], "label": ACTION_LABELS.get(ev["action"], ev["action"]),
            "to_status": ev["to_status"], "status_label": STATUS_LABELS.get(ev["to_status"], ""),
            "note": _visible_note(ev, data, note_internal and not staff_view),
            "note_internal": note_internal and staff_view, "sentence": event_sentence(ev["action"], data),
            "created_at": ev["created_at"], "actor": actor, "by_resident": is_resident,
            "unit": ev.get("unit.name") or "", "person": _who("person", ev), "photos": photos.get(ev["id"], []),
            "internal": not ev["is_public"], "data": data if staff_view else None,
        })
    return out


def _visible_note(ev: TimelineRow, data: dict[str, Any], hide_internal: bool) -> str:
    if ev["action"] == "light":
        return ""  # the sentence says it all
    if hide_internal:
        return str(data.get("public_note") or "")  # e.g. the dispatch's hand-off, without the instruction
    return ev["note"]


LIGHT_SENTENCE_LABELS = {
    ("accept", "yellow"): "超过 {hours} 小时未受理，亮黄灯",
    ("accept", "red"): "超过 {hours} 小时未受理，亮红灯",
    ("resolve", "yellow"): "超过 {hours} 小时未办结，亮黄灯",
    ("resolve", "red"): "超过 {hours} 小时未办结，亮红灯",
}
LIGHT_SHORT_LABELS = {
    ("accept", "yellow"): "超过受理时限，亮黄灯",
    ("accept", "red"): "超过受理时限，亮红灯",
    ("resolve", "yellow"): "超过办结时限，亮黄灯",
    ("resolve", "red"): "超过办结时限，亮红灯",
}
SCORE_LABELS = {"satisfied": "满意", "basic": "基本满意", "dissatisfied": "不满意"}


def event_sentence(action: str, data: dict[str, Any]) -> str:
    """What a system event says, in the reader's language ("超过 24 小时未受理，亮黄灯"), or "" for the label."""
    if action == "light":
        key = (str(data.get("stage")), str(data.get("color")))
        if data.get("hours") and key in LIGHT_SENTENCE_LABELS:
            return _(LIGHT_SENTENCE_LABELS[key]).format(hours=data["hours"])
        return _(LIGHT_SHORT_LABELS.get(key, "红黄灯"))
    if action == "rate" and data.get("score") in SCORE_LABELS:
        return _("居民评价：{score}").format(score=_(SCORE_LABELS[data["score"]]))
    if action == "supporter_rate" and data.get("score") in SCORE_LABELS:
        return _("关注者评价：{score}").format(score=_(SCORE_LABELS[data["score"]]))
    return ""


async def reporter_phone(account_id: int | None) -> str:
    if account_id is None:
        return ""
    row = await Account.select(Account.phone).where(Account.id == account_id).first()
    return (row or {}).get("phone") or ""
