"""The lights' rows that travel between their modules and to the light board's page, as typed dicts."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict


class StopTimes(TypedDict):
    """When an assignment was accepted, resolved or closed: what stops its clocks (clocks.stop_of).
    An assignment row has them; the flips and the board build them from their own aliases."""

    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None


class Deadlines(TypedDict):
    """A clock's deadlines and when each colour lit (clocks.next_due): a clock row has them."""

    yellow_due_at: datetime
    red_due_at: datetime
    yellow_lit_at: datetime | None
    red_lit_at: datetime | None


class BoardItem(TypedDict):
    """A request with a lit light on its current lead (board.board), the worst light of the request."""

    id: int  # the clock's
    request: int
    stage: str
    yellow_lit_at: datetime | None
    red_lit_at: datetime | None
    assignment: int
    unit: int
    unit_name: str
    code: str
    status: str
    category_name: str
    person_name: str | None
    a_accepted: datetime | None
    a_resolved: datetime | None
    a_closed: datetime | None
    color: str
    lit_at: datetime
    lit_seconds: int
    severity: int  # 2 red, 1 yellow
