"""Red/yellow lights (红黄灯): rules per category and stage, one clock per (assignment, stage),
explanations the unit head writes after a red light, and the command center's phone calls."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import Boolean, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.organisation.tables import Unit
from backend.requests.tables import Assignment, Request
from backend.routing.tables import Category


class Stage(str, Enum):
    accept = "accept"  # from assignment to 受理
    resolve = "resolve"  # from assignment to 办结


class ClockKind(str, Enum):
    natural = "natural"  # calendar hours (the seed)
    working = "working"  # office hours on official working days


class LightRule(Table):
    # null category = the default rule of the stage.
    category = ForeignKey(Category, null=True, default=None, index=True)
    stage = Varchar(length=10, choices=Stage)
    yellow_hours = DoublePrecision(default=24.0)
    red_hours = DoublePrecision(default=48.0)
    clock = Varchar(length=10, choices=ClockKind, default=ClockKind.natural)
    # e.g. "09:00-12:00,13:30-17:30" (local time), used by the working clock only.
    office_hours = Varchar(length=100, default="09:00-12:00,13:30-17:30")
    updated_at = Timestamptz(default=TimestamptzNow())
    updated_by = ForeignKey(Account, null=True, default=None)


class LightClock(Table):
    """The deadlines of one stage of one assignment. The database is the truth; arq is the alarm clock."""

    # "{assignment}:{stage}": one clock per assignment and stage, on both engines.
    key = Varchar(length=40, unique=True)
    assignment = ForeignKey(Assignment, index=True)
    request = ForeignKey(Request, index=True)
    unit = ForeignKey(Unit, index=True)
    stage = Varchar(length=10, choices=Stage)
    started_at = Timestamptz()
    yellow_due_at = Timestamptz()
    red_due_at = Timestamptz()
    yellow_lit_at = Timestamptz(null=True, default=None)
    red_lit_at = Timestamptz(null=True, default=None)
    stopped_at = Timestamptz(null=True, default=None)
    stop_reason = Varchar(length=20, default="")
    # The earliest deadline still to check (null when nothing is left): the sweep's one indexed column.
    next_due_at = Timestamptz(null=True, default=None, index=True)
    version = Integer(default=1)


class ExplanationStatus(str, Enum):
    open = "open"  # waiting for the unit head
    submitted = "submitted"  # waiting for the command center's review
    returned = "returned"  # sent back with a comment: the head writes again
    accepted = "accepted"


class Explanation(Table):
    """A red light's written explanation (书面说明) by the head of the responsible unit."""

    clock = ForeignKey(LightClock, unique=True)
    request = ForeignKey(Request, index=True)
    assignment = ForeignKey(Assignment)
    unit = ForeignKey(Unit, index=True)
    status = Varchar(length=10, choices=ExplanationStatus, default=ExplanationStatus.open, index=True)
    due_at = Timestamptz()
    reason = Text(default="")
    measures = Text(default="")
    promised_at = Timestamptz(null=True, default=None)
    first_submitted_at = Timestamptz(null=True, default=None)
    submitted_at = Timestamptz(null=True, default=None)
    submitted_by = ForeignKey(Account, null=True, default=None)
    late = Boolean(default=False)  # the first submission came after due_at
    review_comment = Text(default="")
    reviewed_at = Timestamptz(null=True, default=None)
    reviewed_by = ForeignKey(Account, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    version = Integer(default=1)


class PhoneCall(Table):
    """The command center's call to the unit after a red light (time, who, outcome)."""

    explanation = ForeignKey(Explanation, index=True)
    called_at = Timestamptz()
    callee = Varchar(length=100)
    outcome = Text()
    logged_by = ForeignKey(Account, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
