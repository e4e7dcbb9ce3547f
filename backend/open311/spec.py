"""Open311 GeoReport v2: the spec's limits, how our statuses map to its statuses, and its error.

Every write goes through backend/requests/service.py (submit, transition): an API request is one more door,
not a second write path. No Litestar imports: the controllers turn ApiError into the spec's error format.
"""

from __future__ import annotations

from datetime import timedelta

from backend.errors import DomainError
from backend.requests.tables import Status

SPEC = "http://wiki.open311.org/GeoReport_v2"
MAX_WINDOW = timedelta(days=90)
MAX_PAGE_SIZE = 1000  # the spec's customary cap: 90 days or 1000 requests, whichever is smaller
MAX_DESCRIPTION = 4000  # the spec's limit; ours is stricter (requests.service.MAX_DESCRIPTION)
CLOSED_STATUSES = (Status.resolved.value, Status.closed.value)
# Our status → (GeoReport status, FixMyStreet's extended status)
STATUS_MAP = {
    Status.submitted.value: ("open", "open"),
    Status.assigned.value: ("open", "open"),
    Status.accepted.value: ("open", "in_progress"),
    Status.returned.value: ("open", "internal_referral"),
    Status.resolved.value: ("closed", "fixed"),
    Status.closed.value: ("closed", "closed"),
}
# FixMyStreet's update statuses a back office may send, and what each does here (actions of the transition service).
UPDATE_STATUSES = {
    "open": "progress",
    "investigating": "progress",
    "in_progress": "progress",
    "action_scheduled": "progress",
    "planned": "progress",
    "for_triage": "progress",
    "fixed": "resolve",
    "closed": "resolve",
    "no_further_action": "resolve",
    "duplicate": "resolve",
    "unable_to_fix": "resolve",
    "not_councils_responsibility": "return",
    "internal_referral": "return",
}


class ApiError(DomainError):
    """The spec's errors: 404 unknown, 403 key, 400 otherwise (429 when over the rate limit)."""

    def __init__(self, status: int, errors: list[tuple[str, str]]) -> None:
        super().__init__(errors[0][1] if errors else "", status=status)
        self.errors = errors  # (code, description): the spec's answer, all at once

    @classmethod
    def one(cls, status: int, code: str, description: str) -> ApiError:
        return cls(status, [(code, description)])
