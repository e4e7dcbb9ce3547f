"""Party-member learning (党员学习比赛): the question bank, daily practice, competitions and their attempts.

Uniqueness that Piccolo cannot declare (one practice answer per member, day and question; one attempt per
member and competition; one answer per attempt and question) is in the raw-SQL migration after the auto one:
those constraints are what makes a double submit count once.
"""

from __future__ import annotations

from enum import Enum

from piccolo.columns import JSONB, BigInt, Boolean, Date, ForeignKey, Integer, SmallInt, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.organisation.tables import Unit


class QuestionKind(str, Enum):
    single = "single"  # 单选
    multi = "multi"  # 多选
    judge = "judge"  # 判断 (true/false)
    fill = "fill"  # 填空


class Question(Table):
    kind = Varchar(length=10, choices=QuestionKind)
    category = Varchar(length=40, index=True)  # e.g. 党章党规, 党史, 本地政策
    difficulty = SmallInt(default=1)  # 1 易, 2 中, 3 难
    stem = Text()
    # Choice texts in their original order (empty for true/false and fill-in); shuffled only for display.
    options = JSONB(default=[])
    # single/multi: original option indexes; judge: [true] or [false]; fill: the accepted answers.
    answer = JSONB(default=[])
    explanation = Text(default="")
    source = Varchar(length=200, default="")
    active = Boolean(default=True, index=True)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class QuestionReport(Table):
    """A member's report of an error in a question, listed for the department's review."""

    question = ForeignKey(Question, index=True)
    account = ForeignKey(Account)
    reason = Varchar(length=500)
    resolved = Boolean(default=False, index=True)
    resolved_by = Integer(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class MemberBranch(Table):
    """The party branch a member belongs to: the branch of a unit (a community), set by the department.

    The accounts domain only knows *that* someone is a verified party member; teams need *which* branch."""

    account = ForeignKey(Account, unique=True)
    unit = ForeignKey(Unit, index=True)
    set_by = Integer(null=True, default=None)
    set_at = Timestamptz(default=TimestamptzNow())


class PracticeAnswer(Table):
    account = ForeignKey(Account, index=True)
    day = Date()  # the local (Asia/Shanghai) day of the practice
    question = ForeignKey(Question)
    chosen = JSONB(default=[])
    correct = Boolean(default=False)
    points = SmallInt(default=0)
    answered_at = Timestamptz(default=TimestamptzNow())


class CompetitionScope(str, Enum):
    all = "all"  # every verified party member
    units = "units"  # the branches under the units listed in CompetitionUnit


class Competition(Table):
    title = Varchar(length=100)
    description = Text(default="")
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    seconds_per_question = SmallInt(default=30)
    scope = Varchar(length=10, choices=CompetitionScope, default=CompetitionScope.all.value)
    question_count = SmallInt(default=0)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class CompetitionUnit(Table):
    competition = ForeignKey(Competition, index=True)
    unit = ForeignKey(Unit)


class CompetitionQuestion(Table):
    competition = ForeignKey(Competition, index=True)
    question = ForeignKey(Question)
    position = SmallInt()


class Attempt(Table):
    """One member's run through a competition. ``position`` is the index (in the member's shuffled order)
    of the question being answered; ``current_started_at`` is when its clock started (set by a POST)."""

    competition = ForeignKey(Competition)
    account = ForeignKey(Account, index=True)
    branch = Integer(null=True, default=None)  # the member's branch unit when the attempt began
    seed = BigInt()
    position = SmallInt(default=0)
    current_started_at = Timestamptz(null=True, default=None)
    score = Integer(default=0)
    answered = SmallInt(default=0)
    time_ms = BigInt(default=0)  # time used on the questions answered, for ties
    started_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)


class AttemptAnswer(Table):
    attempt = ForeignKey(Attempt)
    question = ForeignKey(Question)
    position = SmallInt()
    chosen = JSONB(default=[])
    correct = Boolean(default=False)
    timed_out = Boolean(default=False)
    points = SmallInt(default=0)
    elapsed_ms = Integer(default=0)
    answered_at = Timestamptz(default=TimestamptzNow())
