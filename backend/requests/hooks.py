"""After-commit hooks of request transitions: timers, notifications, live counts.

Hooks run only after the transaction commits. A failing hook is logged and never undoes or
fails the transition: the database is the truth, and sweeps repair what a hook missed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.requests.service import TransitionResult

log = logging.getLogger("qungong.hooks")
Hook = Callable[["TransitionResult"], Awaitable[None]]
_hooks: list[Hook] = []


def on_transition(fn: Hook) -> Hook:
    if fn not in _hooks:
        _hooks.append(fn)
    return fn


async def run_hooks(result: TransitionResult) -> None:
    from backend.db import write_transaction

    for hook in list(_hooks):
        try:
            # Each hook in its own transaction: its rows commit together, and on SQLite its queries
            # share one connection instead of opening one per query.
            async with write_transaction():
                await hook(result)
        except Exception:
            log.exception("after-commit hook %s failed for request %s", hook.__name__, result.request_id)
