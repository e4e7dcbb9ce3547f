"""What the event log says about one request, derived once: the input of every KPI (backend.stats.kpis).

Only ``event`` rows (which no path can edit or delete) and the request's immutable attributes (kind,
category, place) are read; the cached columns of ``request`` (status, resolved_at, …) never are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from backend.requests.tables import Status

GOOD = ("satisfied", "basic")  # the rating scores that count as satisfied
OPEN = tuple(s.value for s in (Status.submitted, Status.assigned, Status.accepted, Status.returned))
DONE = (Status.resolved.value, Status.closed.value)


@dataclass(slots=True)
class Fact:
    """What the event log says about one cohort request (derived values computed once)."""

    id: int
    code: str
    kind: str
    category: int
    street: int | None
    community: int | None
    grid: int | None
    is_public: bool
    submitted_at: datetime
    status: str  # to_status of the latest event
    level: str  # level of the unit responsible after the latest event
    first_accept: datetime | None
    last_resolve: datetime | None
    resolutions: int
    reopens: int
    rated: int
    rated_good: int
    yellow: int
    red: int
    not_rated: int
    above_community: bool
    withdrawn: bool = False
    completed: bool = False
    is_open: bool = False
    accept_seconds: float | None = None
    resolve_seconds: float | None = None
    cross_lead: bool = False  # ever led by a unit other than its own street, community or grid

    def __post_init__(self) -> None:
        # A duplicate leaves the cohort like a withdrawal: the problem is counted once, as its original.
        self.withdrawn = self.status in (Status.withdrawn.value, Status.duplicate.value)
        self.completed = self.status in DONE
        self.is_open = self.status in OPEN
        if self.first_accept is not None:
            self.accept_seconds = (self.first_accept - self.submitted_at).total_seconds()
        if self.completed and self.last_resolve is not None:
            self.resolve_seconds = (self.last_resolve - self.submitted_at).total_seconds()
