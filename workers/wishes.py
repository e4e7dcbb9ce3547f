"""Micro-wish timers: lapse a claim with no recorded contact by its due time, plus the minute sweep."""

from __future__ import annotations

from typing import Any

from backend.wishes import claims as service


async def lapse_wish_claim(ctx: dict[str, Any], claim_id: int) -> bool:
    """Deferred to the claim's contact deadline; re-reads and lapses conditionally (safe to run twice)."""
    return await service.lapse_claim(claim_id)


async def sweep_wish_claims(ctx: dict[str, Any]) -> int:
    """Every minute: lapse overdue claims a lost, early or expired job did not."""
    return await service.sweep_lapses()
