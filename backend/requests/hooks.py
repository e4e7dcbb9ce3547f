"""Running the hooks of request transitions: timers, notifications, the rollup.

Which hooks run, and in which order, is listed in one place: ``backend.wiring.TRANSITION_HOOKS``.
Hooks run inside the transition's transaction, so the rows they derive from a change (light
clocks, in-app notices) commit with it or not at all, on one connection. Work outside the
database (arq jobs, Web Push) is registered with ``backend.db.on_commit`` and runs only after the
commit; a failure there is logged and repaired by the sweeps, the database being the truth.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backend.requests.rules import TransitionResult


async def run_hooks(result: TransitionResult) -> None:
    """Called by the request service inside the transaction that made the change."""
    # Imported when first needed: the hooks' domains import this one.
    from backend.wiring import TRANSITION_HOOKS

    for hook in TRANSITION_HOOKS:
        await hook(result)
