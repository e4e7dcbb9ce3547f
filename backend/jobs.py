"""Job names and enqueue helpers used by services and controllers (never imports ``workers``).

Jobs are enqueued only after the commit that makes them necessary; ids name what they act on,
so enqueuing twice is harmless (arq refuses a duplicate id).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool

from backend.settings import get_settings

_pool: ArqRedis | None = None


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().redis_url)


async def arq_pool() -> ArqRedis:
    global _pool
    if _pool is None:
        _pool = await create_pool(redis_settings())
    return _pool


async def close_arq_pool() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
        _pool = None


async def enqueue(name: str, *args: Any, job_id: str | None = None, defer_until: datetime | None = None) -> None:
    pool = await arq_pool()
    await pool.enqueue_job(name, *args, _job_id=job_id, _defer_until=defer_until)
