"""The lights' rows that travel between their modules and to the light board's page, as typed dicts."""

from __future__ import annotations

from datetime import datetime
from typing import NotRequired, TypedDict


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


class ExplanationRow(TypedDict):
    """A red light's written explanation, with the names its pages show (explanations.explanation and
    explanations_for; the single one also has the request's description, the light and who wrote it)."""

    id: int
    clock: int
    request: int
    assignment: int
    unit: int
    status: str
    due_at: datetime
    reason: str
    measures: str
    promised_at: datetime | None
    first_submitted_at: datetime | None
    submitted_at: datetime | None
    submitted_by: int | None
    late: bool
    review_comment: str
    reviewed_at: datetime | None
    reviewed_by: int | None
    created_at: datetime
    version: int
    unit_name: str
    code: str
    stage: str
    description: NotRequired[str]
    red_lit_at: NotRequired[datetime | None]
    submitted_by_name: NotRequired[str | None]
    reviewed_by_name: NotRequired[str | None]


class ExplanationLists(TypedDict):
    todo: list[ExplanationRow]  # the head's, open or sent back
    done: list[ExplanationRow]
    review: list[ExplanationRow]  # the command center's, awaiting review
    recent: list[ExplanationRow]


class PhoneCallRow(TypedDict):
    """A supervision call logged on an explanation."""

    id: int
    explanation: int
    called_at: datetime
    callee: str
    outcome: str
    logged_by: int | None
    created_at: datetime
    logged_by_name: str | None
