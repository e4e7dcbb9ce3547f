"""The demo district's year of history, made after the site is up (setup makes only the newest part)."""

from __future__ import annotations

from typing import Any

from backend.demo_history import fill_history


async def demo_history_fill(ctx: dict[str, Any]) -> int:
    # a no-op outside demo mode or once the year is complete (one count); resumes where a stop left it
    return await fill_history()
