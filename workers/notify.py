"""Web Push jobs."""

from __future__ import annotations

from typing import Any

from backend.notify.channels import deliver
from backend.notify.push import send_to_accounts


async def send_push(ctx: dict[str, Any], account_ids: list[int], title: str, body: str = "", url: str = "") -> dict:
    return await send_to_accounts(account_ids, title, body, url)


async def deliver_notice(ctx: dict[str, Any], account_id: int, event: str, code: str) -> str:
    """One resident, one event, through their chosen outside channel (WeChat, SMS or push)."""
    return await deliver(account_id, event, code)
