"""The learning rows other modules and the templates read, as typed dicts: what each key holds, in one place.

They are the rows the queries return (plain dicts, so the templates read them unchanged); the full-row
types are held against their tables in tests/web/test_rows.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, TypedDict


class QuestionRow(TypedDict):
    """A question as ``Question.select()`` reads it: every column (options and answer decoded)."""

    id: int
    kind: str
    category: str
    difficulty: int
    stem: str
    options: list[str]
    answer: list[Any]  # option indexes, [true]/[false] or the accepted fill-ins (see tables.Question)
    explanation: str
    source: str
    active: bool
    created_by: int | None
    created_at: datetime


class DisplayOption(TypedDict):
    """An option in the member's order: ``value`` is what the page submits, ``index`` stays on the server."""

    value: int
    index: int
    letter: str
    text: str


class PlayQuestion(TypedDict):
    """The question on a competition page: never its answer."""

    id: int
    kind: str
    stem: str
    options: list[str]
    category: str
    display: list[DisplayOption]


class PracticeQuestion(QuestionRow):
    display: list[DisplayOption]
    number: int  # its place in the day's set


class PracticeOutcome(TypedDict):
    question: QuestionRow
    correct: bool
    right_answer: str
    chosen: list[Any]


class PracticeDay(TypedDict):
    day: date
    answered: int
    points: int


class PracticeHistory(TypedDict):
    days: list[PracticeDay]
    total: int


class CompetitionRow(TypedDict):
    """A competition as ``Competition.select()`` reads it: every column."""

    id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    seconds_per_question: int
    scope: str
    question_count: int
    created_by: int | None
    created_at: datetime


class AttemptSummary(TypedDict):
    competition: int
    score: int
    finished_at: datetime | None
    answered: int


class MemberCompetition(CompetitionRow):
    """A competition in a member's list: its status and the member's attempt, if any."""

    status: str
    attempt: AttemptSummary | None


class ListedCompetition(CompetitionRow):
    """A competition in the department's list."""

    status: str
    participants: int


class AttemptRow(TypedDict):
    """An attempt as ``SELECT * FROM attempt`` reads it: every column."""

    id: int
    competition: int
    account: int
    branch: int | None
    seed: int
    position: int
    current_started_at: datetime | None
    score: int
    answered: int
    time_ms: int
    started_at: datetime
    finished_at: datetime | None


class BranchRow(TypedDict):
    """A member's party branch: the community unit."""

    id: int
    name: str
    path: str


class ReviewRow(TypedDict):
    """One answer of a finished competition, with the right one."""

    id: int
    kind: str
    stem: str
    right_answer: str
    explanation: str
    source: str
    correct: bool
    timed_out: bool
    chosen: str


class HistoryRow(TypedDict):
    """One of a member's competitions."""

    id: int
    title: str
    total: int
    score: int
    answered: int
    started_at: datetime
    finished_at: datetime | None


class BoardPerson(TypedDict):
    rank: int
    account: int
    name: str
    branch: str
    score: int
    answered: int
    seconds: float
    finished: bool


class BoardBranch(TypedDict):
    rank: int
    unit: int
    name: str
    members: int
    participants: int
    average: float
    rate: float


class Board(TypedDict):
    """The live or final board, as kept in Redis (JSON) for every web process."""

    competition: int
    status: str
    individual: list[BoardPerson]
    branches: list[BoardBranch]
    participants: int
    computed_at: float


class UnitChoice(TypedDict):
    id: int
    name: str
    kind: str
    path: str
