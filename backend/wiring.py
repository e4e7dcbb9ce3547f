"""The wiring that is not a controller or a job, in one place (controllers are mounted in ``backend.app``,
jobs registered in ``workers.settings``): what runs, in order, after every change of a request's state.

Each hook runs inside the change's transaction (see ``backend.requests.hooks``); nothing registers
itself by being imported.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from backend.lights.clocks import lights_after_transition
from backend.maps.supporters import supporters_after_transition
from backend.notify.channels import reach_reporter
from backend.notify.hooks import notify_people
from backend.ratings.hooks import schedule_auto_close
from backend.stats.rollup import stats_after_transition

if TYPE_CHECKING:
    from backend.requests.rules import TransitionResult

TransitionHook = Callable[["TransitionResult"], Awaitable[None]]

TRANSITION_HOOKS: tuple[TransitionHook, ...] = (
    lights_after_transition,  # light clocks start and stop with the assignment (timers after the commit)
    schedule_auto_close,  # a resolution starts the rating period (closes unrated after it)
    notify_people,  # the resident hears of status changes; handlers of new work
    supporters_after_transition,  # a duplicate's reporter follows the original; supporters hear of progress
    reach_reporter,  # ... and outside the app, through their channel: WeChat, SMS or push (issue 23)
    stats_after_transition,  # the rollup folds the change in soon after
)
