"""Public statistics: the headline figures as the seed reports them, by street and category,
and recently resolved public requests with before/after photos. No personal data ever."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypedDict

from backend.db import aware, utcnow
from backend.i18n import N_
from backend.organisation.tables import Unit
from backend.requests.tables import Event, Request, Status
from backend.routing.tables import Category
from backend.stats import rollup
from backend.stats.kpis import Kpis
from backend.stats.service import FilterError, Filters, tz

log = logging.getLogger("qungong.stats")


class ResolvedStory(TypedDict):
    """A public resolution on the public statistics page: nothing about the people."""

    code: str
    category: str
    community: str | None
    submitted_at: datetime
    resolved_at: datetime
    days: float
    before: list[int]  # photo ids of the submission
    after: list[int]  # photo ids of the resolution


@dataclass
class PublicStats:
    year: int
    start: date
    end: date
    headline: Kpis
    by_street: list[tuple[str, Kpis]]
    by_category: list[tuple[str, Kpis]]
    recent: list[ResolvedStory] = field(default_factory=list)


def parse_year(raw: str | None, today: date) -> int:
    if not raw:
        return today.year
    try:
        year = int(raw.strip())
    except ValueError as exc:
        raise FilterError(N_("年份参数无效，请使用四位数字，例如 2026")) from exc
    if not 2000 <= year <= today.year:
        raise FilterError(N_("年份须在 2000 至 {year} 之间"), year=today.year)
    return year


async def public_stats(year: int, *, now: datetime | None = None) -> PublicStats:
    now = now or utcnow()
    today = now.astimezone(tz()).date()
    start, end = date(year, 1, 1), min(date(year, 12, 31), today)
    district = await Unit.select(Unit.path).where(Unit.kind == "district").order_by(Unit.id).first()
    root = district["path"] if district else "/"
    f = Filters(start=start, end=end, grain="month")
    board = await rollup.dashboard(f, [root], now=now)
    cats = {c["id"]: c["name"] for c in await Category.select(Category.id, Category.name).order_by(Category.sort)}
    by_category = sorted(((cats.get(cid, "其他"), k) for cid, k in (await rollup.by_category(f, now)).items()),
                         key=lambda t: -t[1].accepted)
    return PublicStats(year, start, end, board.kpis, [(r.name, r.kpis) for r in board.ranking], by_category,
                       await recent_resolved(now=now))


async def _photos(request_id: int, event_ids: list[int]) -> list[int]:
    """Photo ids of these events, if the request photos are installed (degrades to none)."""
    try:
        from backend.requests.photos.tables import RequestPhoto
    except ImportError:
        return []
    if not event_ids:
        return []
    try:
        rows = await RequestPhoto.select(RequestPhoto.photo.as_alias("id")).where(
            (RequestPhoto.request == request_id) & RequestPhoto.event.is_in(event_ids)).order_by(
            RequestPhoto.photo).limit(3)
    except Exception:  # the media table may not be migrated yet: a page without photos beats an error
        log.exception("photos unavailable")
        return []
    return [r["id"] for r in rows]


async def recent_resolved(limit: int = 8, *, now: datetime | None = None) -> list[ResolvedStory]:
    """Latest public resolutions: code, category, community, dates and photos. Nothing about the people."""
    events = await Event.select(Event.id, Event.request, Event.created_at).where(
        Event.action.is_in(["resolve", "answer"]) & (Event.is_public == True)
    ).order_by(Event.id, ascending=False).limit(limit * 5)
    out: list[ResolvedStory] = []
    seen: set[int] = set()
    for ev in events:
        if ev["request"] in seen:
            continue
        seen.add(ev["request"])
        req = await Request.select(
            Request.id, Request.code, Request.category.name, Request.community.name, Request.created_at,
            Request.status, Request.is_public,
        ).where(Request.id == ev["request"]).first()
        if not req or not req["is_public"] or req["status"] not in (Status.resolved.value, Status.closed.value):
            continue
        submit = await Event.select(Event.id).where(
            (Event.request == req["id"]) & (Event.action == "submit")).first()
        days = (aware(ev["created_at"]) - aware(req["created_at"])).total_seconds() / 86400
        out.append({
            "code": req["code"], "category": req["category.name"], "community": req["community.name"],
            "submitted_at": req["created_at"], "resolved_at": ev["created_at"], "days": round(days, 1),
            "before": await _photos(req["id"], [submit["id"]] if submit else []),
            "after": await _photos(req["id"], [ev["id"]]),
        })
        if len(out) >= limit:
            break
    return out
