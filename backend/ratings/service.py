"""Satisfaction ratings (满意度测评): rules, the not-rated auto close, the after-resolve hook.

A rating is written together with the state change it causes (close when satisfied/basically
satisfied, reopen when dissatisfied) and its "rate" event, in the transition's one transaction:
either all three exist or none, with the transition hooks' rows; jobs are queued after the commit. No Litestar imports.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict, cast

from backend.accounts.service import Viewer
from backend.db import aware, fetch_prepared, utcnow
from backend.i18n import N_
from backend.ratings.hooks import RESOLUTION_ACTIONS, rating_days
from backend.ratings.tables import Rating, Score, SupporterRating
from backend.requests import service as requests
from backend.requests.rows import RequestState
from backend.requests.service import InvalidState, NotAllowed, RequestError, StaleVersion
from backend.requests.tables import Event, Request, Status

log = logging.getLogger("qungong.ratings")

SCORE_LABELS = {Score.satisfied.value: "满意", Score.basic.value: "基本满意", Score.dissatisfied.value: "不满意"}
GOOD_SCORES = frozenset({Score.satisfied.value, Score.basic.value})
MAX_COMMENT = 500


class NotFound(RequestError):
    """Not the viewer's request: answer 404, revealing nothing."""

    status = 404


@dataclass
class RateResult:
    rating_id: int
    score: str
    action: str  # "close" or "reopen"
    to_status: str


class Resolution(TypedDict):
    """The event that resolved a request last (resolve or answer): what a rating rates."""

    id: int
    created_at: datetime


class RatingRow(TypedDict):
    """The reporter's rating of one resolution."""

    id: int
    request: int
    resolution_event: int
    resident: int
    score: str
    comment: str
    created_at: datetime


class SupporterRatings(TypedDict):
    """What a request's page shows of its supporters' ratings."""

    counts: dict[str, int]  # score → how many (every resolution)
    total: int
    rated_latest: bool  # the account asked about has rated the latest resolution
    has_resolution: bool


class SupporterRatingContext(TypedDict):
    supporter_ratings: SupporterRatings
    can_rate_as_supporter: bool


async def latest_resolution(request_id: int) -> Resolution | None:
    return await Event.select(Event.id, Event.created_at).where(
        (Event.request == request_id) & Event.action.is_in(list(RESOLUTION_ACTIONS))
    ).order_by(Event.id, ascending=False).first()


async def rate(request_id: int, viewer: Viewer | None, score: str, comment: str = "", *,
               now: datetime | None = None) -> RateResult:
    """The resident rates the latest resolution of their own request."""
    if viewer is None:
        raise NotAllowed(N_("请先登录"))
    if not viewer.is_resident:
        raise NotAllowed(N_("只有提交诉求的居民本人可以评价，工作人员不能代为评价"))
    req = await Request.select(Request.id, Request.reporter, Request.status, Request.version).where(
        Request.id == request_id).first()
    if req is None or req["reporter"] != viewer.id:
        raise NotFound(N_("诉求不存在"))
    if score not in SCORE_LABELS:
        raise RequestError(N_("请选择满意、基本满意或不满意"), "score")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise RequestError(N_("评价内容不能超过 {max} 字（当前 {n} 字）"), "comment", max=MAX_COMMENT,
                           n=len(comment))
    now = now or utcnow()
    rating_ids: list[int] = []

    async def prepare(request_id: int) -> None:
        # Runs inside transition()'s transaction, after its status check and before its event: the rating,
        # the "rate" event (first in the timeline) and the close/reopen commit together or not at all.
        resolution = await latest_resolution(request_id)
        if resolution is None:
            raise InvalidState(N_("该诉求尚未办结，暂不能评价"))
        if await Rating.exists().where(Rating.resolution_event == resolution["id"]):
            raise InvalidState(N_("您已评价过本次办理结果"))
        rating = Rating(request=request_id, resolution_event=resolution["id"], resident=viewer.id, score=score,
                        comment=comment, created_at=now)
        await rating.save()
        rating_ids.append(rating.id)
        await requests.record(request_id, "rate", actor=viewer, note=comment,
                              data={"score": score, "resolution": resolution["id"]}, now=now)

    if req["status"] != Status.resolved.value:
        raise InvalidState(N_("该诉求当前不在待评价状态（可能已评价或已结案）"))
    if score in GOOD_SCORES:
        result = await requests.transition(request_id, "close", viewer, None, now=now, prepare=prepare,
                                           data={"reason": "rated", "score": score})
    else:
        # The comment is the rating's (shown once, on the rating); the reopen names who handles it again.
        result = await requests.transition(request_id, "reopen", viewer, None, now=now,
                                           prepare=prepare, data={"reason": "dissatisfied", "score": score})
    return RateResult(rating_ids[0], score, result.action, result.to_status)


async def rate_as_supporter(request_id: int, viewer: Viewer | None, score: str, comment: str = "", *,
                            now: datetime | None = None) -> int:
    """A supporter (我也遇到了) rates the latest resolution of a request they follow (issue 17). Recorded with a
    "supporter_rate" event (shown on the request's timeline); it changes no state: only the reporter's
    dissatisfied rating reopens. One per supporter and resolution. Returns the rating's id."""
    from backend.db import write_transaction
    from backend.maps.supporters import is_supporter  # the supporters are the maps domain's

    if viewer is None or not viewer.is_resident:
        raise NotAllowed("只有关注该诉求的居民可以评价")
    req = await Request.select(Request.id, Request.status, Request.is_public).where(Request.id == request_id).first()
    if req is None or not req["is_public"] or not await is_supporter(request_id, viewer.id):
        raise NotFound("诉求不存在")
    if score not in SCORE_LABELS:
        raise RequestError("请选择满意、基本满意或不满意", "score")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise RequestError(f"评价内容不能超过 {MAX_COMMENT} 字（当前 {len(comment)} 字）", "comment")
    if req["status"] not in (Status.resolved.value, Status.closed.value):
        raise InvalidState("该诉求尚未办结，暂不能评价")
    now = now or utcnow()
    async with write_transaction():
        resolution = await latest_resolution(request_id)
        if resolution is None:
            raise InvalidState("该诉求尚未办结，暂不能评价")
        rows = await SupporterRating.raw(
            "INSERT INTO supporter_rating (request, resolution_event, account, score, comment, created_at) "
            "VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (resolution_event, account) DO NOTHING RETURNING id",
            request_id, resolution["id"], viewer.id, score, comment, now)
        if not rows:
            raise InvalidState("您已评价过本次办理结果")
        await requests.record(request_id, "supporter_rate", actor=viewer, note=comment,
                              data={"score": score, "resolution": resolution["id"]}, now=now)
    return rows[0]["id"]


async def supporter_ratings(request_id: int, account_id: int | None = None) -> SupporterRatings:
    """What the request's page shows of its supporters' ratings: how many of each score (latest resolution
    and earlier ones alike), and whether ``account_id`` may still rate the latest resolution."""
    rows = await SupporterRating.select(SupporterRating.score, SupporterRating.account,
                                        SupporterRating.resolution_event).where(SupporterRating.request == request_id)
    counts = {s: sum(1 for r in rows if r["score"] == s) for s in SCORE_LABELS}
    resolution = await latest_resolution(request_id)
    rated = resolution is not None and any(
        r["account"] == account_id and r["resolution_event"] == resolution["id"] for r in rows)
    return {"counts": counts, "total": len(rows), "rated_latest": rated, "has_resolution": resolution is not None}


async def supporter_rating_context(req: RequestState, viewer: Viewer | None, i_support: bool
                                   ) -> SupporterRatingContext:
    """The request page's part of the supporters' ratings (issue 17): the counts, and whether this viewer, a
    supporter (``i_support``, from maps' support_context), may still rate the latest resolution."""
    ratings = await supporter_ratings(req["id"], viewer.id if viewer else None)
    return {"supporter_ratings": ratings, "can_rate_as_supporter": bool(
        i_support and req["status"] in (Status.resolved.value, Status.closed.value)
        and ratings["has_resolution"] and not ratings["rated_latest"])}


async def auto_close(request_id: int, resolution_event_id: int | None = None, *, now: datetime | None = None) -> bool:
    """Close as "not rated" once the rating window has passed. Safe to run twice, late or never.

    Returns True when this call closed the request.
    """
    now = now or utcnow()
    req = await Request.select(Request.status, Request.version).where(Request.id == request_id).first()
    if req is None or req["status"] != Status.resolved.value:
        return False
    resolution = await latest_resolution(request_id)
    if resolution is None:
        return False
    if resolution_event_id is not None and resolution["id"] != resolution_event_id:
        return False  # resolved again since this job was scheduled: that resolution has its own job
    if aware(resolution["created_at"]) + timedelta(days=rating_days()) > now:
        return False
    if await Rating.exists().where(Rating.resolution_event == resolution["id"]):
        return False
    try:
        await requests.transition(request_id, "close", None, req["version"], now=now,
                                  data={"reason": "not_rated", "resolution": resolution["id"]})
    except (InvalidState, StaleVersion):
        return False  # the resident rated (or something else happened) in the meantime
    return True


async def sweep_unrated(*, now: datetime | None = None, limit: int = 500) -> int:
    """Close every resolved request whose rating window passed (repairs lost or late jobs)."""
    now = now or utcnow()
    cutoff = now - timedelta(days=rating_days())
    rows = await Request.select(Request.id).where(
        (Request.status == Status.resolved.value) & (Request.resolved_at <= cutoff)
    ).order_by(Request.resolved_at).limit(limit)
    closed = 0
    for row in rows:
        if await auto_close(row["id"], now=now):
            closed += 1
    return closed


async def pending_for(request_id: int, viewer: Viewer | None) -> bool:
    """True when ``viewer`` is the reporter and the latest resolution awaits their rating."""
    if viewer is None or not viewer.is_resident:
        return False
    req = await Request.select(Request.reporter, Request.status).where(Request.id == request_id).first()
    return bool(req and req["reporter"] == viewer.id and req["status"] == Status.resolved.value)


_RATINGS_OF = ("SELECT id, request, resolution_event, resident, score, comment, created_at FROM rating "
               "WHERE request = $1 ORDER BY id")  # every request page: prepared once per connection


async def ratings_of(request_id: int) -> list[RatingRow]:
    return [cast(RatingRow, dict(r)) for r in await fetch_prepared(_RATINGS_OF, request_id)]
