"""村居公开 job: the overdue sweep of periodic notice types (thin: the rules live in backend.notices.duties)."""

from __future__ import annotations

from typing import Any

from backend.notices import duties


async def notice_sweep(ctx: dict[str, Any]) -> int:
    """Create the duties of ended periods, settle them from published notices, light yellow/red."""
    return await duties.sweep()
