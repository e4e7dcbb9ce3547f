"""Who follows a request (我也遇到了): the support rows, and the transition hook that tells them.

Apart from service.py, which makes transitions itself (marking a duplicate): the wiring runs the hook inside
every transition and so imports only what the hook needs, never the transition service.
"""

from __future__ import annotations

from backend.db import utcnow
from backend.i18n import N_
from backend.maps.tables import Support, SupportSource
from backend.notify.service import notify_accounts
from backend.requests.rules import STATUS_LABELS, TransitionResult
from backend.requests.tables import Status


async def support_count(request_id: int) -> int:
    return await Support.count().where(Support.request == request_id)


async def supporter_ids(request_id: int) -> list[int]:
    rows = await Support.select(Support.account).where(Support.request == request_id)
    return [r["account"] for r in rows]


async def add_support(request_id: int, account_id: int, source: str) -> bool:
    rows = await Support.raw(
        "INSERT INTO support (request, account, source, created_at) VALUES ({}, {}, {}, {}) "
        "ON CONFLICT (request, account) DO NOTHING RETURNING id", request_id, account_id, source, utcnow())
    return bool(rows)


async def is_supporter(request_id: int, account_id: int) -> bool:
    return await Support.exists().where((Support.request == request_id) & (Support.account == account_id))


async def supporters_after_transition(result: TransitionResult) -> None:
    """Transition hook: a duplicate's reporter follows the original; supporters hear of progress."""
    if result.action == "mark_duplicate":
        original = int(result.data["duplicate_of"])
        code = result.data.get("original_code", "")
        if result.reporter:
            await add_support(original, result.reporter, SupportSource.duplicate.value)
            await notify_accounts([result.reporter], "", "", f"/p/{code}", kind="status",
                                  key=N_("您的诉求 {code} 与 {original} 是同一问题，已合并办理"),
                                  params={"code": result.code, "original": code})
        return
    if result.from_status != result.to_status and result.to_status in (Status.resolved.value, Status.closed.value,
                                                                         Status.accepted.value):
        people = [p for p in await supporter_ids(result.request_id) if p not in (result.reporter, result.actor_id)]
        await notify_accounts(people, "", "", f"/p/{result.code}", kind="status",
                              key=N_("您关注的诉求 {code}：{status_label}"),
                              params={"code": result.code, "status_label": STATUS_LABELS.get(result.to_status, "")})
