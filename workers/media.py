"""Media jobs: the daily sweep of photo files that no record points at; every 10 minutes, expired drafts' files."""

from __future__ import annotations

from typing import Any

from arq.cron import cron

from backend.media.service import sweep_expired_drafts, sweep_orphans


async def sweep_orphan_photos(ctx: dict[str, Any]) -> int:
    return await sweep_orphans()


async def sweep_draft_photos(ctx: dict[str, Any]) -> int:
    return await sweep_expired_drafts()


FUNCTIONS: list[Any] = [sweep_orphan_photos, sweep_draft_photos]
CRON_JOBS: list[Any] = [cron(sweep_orphan_photos, hour={3}, minute={17}, unique=True),
                        cron(sweep_draft_photos, minute=set(range(0, 60, 10)), unique=True)]
