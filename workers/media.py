"""Media jobs: the daily sweep of photo files that no record points at; every 10 minutes, expired drafts' files."""

from __future__ import annotations

from typing import Any

from backend.media.service import sweep_expired_drafts, sweep_orphans


async def sweep_orphan_photos(ctx: dict[str, Any]) -> int:
    return await sweep_orphans()


async def sweep_draft_photos(ctx: dict[str, Any]) -> int:
    return await sweep_expired_drafts()
