"""Deferred arq jobs for light deadlines, enqueued in one Redis round trip per batch.

Same keys and payload as ``ArqRedis.enqueue_job`` (so a stock arq worker runs them), but the
"only if this id is new" check runs in a small Lua script, which lets a pipeline carry thousands
of jobs at once instead of a WATCH/MULTI exchange per job.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from arq.connections import ArqRedis
from arq.constants import default_queue_name, expires_extra_ms, job_key_prefix, result_key_prefix
from arq.jobs import serialize_job

from backend.jobs import arq_pool

FIRE_JOB = "light_fire"
_ENQUEUE_IF_NEW = """
if redis.call('exists', KEYS[1], KEYS[2]) == 0 then
  redis.call('psetex', KEYS[1], ARGV[2], ARGV[1])
  redis.call('zadd', KEYS[3], ARGV[3], ARGV[4])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Timer:
    assignment_id: int
    stage: str
    color: str
    version: int
    due_at: datetime

    @property
    def job_id(self) -> str:
        return f"light:{self.assignment_id}:{self.stage}:{self.color}:{self.version}"


async def schedule(timers: Sequence[Timer], *, pool: ArqRedis | None = None, batch: int = 2000) -> int:
    """Enqueue one deferred ``light_fire`` job per timer; returns how many were new."""
    if not timers:
        return 0
    pool = pool or await arq_pool()
    script = pool.register_script(_ENQUEUE_IF_NEW)
    added = 0
    for i in range(0, len(timers), batch):
        now_ms = int(time.time() * 1000)
        async with pool.pipeline(transaction=False) as pipe:
            for t in timers[i:i + batch]:
                score = int(t.due_at.timestamp() * 1000)
                payload = serialize_job(FIRE_JOB, (t.assignment_id, t.stage, t.color, t.version), {}, None,
                                        now_ms, serializer=pool.job_serializer)
                expires = max(score - now_ms, 0) + expires_extra_ms
                await script(keys=[job_key_prefix + t.job_id, result_key_prefix + t.job_id, default_queue_name],
                             args=[payload, expires, score, t.job_id], client=pipe)
            added += sum(int(r) for r in await pipe.execute())
    return added
