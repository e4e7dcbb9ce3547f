"""Keep the KPI rollup current: derive per-request facts from new events (the figures never depend on it)."""

from __future__ import annotations

from typing import Any

from arq.cron import cron

from backend.stats import rollup


async def stats_catch_up(ctx: dict[str, Any]) -> int:
    # bounded per run (arq's job timeout); a backfill continues at the next minute
    return await rollup.catch_up(budget_seconds=120)


FUNCTIONS = [stats_catch_up]
CRON_JOBS = [cron(stats_catch_up, second=30, run_at_startup=True, unique=True)]
