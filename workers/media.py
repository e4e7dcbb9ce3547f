"""Media jobs: the daily sweep of photo files that no record points at."""

from __future__ import annotations

from typing import Any

from backend.media.service import sweep_orphans


async def sweep_orphan_photos(ctx: dict[str, Any]) -> int:
    return await sweep_orphans()
