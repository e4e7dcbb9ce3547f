"""WorkerSettings: the one registry of arq functions and cron jobs."""

from __future__ import annotations

from typing import Any

from backend.db import engine
from backend.jobs import redis_settings
from backend.settings import get_settings


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


class WorkerSettings:
    functions = FUNCTIONS
    cron_jobs = CRON_JOBS
    redis_settings = redis_settings()
    on_startup = startup
    on_shutdown = shutdown
    keep_result = 60
    max_jobs = 20
