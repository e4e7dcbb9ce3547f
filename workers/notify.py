"""Web Push jobs."""

from __future__ import annotations

from typing import Any

from backend.notify.push import send_to_accounts


async def send_push(ctx: dict[str, Any], account_ids: list[int], title: str, body: str = "", url: str = "") -> dict:
    return await send_to_accounts(account_ids, title, body, url)
