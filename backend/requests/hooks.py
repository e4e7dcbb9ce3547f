"""Hooks of request transitions: timers, notifications, live counts.

Hooks run inside the transition's transaction, so the rows they derive from a change (light
clocks, in-app notices) commit with it or not at all, on one connection. Work outside the
database (arq jobs, Web Push) is registered with ``backend.db.on_commit`` and runs only after the
commit; a failure there is logged and repaired by the sweeps, the database being the truth.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.requests.service import TransitionResult

Hook = Callable[["TransitionResult"], Awaitable[None]]
_hooks: list[Hook] = []


def on_transition(fn: Hook) -> Hook:
    if fn not in _hooks:
        _hooks.append(fn)
    return fn


async def run_hooks(result: TransitionResult) -> None:
    """Called by the request service inside the transaction that made the change."""
    for hook in list(_hooks):
        await hook(result)
