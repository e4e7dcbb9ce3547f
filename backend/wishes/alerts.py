"""Who hears of a wish's progress, through notify's public functions (after the commit).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from backend.accounts.tables import Role

log = logging.getLogger("qungong.wishes")


async def notify_people(account_ids: Sequence[int | None], title: str, body: str, url: str) -> None:
    from backend.notify.service import notify_accounts

    try:
        await notify_accounts(account_ids, title, body, url, kind="wish", key=title)  # shown in the reader's language
    except Exception:  # the change is committed; a missed notification must not undo or fail it
        log.exception("wish notification failed")


async def notify_community(community_id: int | None, title: str, body: str, url: str) -> None:
    from backend.notify.service import notify_unit

    if community_id is None:
        return
    try:
        await notify_unit(community_id, title, body, url, "wish", Role.community_staff, Role.unit_head, key=title)
    except Exception:
        log.exception("wish community notification failed")
