"""Tell people things: an in-app notification per account; Web Push is layered on top (PWA issue).

Call inside the transaction of whatever happened: the notice commits with it, the push follows the commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from backend.accounts.tables import Membership, Role
from backend.db import on_commit
from backend.i18n import gettext
from backend.notify.tables import Notification

_push_senders: list = []  # filled by the push module when present: async fn(account_ids, title, body, url)


def register_push_sender(fn) -> None:
    if fn not in _push_senders:
        _push_senders.append(fn)


async def notify_accounts(account_ids: Iterable[int | None], title: str, body: str = "", url: str = "",
                          kind: str = "", *, key: str = "", params: dict[str, Any] | None = None) -> list[int]:
    """Store a notice per account. With ``key`` (a Chinese msgid with ``{name}`` fields) the notice is
    rendered at display time in the reader's language (see ``render``); ``title`` is then derived from it."""
    ids = sorted({a for a in account_ids if a})
    if not ids:
        return []
    params = {k: str(v) for k, v in (params or {}).items()}
    if key:
        title = _format(key, params, translate=False)
    await Notification.insert(
        *[Notification(account=a, kind=kind, title=title[:120], body=body[:500], url=url[:300], key=key[:120],
                       params=params) for a in ids]
    )
    for send in list(_push_senders):
        # After the commit: never push a notice that may still roll back. Push is best effort (a failure
        # is logged); the in-app notification is stored either way.
        await on_commit(partial(send, ids, title, body, url))
    return ids


def _format(key: str, params: dict[str, Any], *, translate: bool = True) -> str:
    """``key`` formatted with ``params``; parameters named ``*_label`` are msgids translated too."""
    tr = gettext if translate else (lambda s: s)
    values = {k: (tr(v) if k.endswith("_label") else v) for k, v in params.items()}
    try:
        return tr(key).format(**values)
    except (KeyError, IndexError, ValueError):
        return tr(key)


def render(row: dict[str, Any]) -> dict[str, str]:
    """A stored notice as the reader sees it now: title and body in the current language."""
    params = row.get("params") or {}
    if isinstance(params, str):
        import json

        params = json.loads(params or "{}")
    title = _format(row["key"], params) if row.get("key") else row.get("title", "")
    body_key = params.get("body_key")
    body = _format(body_key, params) if body_key else row.get("body", "")
    return {"title": title, "body": body}


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
