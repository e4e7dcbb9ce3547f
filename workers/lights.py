"""Light jobs: the deferred per-deadline alarm and the one-minute sweep (thin: the rules live in backend.lights)."""

from __future__ import annotations

import asyncio
from typing import Any

from arq import Retry

from backend.lights import flips as service


async def light_fire(ctx: dict[str, Any], assignment_id: int, stage: str, color: str, version: int) -> int:
    """Flip one light if it is still due; a no-op for a stopped clock or an older version."""
    for _ in range(120):
        try:
            return len(await service.fire(assignment_id, stage, color, version, retry_when_busy=True))
        except service.FlipBusy:
            # Another job is flipping a burst, most likely this light too: wait without holding a
            # connection, then look again (usually to find the light already lit).
            await asyncio.sleep(0.25)
    raise Retry(defer=5)


async def light_sweep(ctx: dict[str, Any]) -> int:
    """Catch every deadline that passed without its light (lost Redis, dead worker, expired job)."""
    return await service.sweep()


async def light_repair(ctx: dict[str, Any]) -> int:
    """Nightly: clocks for any open assignment that lacks them anywhere in the table, then a sweep."""
    return await service.repair_all()
