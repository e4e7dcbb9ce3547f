"""Job names and enqueue helpers used by services and controllers (never imports ``workers``).

Jobs are enqueued only after the commit that makes them necessary; ids name what they act on,
so enqueuing twice is harmless (a duplicate id is refused, as arq refuses it).

Enqueuing writes the same keys and payload as ``ArqRedis.enqueue_job`` (a stock arq worker runs the jobs;
arq is pinned in pyproject.toml), but the "only if this id is new" check runs in a small Lua script: one
round trip per batch of jobs (up to a thousand), instead of arq's WATCH/MULTI exchange per job.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job

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


# Sent with EVAL, not as a registered script: redis-py checks a registered script with SCRIPT EXISTS before
# every pipeline, a round trip more; Redis keeps the compiled script by its hash either way. One call enqueues
# a whole batch (a submission's six jobs are one command, not six): KEYS = the queue, then each job's key and
# result key; ARGV = each job's payload, expiry (ms), score and id.
_ENQUEUE_IF_NEW = """
local added = 0
for i = 0, (#KEYS - 1) / 2 - 1 do
  local a = 4 * i
  if redis.call('exists', KEYS[2 + 2 * i], KEYS[3 + 2 * i]) == 0 then
    redis.call('psetex', KEYS[2 + 2 * i], ARGV[a + 2], ARGV[a + 1])
    redis.call('zadd', KEYS[1], ARGV[a + 3], ARGV[a + 4])
    added = added + 1
  end
end
return added
"""


@dataclass(frozen=True)
class Job:
    name: str
    args: tuple[Any, ...] = ()
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)  # arq's default id
    defer_until: datetime | None = None


# Open inside ``sent_together``: the jobs enqueued there, sent when it ends.
_together: ContextVar[list[Job] | None] = ContextVar("jobs_sent_together", default=None)


@asynccontextmanager
async def sent_together() -> AsyncIterator[None]:
    """Inside, ``enqueue_jobs`` (and ``enqueue``) only collect; the jobs go in one command, one Redis round
    trip, when the block ends (a submission's timers, the resident's receipt and the rollup's nudge)."""
    jobs: list[Job] = []
    token = _together.set(jobs)
    try:
        yield
    finally:
        _together.reset(token)
    await enqueue_jobs(jobs)


async def enqueue_jobs(jobs: Sequence[Job], *, pool: ArqRedis | None = None, batch: int = 1000) -> int:
    """Enqueue these jobs (each only if its id is new); returns how many were new (inside ``sent_together``:
    how many were collected, to be sent when it ends)."""
    if not jobs:
        return 0
    together = _together.get()
    if together is not None and pool is None:
        together.extend(jobs)
        return len(jobs)
    pool = pool or await arq_pool()
    added = 0
    for i in range(0, len(jobs), batch):
        now_ms = int(time.time() * 1000)
        keys: list[str] = [pool.default_queue_name]
        argv: list[Any] = []
        for job in jobs[i:i + batch]:
            score = int(job.defer_until.timestamp() * 1000) if job.defer_until else now_ms
            payload = serialize_job(job.name, job.args, {}, None, now_ms, serializer=pool.job_serializer)
            keys += [job_key_prefix + job.job_id, result_key_prefix + job.job_id]
            argv += [payload, max(score - now_ms, 0) + expires_extra_ms, score, job.job_id]
        added += int(await pool.eval(_ENQUEUE_IF_NEW, len(keys), *keys, *argv))
    return added


async def enqueue(name: str, *args: Any, job_id: str | None = None, defer_until: datetime | None = None) -> None:
    job = Job(name, args, defer_until=defer_until) if job_id is None else Job(name, args, job_id, defer_until)
    await enqueue_jobs([job])
