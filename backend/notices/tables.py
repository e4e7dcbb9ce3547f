"""村居公开: the catalogue of notice types, notices with their versions and attachments, the duty of each
unit to publish each periodic type per period (the overdue clock), and residents' questions on notices."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import JSON, Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.organisation.tables import Unit
from backend.requests.tables import Request


class Cadence(str, Enum):
    immediate = "immediate"  # major matters: at once, no periodic clock
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"
    event = "event"  # per event (a project, a meeting): no periodic clock


class TypeLevel(str, Enum):
    all = "all"  # urban communities and villages alike
    community = "community"  # 居务公开 only
    village = "village"  # 村务公开 only (the communities of a town, 镇)


class NoticeType(Table):
    """One entry of the catalogue an admin keeps: what must be published, on what basis and how often."""

    code = Varchar(length=40, unique=True)
    name = Varchar(length=100)
    name_en = Varchar(length=150, default="")
    level = Varchar(length=10, choices=TypeLevel, default=TypeLevel.all)
    basis = Text(default="")  # the legal or policy basis
    cadence = Varchar(length=10, choices=Cadence, default=Cadence.quarterly)
    # Periodic types: the notice of a period is due by this day of the first month after the period.
    due_day = Integer(default=20)
    grace_days = Integer(default=10)  # red this many days after the due day passed
    publisher = Varchar(length=100, default="居（村）民委员会")
    needs_review = Boolean(default=True)  # by the community's 居务监督委员会
    active = Boolean(default=True)
    sort = Integer(default=0)
    updated_at = Timestamptz(default=TimestamptzNow())


class NoticeStatus(str, Enum):
    draft = "draft"  # never published yet
    published = "published"  # a version is public (corrections keep it public until they are published)
    withdrawn = "withdrawn"


class Notice(Table):
    unit = ForeignKey(Unit, index=True)  # the publishing community (or village)
    notice_type = ForeignKey(NoticeType, index=True)
    status = Varchar(length=10, choices=NoticeStatus, default=NoticeStatus.draft, index=True)
    current_version = Integer(default=0)  # the published version's number (0: none yet)
    title = Varchar(length=200, default="")  # of the published version (for lists and search)
    period_start = Date(null=True, default=None)
    period_end = Date(null=True, default=None)
    published_at = Timestamptz(null=True, default=None, index=True)  # first publication
    updated_at = Timestamptz(default=TimestamptzNow())
    # The published version's text segmented by rjieba and joined by spaces: a GIN index over
    # to_tsvector('simple', search_text) (raw migration) answers the Chinese search.
    search_text = Text(default="")
    created_by = ForeignKey(Account, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class VersionStatus(str, Enum):
    draft = "draft"
    review = "review"  # waiting for the 居务监督委员会
    returned = "returned"  # sent back with a comment
    published = "published"  # the current public version
    superseded = "superseded"  # an older public version, kept visible with the correction


class NoticeVersion(Table):
    notice = ForeignKey(Notice, index=True)
    number = Integer(default=1)
    status = Varchar(length=12, choices=VersionStatus, default=VersionStatus.draft)
    title = Varchar(length=200)
    body = Text(default="")
    valid_from = Date(null=True, default=None)
    valid_until = Date(null=True, default=None)
    change_note = Text(default="")  # what a correction changed, shown with it
    author = ForeignKey(Account, null=True, default=None)
    submitted_at = Timestamptz(null=True, default=None)
    reviewed_by = ForeignKey(Account, null=True, default=None)
    reviewed_at = Timestamptz(null=True, default=None)
    review_comment = Text(default="")
    published_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class AttachmentKind(str, Enum):
    pdf = "pdf"
    image = "image"
    table = "table"  # an uploaded XLSX/CSV, kept as parsed rows and rendered as an HTML table
    board = "board"  # a photo of the physical notice board


class Attachment(Table):
    version = ForeignKey(NoticeVersion, index=True)
    kind = Varchar(length=8, choices=AttachmentKind)
    filename = Varchar(length=200, default="")
    storage_key = Varchar(length=200, default="")  # the file (PDF, display JPEG); empty for tables
    thumb_key = Varchar(length=200, default="")
    size = Integer(default=0)
    # Tables: {"headers": [...], "rows": [[...]...], "marks": ["", "id", "phone", "address", ...]}.
    table = JSON(default="{}")
    sort = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())


class NoticeDuty(Table):
    """A unit's duty to publish a periodic type for one period: the overdue clock. The database is the truth;
    a sweep creates the duties of ended periods, settles them from published notices and flips the lights."""

    key = Varchar(length=80, unique=True)  # "{unit}:{type}:{period_key}"
    unit = ForeignKey(Unit, index=True)
    notice_type = ForeignKey(NoticeType, index=True)
    period_key = Varchar(length=10)  # "2026-11", "2026-Q3", "2026"
    period_start = Date()
    period_end = Date()
    due_at = Timestamptz()  # the end of the due day: yellow when nothing was published by then
    red_at = Timestamptz()  # after the grace period
    fulfilled_at = Timestamptz(null=True, default=None)  # the first publication covering the period
    notice = ForeignKey(Notice, null=True, default=None)
    yellow_lit_at = Timestamptz(null=True, default=None)
    red_lit_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class NoticeQuestion(Table):
    """A resident's question on a notice: a consultation request (the one submission service) linked here."""

    notice = ForeignKey(Notice, index=True)
    version = Integer(default=1)  # the version the resident read
    request = ForeignKey(Request, unique=True)
    asker = ForeignKey(Account, null=True, default=None, index=True)
    question = Text()
    public_consent = Boolean(default=False)  # the asker agrees that question and answer appear on the page
    created_at = Timestamptz(default=TimestamptzNow())
