"""The requests' public surface: what controllers, jobs and other domains call, by the module that holds it.

No logic here. rules.py (the rule table, limits, labels, the errors a refusal raises), access.py (who may see
and do what), submission.py (check_new, the one validation of a report, and submit), transitions.py (the one
place where a request changes state after its submission, and record() for the events that change none).
"""

from __future__ import annotations

from backend.requests.access import (
    can_act_on_assignment,
    can_view,
    handles_unit,
    open_lead,
    staff_actions,
    staff_actions_many,
    unit_path,
)
from backend.requests.rules import (
    ACTION_LABELS,
    HANDLING_ROLES,
    INTERNAL_NOTE_ACTIONS,
    MAX_DESCRIPTION,
    MAX_NOTE,
    RULES,
    STAFF_ACTIONS,
    STATUS_LABELS,
    EventAttach,
    InvalidState,
    NotAllowed,
    RequestError,
    Rule,
    StaleVersion,
    TransitionResult,
)
from backend.requests.submission import (
    CheckedRequest,
    KnownCategory,
    KnownPlace,
    NewRequest,
    check_new,
    find_by_idempotency_key,
    submit,
)
from backend.requests.transitions import (
    record,
    record_many,
    timeline,
    transition,
)

__all__ = [
    "ACTION_LABELS",
    "HANDLING_ROLES",
    "INTERNAL_NOTE_ACTIONS",
    "MAX_DESCRIPTION",
    "MAX_NOTE",
    "RULES",
    "STAFF_ACTIONS",
    "STATUS_LABELS",
    "CheckedRequest",
    "EventAttach",
    "InvalidState",
    "KnownCategory",
    "KnownPlace",
    "NewRequest",
    "NotAllowed",
    "RequestError",
    "Rule",
    "StaleVersion",
    "TransitionResult",
    "can_act_on_assignment",
    "can_view",
    "check_new",
    "find_by_idempotency_key",
    "handles_unit",
    "open_lead",
    "record",
    "record_many",
    "staff_actions",
    "staff_actions_many",
    "submit",
    "timeline",
    "transition",
    "unit_path",
]
