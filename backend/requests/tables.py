"""Requests (诉求), their assignments (who is responsible, over which span) and the append-only event log."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import JSON, JSONB, Boolean, DoublePrecision, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.organisation.tables import Unit
from backend.routing.tables import Category


class Kind(str, Enum):
    help = "help"  # 求助
    suggestion = "suggestion"  # 建议
    consultation = "consultation"  # 咨询
    complaint = "complaint"  # 投诉


class Status(str, Enum):
    submitted = "submitted"
    assigned = "assigned"
    accepted = "accepted"
    resolved = "resolved"
    returned = "returned"
    closed = "closed"
    withdrawn = "withdrawn"
    duplicate = "duplicate"  # the same problem as another request: closed with a link to it


OPEN_STATUSES = (Status.submitted, Status.assigned, Status.accepted, Status.returned)


class Source(str, Enum):
    resident = "resident"  # the resident's own phone
    on_behalf = "on_behalf"  # a grid worker filed it for a resident
    patrol = "patrol"  # a grid worker found it on patrol
    open311 = "open311"  # another system through the Open311 API (the client: backend/open311 tables)


class Request(Table):
    code = Varchar(length=20, unique=True)
    kind = Varchar(length=15, choices=Kind, index=True)
    category = ForeignKey(Category, index=True)
    description = Text()
    is_public = Boolean(default=True)
    source = Varchar(length=12, choices=Source, default=Source.resident)
    reporter = ForeignKey(Account, null=True, default=None, index=True)  # the resident who rates it
    filed_by = ForeignKey(Account, null=True, default=None)  # staff who filed it on behalf / on patrol
    contact_name = Varchar(length=50, default="")
    contact_phone = Varchar(length=20, default="")
    address = Varchar(length=200, default="")
    lat = DoublePrecision(null=True, default=None)
    lon = DoublePrecision(null=True, default=None)
    street = ForeignKey(Unit, null=True, default=None, index=True)
    community = ForeignKey(Unit, null=True, default=None, index=True)
    grid = ForeignKey(Unit, null=True, default=None, index=True)
    status = Varchar(length=12, choices=Status, default=Status.submitted, index=True)
    # The current lead: a cache of the open lead assignment, kept by the transition service only.
    current_unit = ForeignKey(Unit, null=True, default=None, index=True)
    current_person = ForeignKey(Account, null=True, default=None, index=True)
    level = Varchar(length=12, default="community")
    urgent = Boolean(default=False)
    answer = Text(default="")
    close_reason = Varchar(length=20, default="")
    version = Integer(default=1)
    idempotency_key = Varchar(length=64, null=True, default=None, unique=True)
    # Answers to the category's extra questions (routing.CategoryAttribute): {code: value or [values]}
    attributes = JSONB(default={})
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    accepted_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class AssignmentRole(str, Enum):
    lead = "lead"  # 主办
    assist = "assist"  # 协办


class Assignment(Table):
    request = ForeignKey(Request, index=True)
    unit = ForeignKey(Unit, index=True)
    person = ForeignKey(Account, null=True, default=None, index=True)
    role = Varchar(length=8, choices=AssignmentRole, default=AssignmentRole.lead)
    level = Varchar(length=12, default="community")
    is_open = Boolean(default=True, index=True)
    opened_at = Timestamptz(default=TimestamptzNow())
    accepted_at = Timestamptz(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    closed_at = Timestamptz(null=True, default=None)
    close_reason = Varchar(length=20, default="")
    # Bumped whenever the assignment's clocks are re-scheduled: old timer jobs become no-ops.
    version = Integer(default=1)


class Event(Table):
    """Append-only: database triggers refuse UPDATE and DELETE (see the migration)."""

    request = ForeignKey(Request, index=True)
    assignment = ForeignKey(Assignment, null=True, default=None)
    actor = ForeignKey(Account, null=True, default=None)
    actor_role = Varchar(length=30, default="")
    action = Varchar(length=24, index=True)
    from_status = Varchar(length=12, default="")
    to_status = Varchar(length=12, default="")
    unit = ForeignKey(Unit, null=True, default=None)  # the responsible unit after the event
    person = ForeignKey(Account, null=True, default=None)
    note = Text(default="")
    is_public = Boolean(default=True)
    data = JSON(default="{}")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class TrackingCounter(Table):
    """The last daily number handed out per tracking-code prefix (YZ + yymmdd). Taken in a statement of its
    own, outside the submission's transaction: a lock held until the submission commits serialized every
    submission of every web process (issue 22). A number whose submission then fails is skipped."""

    prefix = Varchar(length=16, unique=True)
    last = Integer(default=0)
