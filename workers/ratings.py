"""Rating timers: close as "not rated" when the rating window has passed."""

from __future__ import annotations

from typing import Any

from backend.ratings import service


async def ratings_auto_close(ctx: dict[str, Any], request_id: int, resolution_event_id: int) -> bool:
    return await service.auto_close(request_id, resolution_event_id)


async def ratings_sweep(ctx: dict[str, Any]) -> int:
    """Repairs lost, late or never-enqueued jobs: the database is the truth."""
    return await service.sweep_unrated()
