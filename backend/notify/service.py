"""Tell people things: an in-app notification per account; Web Push is layered on top (PWA issue).

Call inside the transaction of whatever happened: the notice commits with it, the push follows the commit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any

from backend.accounts.tables import Role
from backend.db import fetch_prepared, on_commit, utcnow
from backend.i18n import gettext
from backend.notify.push import enqueue_push
from backend.notify.tables import Notification

log = logging.getLogger("qungong.notify")


@dataclass(frozen=True)
class Notice:
    """One notice to some accounts (``None`` ids are dropped)."""

    accounts: tuple[int | None, ...]
    title: str
    body: str = ""
    url: str = ""
    kind: str = ""
    key: str = ""  # a msgid with {fields}: shown in the reader's language (render)
    params: tuple[tuple[str, str], ...] = ()  # its fields; "body_key" names the body's msgid


async def notify_accounts(account_ids: Iterable[int | None], title: str, body: str = "", url: str = "",
                          kind: str = "", *, key: str = "", params: dict[str, Any] | None = None) -> list[int]:
    """Store a notice per account. With ``key`` (a Chinese msgid with ``{name}`` fields) only the key and its
    parameters are stored, and the notice is rendered when shown, in the reader's language (see ``render``);
    ``title`` is for notices without a key (free text)."""
    ids = sorted({a for a in account_ids if a})
    if not ids:
        return []
    params = {k: str(v) for k, v in (params or {}).items()}
    if not await _store([Notice(tuple(ids), title, body, url, kind, key, tuple(params.items()))]):
        return ids  # nobody of them subscribed to Web Push (nearly always)
    # After the commit: never push a notice that may still roll back. Push is best effort (a failure
    # is logged); the in-app notification is stored either way. The push is shown at once: rendered now.
    shown = render({"key": key, "params": params, "title": title, "body": body})
    await on_commit(partial(enqueue_push, ids, shown["title"], shown["body"], url, anyone_subscribed=True))
    return ids


# Notices in one statement (a submission's one, a burst of lights); it answers which of their accounts
# have a Web Push subscription.
_STORE_MANY = """
WITH stored AS (
  INSERT INTO notification (account, kind, title, body, url, read, key, params, created_at)
  SELECT account, kind, title, body, url, false, key, params::jsonb, $8::timestamptz
  FROM unnest($1::int[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], $7::text[])
    AS n (account, kind, title, body, url, key, params)
  RETURNING account
)
SELECT DISTINCT s.account FROM push_subscription s WHERE s.account IN (SELECT account FROM stored)"""


async def _store(notices: list[Notice]) -> set[int]:
    """Every notice for each of its accounts, in one statement; returns the accounts with a Web Push
    subscription."""
    columns: list[list[Any]] = [[] for _ in range(7)]
    for n in notices:
        for a in sorted({i for i in n.accounts if i}):
            for column, value in zip(columns, (a, n.kind, "" if n.key else n.title[:120], n.body[:500], n.url[:300],
                                               n.key[:120], json.dumps(dict(n.params), ensure_ascii=False)),
                                     strict=True):
                column.append(value)
    if not columns[0]:
        return set()
    return {r[0] for r in await fetch_prepared(_STORE_MANY, *columns, utcnow())}


async def notify_burst(notices: list[Notice], summary: str) -> None:
    """Many notices at once (a burst of lights), outside any transaction: one insert, then one push per
    recipient group and kind (several items become one push titled ``summary``, with ``{n}`` their count)."""
    subscribed = await _store(notices)
    groups: dict[tuple[tuple[int, ...], str], list[Notice]] = {}
    for n in notices:
        key = (tuple(sorted({i for i in n.accounts if i})), n.kind)
        if subscribed.intersection(key[0]):  # nobody of a group subscribed to Web Push: nothing to send
            groups.setdefault(key, []).append(n)
    for (ids, _kind), items in groups.items():
        first = render({"key": items[0].key, "params": dict(items[0].params), "title": items[0].title,
                        "body": items[0].body})
        title, body = (first["title"], first["body"]) if len(items) == 1 else (summary.format(n=len(items)),
                                                                                  first["title"])
        try:
            await enqueue_push(list(ids), title, body, items[0].url, anyone_subscribed=True)
        except Exception:
            log.exception("push failed")


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
    """The unit's members (with one of ``roles``, if given); read after every new assignment (prepared)."""
    rows = await fetch_prepared("SELECT account FROM membership WHERE unit = $1 AND ($2::text[] IS NULL "
                                "OR role = ANY($2::text[])) ORDER BY id", unit_id, [r.value for r in roles] or None)
    return [r["account"] for r in rows]


async def notify_unit(unit_id: int, title: str, body: str = "", url: str = "", kind: str = "",
                      *roles: Role, key: str = "", params: dict[str, Any] | None = None) -> list[int]:
    return await notify_accounts(await unit_members(unit_id, *roles), title, body, url, kind, key=key, params=params)


async def unread_count(account_id: int) -> int:
    return await Notification.count().where((Notification.account == account_id) & (Notification.read == False))

