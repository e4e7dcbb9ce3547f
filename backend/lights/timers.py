"""Deferred arq jobs for light deadlines, enqueued in one Redis round trip per batch (``backend.jobs``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from arq.connections import ArqRedis

from backend.jobs import Job, enqueue_jobs

FIRE_JOB = "light_fire"


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
    return await enqueue_jobs([Job(FIRE_JOB, (t.assignment_id, t.stage, t.color, t.version), t.job_id, t.due_at)
                               for t in timers], pool=pool, batch=batch)
