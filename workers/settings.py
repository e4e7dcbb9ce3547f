"""WorkerSettings: the one registry of arq jobs and cron jobs, each by name. The jobs are thin verbs in
workers/<domain>.py; the rules they call live in backend/<domain>."""

from __future__ import annotations

from typing import Any

from arq import cron

from backend import wiring  # noqa: F401  (the transition hooks, listed in one place; jobs make transitions too)
from backend.db import engine, keep_session
from backend.jobs import redis_settings
from workers.demo import demo_history_fill
from workers.knowledge import notify_flagged_entries, refresh_kb_terms
from workers.lights import light_fire, light_repair, light_sweep
from workers.media import sweep_draft_photos, sweep_orphan_photos
from workers.notices import notice_sweep
from workers.notify import deliver_notice, send_push
from workers.ratings import ratings_auto_close, ratings_sweep
from workers.stats import stats_catch_up
from workers.wishes import lapse_wish_claim, sweep_wish_claims


async def startup(ctx: dict[str, Any]) -> None:
    await engine().start_connection_pool(min_size=1, max_size=10, reset=keep_session)


async def shutdown(ctx: dict[str, Any]) -> None:
    await engine().close_connection_pool()


async def ping(ctx: dict[str, Any]) -> str:
    """A no-op job: lets tests and operators check that a worker is consuming."""
    return "pong"


# Jobs enqueued by the app (deferred timers, pushes, catch-ups) and by the crons below.
FUNCTIONS: list[Any] = [
    ping,
    light_fire,  # one light's deadline (job id light:{assignment}:{stage}:{color}:{version})
    ratings_auto_close,  # close a resolved request nobody rated in time
    ratings_sweep,
    lapse_wish_claim,  # a claim not followed up in time lapses
    stats_catch_up,  # fold new events into the KPI rollup
    send_push,  # Web Push of a notification
    deliver_notice,  # a resident's outside channel: WeChat, SMS or push (issue 23)
    sweep_orphan_photos,
    sweep_draft_photos,
    notify_flagged_entries,
    refresh_kb_terms,
    notice_sweep,
]
# Sweeps: the database is the truth, these repair whatever a lost or late job missed.
LIGHT_CRONS: list[Any] = [
    cron(light_sweep, second=0, run_at_startup=True, unique=True, timeout=300),  # every minute, and at start-up
    cron(light_repair, hour=3, minute=17, second=30, unique=True, timeout=1800),  # nightly: clocks for every gap
]
CRON_JOBS: list[Any] = [
    *LIGHT_CRONS,
    cron(ratings_sweep, minute=set(range(0, 60, 5)), run_at_startup=False, unique=True),
    cron(stats_catch_up, second=30, run_at_startup=True, unique=True),
    cron(sweep_wish_claims, second=7, run_at_startup=True),  # every minute, away from the other sweeps at :00
    cron(sweep_orphan_photos, hour={3}, minute={17}, unique=True),
    cron(sweep_draft_photos, minute=set(range(0, 60, 10)), unique=True),  # expired drafts' files
    cron(notify_flagged_entries, hour=0, minute=5),  # 08:05 in Taiyuan: owners hear of out-of-date answers
    cron(refresh_kb_terms, minute=17),  # the search vocabulary (a publish rebuilds it too)
    # 村居公开: deadlines are days apart, so a sweep every 10 minutes is the whole timer (no deferred jobs).
    cron(notice_sweep, minute=set(range(3, 60, 10)), second=40, run_at_startup=True, unique=True, timeout=300),
    # The demo district's year after the site is up (a no-op outside demo mode or once complete); hourly it
    # resumes a fill a stop interrupted.
    cron(demo_history_fill, minute={41}, run_at_startup=True, unique=True, timeout=3 * 3600),
]


class WorkerSettings:
    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    redis_settings = redis_settings()
    on_startup = startup
    on_shutdown = shutdown
    keep_result = 60
    max_jobs = 20
