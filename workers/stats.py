"""Keep the KPI rollup current: derive per-request facts from new events (the figures never depend on it)."""

from __future__ import annotations

from typing import Any

from arq.cron import cron

from backend.stats import rollup


async def stats_catch_up(ctx: dict[str, Any]) -> int:
    return await rollup.catch_up()


FUNCTIONS = [stats_catch_up]
CRON_JOBS = [cron(stats_catch_up, second=30, run_at_startup=True, unique=True)]
