"""Read-only lists for the command center and the street platform: the dispatch queue, the search
over all requests, and the street's queue by category (分级分类)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, NotRequired, TypedDict
from zoneinfo import ZoneInfo

from backend.i18n import N_
from backend.lights.badges import with_lights
from backend.organisation.tables import Unit
from backend.requests.tables import OPEN_STATUSES, Event, Request
from backend.routing.service import RoutingError, command_center
from backend.routing.tables import Category
from backend.settings import get_settings

OPEN = [s.value for s in OPEN_STATUSES]
PAGE_SIZE = 20
# Why a request sits at the command center, from the event that put it there.
ARRIVAL_ACTIONS = ("submit", "escalate", "return", "reopen", "dispatch")

LIST_COLUMNS = (
    Request.id,
    Request.code,
    Request.kind,
    Request.status,
    Request.description,
    Request.address,
    Request.created_at,
    Request.updated_at,
    Request.urgent,
    Request.level,
    Request.version,
    Request.category,
    Request.category.name,
    Request.category.icon,
    Request.current_unit,
    Request.current_unit.name,
    Request.current_person.name,
    Request.street.name,
    Request.community.name,
)


# The latest hand-off of a request: why it sits where it does (_arrivals).
Arrival = TypedDict("Arrival", {"request": int, "action": str, "note": str, "created_at": datetime,
                                "unit.name": str | None})
_QueueNames = TypedDict("_QueueNames", {
    "category.name": str, "category.icon": str, "current_unit.name": str | None,
    "current_person.name": str | None, "street.name": str | None, "community.name": str | None,
})


class QueueRow(_QueueNames):
    """A request in the routing queues and the search (LIST_COLUMNS); the queues add its light and arrival."""

    id: int
    code: str
    kind: str
    status: str
    description: str
    address: str
    created_at: datetime
    updated_at: datetime
    urgent: bool
    level: str
    version: int
    category: int
    current_unit: int | None
    arrival: NotRequired[Arrival | None]
    light: NotRequired[Any]  # a lights.badges.LightState (with_lights)


async def _arrivals(request_ids: list[int]) -> dict[int, Arrival]:
    """The latest hand-off event (action, note, time) of each request."""
    if not request_ids:
        return {}
    rows = (
        await Event.select(Event.request, Event.action, Event.note, Event.created_at, Event.unit.name)
        .where(Event.request.is_in(request_ids) & Event.action.is_in(list(ARRIVAL_ACTIONS)))
        .order_by(Event.id)
    )
    out: dict[int, Arrival] = {}
    for r in rows:
        out[r["request"]] = r  # later rows overwrite earlier ones: the last hand-off wins
    return out


async def dispatch_queue() -> list[QueueRow]:
    """Open requests whose lead is the command center: new at district level, escalated, returned.

    Returned first (someone refused them), then urgent, then oldest.
    """
    cc = await command_center()
    rows = (
        await Request.select(*LIST_COLUMNS)
        .where((Request.current_unit == cc.id) & Request.status.is_in(OPEN))
        .order_by(Request.urgent, ascending=False)
        .order_by(Request.created_at)
        .limit(500)
    )
    arrivals = await _arrivals([r["id"] for r in rows])
    for r in rows:
        r["arrival"] = arrivals.get(r["id"])
    await with_lights(rows)  # red, yellow, oldest
    rows.sort(key=lambda r: r["status"] != "returned")  # stable: keeps the light order within groups
    return rows


@dataclass
class SearchFilters:
    q: str = ""
    status: str = ""
    unit_id: int | None = None
    category_id: int | None = None
    date_from: str = ""
    date_to: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    def query_string(self, **override: Any) -> str:
        from urllib.parse import urlencode

        values = {
            "q": self.q,
            "status": self.status,
            "unit": self.unit_id or "",
            "category": self.category_id or "",
            "from": self.date_from,
            "to": self.date_to,
            "page": self.page,
        } | override
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _day_start(text: str, field_name: str) -> datetime:
    try:
        d = date.fromisoformat(text)
    except ValueError as exc:
        raise RoutingError(N_("日期格式应为 年-月-日，例如 2026-11-24"), field_name) from exc
    return datetime.combine(d, time.min, tzinfo=ZoneInfo(get_settings().timezone))


async def search_requests(f: SearchFilters) -> tuple[list[QueueRow], int]:
    """Every request (any status) matching the filters, newest first; returns (page rows, total)."""
    from backend.requests.tables import Status

    q = Request.select(*LIST_COLUMNS)
    count = Request.count()
    conditions = []
    text = f.q.strip()
    if len(text) > 100:
        raise RoutingError(N_("搜索内容不能超过 100 字"), "q")
    if text:
        like = f"%{text}%"
        conditions.append(Request.code.ilike(like) | Request.description.ilike(like) | Request.address.ilike(like))
    if f.status:
        if f.status == "open":
            conditions.append(Request.status.is_in(OPEN))
        elif f.status in {s.value for s in Status}:
            conditions.append(Request.status == f.status)
        else:
            raise RoutingError(N_("未知的状态"), "status")
    if f.unit_id is not None:
        unit = await Unit.select(Unit.path).where(Unit.id == f.unit_id).first()
        if unit is None:
            raise RoutingError(N_("单位不存在"), "unit")
        subtree = [r["id"] for r in await Unit.select(Unit.id).where(Unit.path.like(unit["path"] + "%"))]
        conditions.append(
            Request.current_unit.is_in(subtree)
            | Request.street.is_in(subtree)
            | Request.community.is_in(subtree)
            | Request.grid.is_in(subtree)
        )
    if f.category_id is not None:
        if not await Category.exists().where(Category.id == f.category_id):
            raise RoutingError(N_("类别不存在"), "category")
        conditions.append(Request.category == f.category_id)
    start = _day_start(f.date_from, "from") if f.date_from else None
    end = _day_start(f.date_to, "to") + timedelta(days=1) if f.date_to else None
    if start and end and start >= end:
        raise RoutingError(N_("开始日期不能晚于结束日期"), "to")
    if start:
        conditions.append(Request.created_at >= start)
    if end:
        conditions.append(Request.created_at < end)
    for c in conditions:
        q = q.where(c)
        count = count.where(c)
    total = await count
    page = max(1, f.page)
    rows = await q.order_by(Request.id, ascending=False).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    return rows, total


@dataclass
class CategoryGroup:
    category_id: int
    name: str
    icon: str
    rows: list[QueueRow]


async def street_queue(
    unit_ids: list[int], category_id: int | None = None
) -> tuple[list[CategoryGroup], dict[int, int]]:
    """Open requests led by the viewer's street(s), grouped by category, each group sorted red, yellow,
    oldest; and the count per category."""
    if not unit_ids:
        return [], {}
    rows = (
        await Request.select(*LIST_COLUMNS)
        .where(Request.current_unit.is_in(unit_ids) & Request.status.is_in(OPEN))
        .order_by(Request.urgent, ascending=False)
        .order_by(Request.created_at)
        .limit(1000)
    )
    counts: dict[int, int] = {}
    for r in rows:
        counts[r["category"]] = counts.get(r["category"], 0) + 1
    arrivals = await _arrivals([r["id"] for r in rows])
    await with_lights(rows)
    groups: dict[int, CategoryGroup] = {}
    for r in rows:
        if category_id is not None and r["category"] != category_id:
            continue
        r["arrival"] = arrivals.get(r["id"])
        g = groups.setdefault(r["category"], CategoryGroup(r["category"], r["category.name"], r["category.icon"], []))
        g.rows.append(r)
    return sorted(groups.values(), key=lambda g: -len(g.rows)), counts
