"""Knowledge base timers: tell owner units each morning which answers are out of date; keep the vocabulary fresh."""

from __future__ import annotations

from typing import Any

from backend.knowledge import search, service


async def notify_flagged_entries(ctx: dict[str, Any]) -> int:
    """Daily: each owner unit is told which of its published answers passed their review-by or expiry date."""
    return await service.notify_flagged()


async def refresh_kb_terms(ctx: dict[str, Any]) -> None:
    """Hourly: rebuild the search vocabulary (a publish rebuilds it too; this catches a failed rebuild)."""
    await search.refresh_terms()

