"""Web Push: subscriptions per account, and sending through pywebpush from an arq job.

``notify_accounts`` (service.py) stores the in-app notification, then calls ``enqueue_push``,
which enqueues one job only if one of the accounts has a subscription. The job sends to each
subscription; a push service answering 404/410 means the subscription is gone: it is removed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from pywebpush import WebPushException, webpush

from backend.db import fetch_prepared, utcnow
from backend.errors import DomainError
from backend.i18n import N_
from backend.notify.tables import PushSubscription
from backend.notify.vapid import contact, vapid
from backend.settings import get_settings

log = logging.getLogger("qungong.push")
SEND_JOB = "send_push"


class SubscriptionError(DomainError, ValueError):
    """A subscription the browser sent that we cannot use."""


MAX_SUBSCRIPTIONS = 5  # devices per account; a new one replaces the oldest


def endpoint_allowed(endpoint: str) -> bool:
    """Only https on a known push service's host (QG_PUSH_HOSTS): the worker POSTs to this URL, so any other
    address would let a user make the server call into the local network (SSRF)."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return False
    if parts.scheme != "https" or parts.username or parts.password or port not in (None, 443):
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    return any(host == h or (h.startswith(".") and host.endswith(h)) for h in get_settings().push_hosts)


def parse_subscription(data: Any) -> tuple[str, str, str]:
    if not isinstance(data, dict):
        raise SubscriptionError(N_("订阅信息格式不正确"))
    endpoint = data.get("endpoint")
    keys = data.get("keys") or {}
    if not isinstance(endpoint, str) or len(endpoint) > 1000 or not endpoint_allowed(endpoint):
        raise SubscriptionError(N_("订阅地址不正确"))
    if not isinstance(keys, dict):
        raise SubscriptionError(N_("订阅密钥缺失"))
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str) or not p256dh or not auth:
        raise SubscriptionError(N_("订阅密钥缺失"))
    if len(p256dh) > 200 or len(auth) > 100:
        raise SubscriptionError(N_("订阅密钥不正确"))
    return endpoint, p256dh, auth


async def subscribe(account_id: int, data: Any, user_agent: str = "") -> int:
    """Store (or move to this account) a subscription; the endpoint identifies the device."""
    endpoint, p256dh, auth = parse_subscription(data)
    existing = await PushSubscription.select(PushSubscription.id).where(PushSubscription.endpoint == endpoint).first()
    if existing:
        await PushSubscription.update(
            {PushSubscription.account: account_id, PushSubscription.p256dh: p256dh, PushSubscription.auth: auth,
             PushSubscription.user_agent: user_agent[:300]}
        ).where(PushSubscription.id == existing["id"])
        return int(existing["id"])
    row = PushSubscription(account=account_id, endpoint=endpoint, p256dh=p256dh, auth=auth, user_agent=user_agent[:300])
    await row.save()
    older = await PushSubscription.select(PushSubscription.id).where(PushSubscription.account == account_id).order_by(
        PushSubscription.id, ascending=False).offset(MAX_SUBSCRIPTIONS)
    if older:
        await PushSubscription.delete().where(PushSubscription.id.is_in([o["id"] for o in older]))
    return int(row.id)


async def unsubscribe(account_id: int, endpoint: str) -> int:
    deleted = await PushSubscription.delete().where(
        (PushSubscription.account == account_id) & (PushSubscription.endpoint == endpoint)
    ).returning(PushSubscription.id)
    return len(deleted)


async def subscriptions_of(account_ids: list[int]) -> list[dict[str, Any]]:
    if not account_ids:
        return []
    return await PushSubscription.select().where(PushSubscription.account.is_in(account_ids))


_ANY_SUBSCRIPTION = "SELECT EXISTS (SELECT 1 FROM push_subscription WHERE account = ANY($1::int[]))"


async def enqueue_push(account_ids: list[int], title: str, body: str, url: str, *,
                       anyone_subscribed: bool | None = None) -> None:
    """Web Push of a notification: one job per notification, only if someone subscribed (asked here unless
    the caller already knows, as ``notify_accounts`` does)."""
    if anyone_subscribed is None:  # prepared once per connection: nearly always nobody subscribed
        anyone_subscribed = (await fetch_prepared(_ANY_SUBSCRIPTION, list(account_ids)))[0][0]
    if not anyone_subscribed:
        return
    from backend.jobs import enqueue

    await enqueue(SEND_JOB, list(account_ids), title, body, url)


def _send_one(sub: dict[str, Any], payload: str) -> int:
    """Blocking (requests); run in a thread. Returns the HTTP status of the push service."""
    try:
        response = webpush(
            subscription_info={"endpoint": sub["endpoint"], "keys": {"p256dh": sub["p256dh"], "auth": sub["auth"]}},
            data=payload,
            vapid_private_key=vapid(),
            vapid_claims={"sub": contact()},
            ttl=24 * 3600,
            timeout=10,
        )
        return int(getattr(response, "status_code", 201))
    except WebPushException as exc:
        if exc.response is not None:
            return int(exc.response.status_code)
        raise


async def send_to_accounts(account_ids: list[int], title: str, body: str = "", url: str = "") -> dict[str, int]:
    """Send one notification to every subscription of the accounts; drop the expired ones."""
    payload = json.dumps({"title": title, "body": body, "url": url or "/notifications"}, ensure_ascii=False)
    counts = {"sent": 0, "removed": 0, "failed": 0}
    for sub in await subscriptions_of(account_ids):
        if not endpoint_allowed(sub["endpoint"]):  # stored before the allow-list, or the list changed
            await PushSubscription.delete().where(PushSubscription.id == sub["id"])
            counts["removed"] += 1
            continue
        try:
            status = await asyncio.to_thread(_send_one, sub, payload)
        except Exception:  # network trouble reaching the push service: try again with the next notification
            log.warning("push to subscription %s failed", sub["id"], exc_info=True)
            counts["failed"] += 1
            continue
        if status in (404, 410):
            await PushSubscription.delete().where(PushSubscription.id == sub["id"])
            counts["removed"] += 1
        elif status < 300:
            await PushSubscription.update({PushSubscription.last_ok_at: utcnow()}).where(
                PushSubscription.id == sub["id"])
            counts["sent"] += 1
        else:
            counts["failed"] += 1
    return counts
