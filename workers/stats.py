"""Keep the KPI rollup current: derive per-request facts from new events (the figures never depend on it)."""

from __future__ import annotations

from typing import Any

from backend.stats import rollup


async def stats_catch_up(ctx: dict[str, Any]) -> int:
    # bounded per run (arq's job timeout); a backfill continues at the next minute
    return await rollup.catch_up(budget_seconds=120)
