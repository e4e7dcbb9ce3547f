"""Read side of the request pages: inbox, lists, and timelines with photos. No Litestar imports."""

from __future__ import annotations

import json
from typing import Any, TypedDict, cast

from backend.accounts.service import Viewer
from backend.accounts.tables import Account
from backend.db import fetch_prepared
from backend.i18n import gettext as _
from backend.organisation.tables import Unit
from backend.requests.photos.service import photos_by_event
from backend.requests.rows import PublicRequestRow, RequestListRow, RequestView, TimelineEntry, TimelineRow
from backend.requests.service import ACTION_LABELS, HANDLING_ROLES, STATUS_LABELS, timeline
from backend.requests.tables import OPEN_STATUSES, Request, Status


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


# The lists every worker and resident opens most, prepared once per connection (fetch_prepared); the
# columns are LIST_COLUMNS', keyed as Piccolo's select() keys joined names. The names are scalar subqueries,
# not joins: PostgreSQL re-plans these statements for their parameters, and five joins cost more to plan
# (about 1.4 ms) than the list costs to read.
_LIST_SELECT = (
    "SELECT r.id, r.code, r.kind, r.status, r.urgent, r.created_at, r.description, r.is_public, r.source, "
    'r.level, r.version, (SELECT c.name FROM category c WHERE c.id = r.category) AS "category.name", '
    '(SELECT u.name FROM unit u WHERE u.id = r.community) AS "community.name", '
    '(SELECT u.name FROM unit u WHERE u.id = r.current_unit) AS "current_unit.name", '
    '(SELECT a.name FROM account a WHERE a.id = r.current_person) AS "current_person.name", '
    '(SELECT a.public_title FROM account a WHERE a.id = r.current_person) AS "current_person.public_title" '
    "FROM request r ")
# The viewer's work ($1 the viewer, $2 the paths of the units they handle, each with '%', $3 the statuses):
# led by the viewer, led by a handled unit (one of those units or below them), or co-assigned (协办) to a
# handled unit or the viewer while another unit leads; the co-assigned part only for a viewer who handles
# some unit. Each branch is its own index look-up (request (current_person, status), the handled units
# joined to request (current_unit, status), the open assists' partial indexes), and their rows are united:
# written as one OR, PostgreSQL read every open request of the district and every open assignment instead
# (136 ms for the command center's badge at about 3 M requests; bench dashboard --growth). ``{w}``: columns.
_INBOX_BRANCHES = (
    "SELECT {w} FROM request w WHERE w.current_person = $1 AND w.status = ANY($3::text[]) "
    "UNION SELECT {w} FROM unit u JOIN request w ON w.current_unit = u.id AND w.status = ANY($3::text[]) "
    "WHERE u.path LIKE ANY($2::text[]) "
    "UNION SELECT {w} FROM unit u JOIN assignment a ON a.unit = u.id AND a.is_open AND a.role = 'assist' "
    "JOIN request w ON w.id = a.request AND w.status = ANY($3::text[]) WHERE u.path LIKE ANY($2::text[]) "
    "UNION SELECT {w} FROM assignment a JOIN request w ON w.id = a.request AND w.status = ANY($3::text[]) "
    "WHERE a.is_open AND a.role = 'assist' AND a.person = $1 AND cardinality($2::text[]) > 0")
_INBOX = (_LIST_SELECT + "WHERE r.id IN (" + _INBOX_BRANCHES.format(w="w.id") + ") AND ($4 = '' OR r.kind = $4) "
          "AND ($5::int IS NULL OR r.category = $5) ORDER BY r.urgent DESC, r.created_at LIMIT $6")
_INBOX_COUNTS = ("SELECT x.status, count(*) FROM (" + _INBOX_BRANCHES.format(w="w.id, w.status") + ") x "
                 "GROUP BY x.status")
# A page of a resident's requests, newest first, older than the id $2 (none: the newest page).
_MY_REQUESTS = (_LIST_SELECT + "WHERE r.reporter = $1 AND ($2::int IS NULL OR r.id < $2) ORDER BY r.id DESC "
                "LIMIT $3")
_MY_TO_RATE = "SELECT count(*) FROM request WHERE reporter = $1 AND status = 'resolved'"
MY_PAGE = 20  # "my requests" a page at a time: a list that grows with every report is not drawn whole


def _handled_patterns(viewer: Viewer) -> list[str]:
    """``LIKE`` patterns of the units the viewer handles work for (each handling membership's unit), which
    match those units and everything below them."""
    return sorted({m.unit_path + "%" for m in viewer.memberships if m.role in HANDLING_ROLES})


async def inbox(viewer: Viewer, *, status: str = "", kind: str = "", category: str = "",
                limit: int = 200) -> list[RequestListRow]:
    """The viewer's work, each with its light: red, then yellow, then the oldest (urgent first within each)."""
    statuses = [status] if status in STATUS_LABELS else [s.value for s in OPEN_STATUSES]
    rows = await fetch_prepared(_INBOX, viewer.id, _handled_patterns(viewer), statuses, kind,
                                int(category) if category.isdigit() else None, limit)
    from backend.lights.badges import with_lights  # the lights domain reads requests, not the other way

    return cast(list[RequestListRow], await with_lights([dict(r) for r in rows]))


async def inbox_counts(viewer: Viewer) -> dict[str, int]:
    rows = await fetch_prepared(_INBOX_COUNTS, viewer.id, _handled_patterns(viewer), list(INBOX_COUNTED))
    counts = dict.fromkeys(INBOX_COUNTED, 0)
    for r in rows:
        counts[r[0]] = r[1]
    return counts


async def my_requests(viewer: Viewer, *, before: int | None = None, limit: int = MY_PAGE) -> list[RequestListRow]:
    """The resident's requests, newest first: ``limit`` of those older than the request ``before``."""
    rows = await fetch_prepared(_MY_REQUESTS, viewer.id, before, limit)
    return [cast(RequestListRow, dict(r)) for r in rows]


async def resolved_to_rate(viewer: Viewer) -> int:
    """How many of the resident's requests are resolved and wait for their rating (all pages)."""
    return (await fetch_prepared(_MY_TO_RATE, viewer.id))[0][0]


async def public_requests(*, page: int = 1, per_page: int = 30) -> list[PublicRequestRow]:
    """Public requests, without anything personal: no reporter, phone, name or address."""
    cols = (Request.code, Request.kind, Request.status, Request.created_at, Request.resolved_at, Request.description,
            Request.category.name, Request.community.name, Request.current_unit.name)
    return await Request.select(*cols).where(
        (Request.is_public == True) & (Request.status != Status.withdrawn.value)
    ).order_by(Request.id, ascending=False).offset((page - 1) * per_page).limit(per_page)


async def categories() -> list[CategoryOption]:
    rows = await fetch_prepared("SELECT id, code, name, icon FROM category WHERE active ORDER BY sort, id")
    return [cast(CategoryOption, dict(r)) for r in rows]


async def communities() -> list[StreetCommunities]:
    """Communities grouped under their streets, for the picker."""
    rows = await Unit.select(Unit.id, Unit.name, Unit.parent.name).where(
        (Unit.kind == "community") & (Unit.active == True)).order_by(Unit.path)
    groups: dict[str, list[CommunityOption]] = {}
    for r in rows:
        groups.setdefault(r["parent.name"], []).append({"id": r["id"], "name": r["name"]})
    return [{"street": k, "communities": v} for k, v in groups.items()]


def _request_row_sql() -> str:
    """A request with the names its pages show, keyed as Piccolo's select() keys them ("category.name")."""
    columns = ", ".join(f'r."{c._meta.db_column_name}"' for c in Request._meta.columns)
    return (
        f'SELECT {columns}, c.name AS "category.name", com.name AS "community.name", st.name AS "street.name", '
        'g.name AS "grid.name", cu.name AS "current_unit.name", cp.name AS "current_person.name", '
        'cp.public_title AS "current_person.public_title", rep.phone AS "reporter.phone", '
        'rep.name AS "reporter.name", fb.name AS "filed_by.name", fb.public_title AS "filed_by.public_title" '
        "FROM request r LEFT JOIN category c ON c.id = r.category LEFT JOIN unit com ON com.id = r.community "
        "LEFT JOIN unit st ON st.id = r.street LEFT JOIN unit g ON g.id = r.grid "
        "LEFT JOIN unit cu ON cu.id = r.current_unit LEFT JOIN account cp ON cp.id = r.current_person "
        "LEFT JOIN account rep ON rep.id = r.reporter LEFT JOIN account fb ON fb.id = r.filed_by ")


# Every request page reads this row: prepared once per connection (fetch_prepared), where the Piccolo select
# with its eight joins cost more to build than to run.
_REQUEST_BY_CODE = _request_row_sql() + "WHERE r.code = $1"
_REQUEST_BY_ID = _request_row_sql() + "WHERE r.id = $1"


async def request_row(*, code: str | None = None, request_id: int | None = None) -> RequestView | None:
    rows = await (fetch_prepared(_REQUEST_BY_CODE, code) if code is not None
                  else fetch_prepared(_REQUEST_BY_ID, request_id or 0))
    return cast(RequestView, dict(rows[0])) if rows else None


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
