"""The ratings' transition hook: a resolution starts the rating period (the not-rated auto close, queued
after the commit).

Apart from service.py, which makes transitions itself (a rating closes or reopens): the wiring runs this hook
inside every transition and so imports only what the hook needs, never the transition service.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import partial

from backend.db import aware, on_commit, utcnow
from backend.jobs import enqueue
from backend.requests.rules import TransitionResult
from backend.requests.tables import Event, Status

RESOLUTION_ACTIONS = ("resolve", "answer")
AUTO_CLOSE_JOB = "ratings_auto_close"


def rating_days() -> int:
    """Days a resident has to rate before the request closes as "not rated" (QG_RATING_DAYS, default 7)."""
    try:
        return max(1, int(os.environ.get("QG_RATING_DAYS", "7")))
    except ValueError:
        return 7


async def schedule_auto_close(result: TransitionResult) -> None:
    """A resolution: one deferred job per resolution event, named after it, queued after the commit."""
    if result.to_status != Status.resolved.value or result.action not in RESOLUTION_ACTIONS:
        return
    ev = await Event.select(Event.created_at).where(Event.id == result.event_id).first()
    if ev is None:
        return
    due = aware(ev["created_at"]) + timedelta(days=rating_days())
    # Already due (a back-dated resolution): run now; arq refuses a defer time far in the past.
    await on_commit(partial(enqueue, AUTO_CLOSE_JOB, result.request_id, result.event_id,
                            job_id=f"rating-timeout:{result.event_id}", defer_until=due if due > utcnow() else None))
