"""WorkerSettings: the one registry of arq functions and cron jobs."""

from __future__ import annotations

from typing import Any

from backend.db import engine
from backend.jobs import redis_settings
from backend.settings import get_settings
from workers import knowledge as knowledge_jobs
from workers import lights as lights_jobs  # registers the lights after-commit hook too
from workers import media as media_jobs
from workers import ratings as ratings_jobs
from workers import stats as stats_jobs
from workers import wishes as wishes_jobs
from workers.notify import send_push


async def startup(ctx: dict[str, Any]) -> None:
    if get_settings().is_postgres:
        await engine().start_connection_pool(min_size=1, max_size=10)  # type: ignore[attr-defined]


async def shutdown(ctx: dict[str, Any]) -> None:
    if get_settings().is_postgres:
        await engine().close_connection_pool()  # type: ignore[attr-defined]


async def ping(ctx: dict[str, Any]) -> str:
    """A no-op job: lets tests and operators check that a worker is consuming."""
    return "pong"


FUNCTIONS: list[Any] = [ping]
CRON_JOBS: list[Any] = []
FUNCTIONS += ratings_jobs.FUNCTIONS; CRON_JOBS += ratings_jobs.CRON_JOBS  # noqa: E702
FUNCTIONS += stats_jobs.FUNCTIONS; CRON_JOBS += stats_jobs.CRON_JOBS  # noqa: E702
FUNCTIONS += [send_push]
FUNCTIONS += lights_jobs.FUNCTIONS; CRON_JOBS += lights_jobs.CRON_JOBS  # noqa: E702
FUNCTIONS += wishes_jobs.FUNCTIONS; CRON_JOBS += wishes_jobs.CRON_JOBS  # noqa: E702
FUNCTIONS += media_jobs.FUNCTIONS; CRON_JOBS += media_jobs.CRON_JOBS  # noqa: E702
FUNCTIONS += knowledge_jobs.FUNCTIONS; CRON_JOBS += knowledge_jobs.CRON_JOBS  # noqa: E702


class WorkerSettings:
    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    redis_settings = redis_settings()
    on_startup = startup
    on_shutdown = shutdown
    keep_result = 60
    max_jobs = 20
