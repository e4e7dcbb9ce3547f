"""Tell people things: an in-app notification per account; Web Push is layered on top (PWA issue).

Call inside the transaction of whatever happened: the notice commits with it, the push follows the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from backend.accounts.tables import Membership, Role
from backend.db import on_commit
from backend.notify.tables import Notification

_push_senders: list = []  # filled by the push module when present: async fn(account_ids, title, body, url)


def register_push_sender(fn) -> None:
    if fn not in _push_senders:
        _push_senders.append(fn)


async def notify_accounts(account_ids: Iterable[int | None], title: str, body: str = "", url: str = "",
                          kind: str = "") -> list[int]:
    ids = sorted({a for a in account_ids if a})
    if not ids:
        return []
    await Notification.insert(
        *[Notification(account=a, kind=kind, title=title[:120], body=body[:500], url=url[:300]) for a in ids]
    )
    for send in list(_push_senders):
        # After the commit: never push a notice that may still roll back. Push is best effort (a failure
        # is logged); the in-app notification is stored either way.
        await on_commit(partial(send, ids, title, body, url))
    return ids


async def unit_members(unit_id: int, *roles: Role) -> list[int]:
    q = Membership.select(Membership.account).where(Membership.unit == unit_id)
    if roles:
        q = q.where(Membership.role.is_in([r.value for r in roles]))
    return [r["account"] for r in await q]


async def notify_unit(unit_id: int, title: str, body: str = "", url: str = "", kind: str = "",
                      *roles: Role) -> list[int]:
    return await notify_accounts(await unit_members(unit_id, *roles), title, body, url, kind)


async def unread_count(account_id: int) -> int:
    return await Notification.count().where((Notification.account == account_id) & (Notification.read == False))


# Web Push rides on every notification (the sender enqueues a job only for subscribed accounts).
from backend.notify.push import enqueue_push  # noqa: E402

register_push_sender(enqueue_push)
