"""The notices' rows that travel between their modules and to their pages, as typed dicts (plain dicts at run
time, so the templates read them unchanged): every column, as ``select()`` reads it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, NotRequired, TypedDict


class ParsedTable(TypedDict, total=False):
    """An uploaded table as kept and published (privacy.parse_table, masked); empty for other attachments."""

    headers: list[str]
    rows: list[list[str]]
    marks: list[str]  # per column: "", "id", "phone", "address", ... (what to mask)


class NoticeTypeRow(TypedDict):
    """An entry of the catalogue: what must be published, on what basis and how often."""

    id: int
    code: str
    name: str
    name_en: str
    level: str
    basis: str
    cadence: str
    due_day: int
    grace_days: int
    publisher: str
    needs_review: bool
    active: bool
    sort: int
    updated_at: datetime


class NoticeRow(TypedDict):
    """A notice (drafts.load_notice): its status and the published version's title and period."""

    id: int
    unit: int
    notice_type: int
    status: str
    current_version: int
    title: str
    period_start: date | None
    period_end: date | None
    published_at: datetime | None
    updated_at: datetime
    search_text: str
    created_by: int | None
    created_at: datetime


class VersionRow(TypedDict):
    """A version of a notice (drafts.open_version): the text, its review and its publication."""

    id: int
    notice: int
    number: int
    status: str
    title: str
    body: str
    valid_from: date | None
    valid_until: date | None
    change_note: str
    author: int | None
    submitted_at: datetime | None
    reviewed_by: int | None
    reviewed_at: datetime | None
    review_comment: str
    published_at: datetime | None
    created_at: datetime


class AttachmentRow(TypedDict):
    """An attachment of a version (attachments.attachments_of), its table already parsed from JSON."""

    id: int
    version: int
    kind: str
    filename: str
    storage_key: str
    thumb_key: str
    size: int
    table: ParsedTable
    sort: int
    created_at: datetime


class AttachmentSeen(AttachmentRow):
    """An attachment with what decides who may see it (reading.attachment_for)."""

    version_status: str
    unit: int
    notice_status: str


class UnitRow(TypedDict):
    """The publishing unit as the notice pages name it."""

    id: int
    name: str
    path: str
    kind: str
    parent_name: str | None


class DutyRow(TypedDict):
    """A unit's duty to publish a periodic type for one period, as the duty pages read it (duties.board,
    unit_duties): every column, the names, and its light and due day (duties._decorate)."""

    id: int
    key: str
    unit: int
    notice_type: int
    period_key: str
    period_start: date
    period_end: date
    due_at: datetime
    red_at: datetime
    fulfilled_at: datetime | None
    notice: int | None
    yellow_lit_at: datetime | None
    red_lit_at: datetime | None
    created_at: datetime
    type_name: str
    unit_name: NotRequired[str]  # board only
    street_name: NotRequired[str | None]  # board only
    light: NotRequired[str]  # 'red', 'yellow', 'late', 'ok' or 'pending'
    due_day: NotRequired[date]


class DutyFlip(TypedDict):
    """A duty's light that turned (duties.flip), for its announcement."""

    id: int
    unit: int
    notice_type: int
    period_key: str
    color: str


class NoticeListRow(TypedDict):
    """A published notice in a community's list (reading.browse)."""

    id: int
    title: str
    published_at: datetime | None
    period_start: date | None
    period_end: date | None
    current_version: int
    type_name: str
    type_name_en: str
    cadence: str
    period: Any  # a cadence.Period, for periodic types, else None


class BrowseResult(TypedDict):
    rows: list[NoticeListRow]
    total: int
    pages: int
    words: list[str]  # the search's words, to mark in the results


class CommunityRow(TypedDict):
    id: int
    name: str
    street_name: str | None


class OpenVersionState(TypedDict):
    """The version being prepared of a notice, as the manage list shows it."""

    notice: int
    status: str
    number: int
    review_comment: str


class ManagedNotice(NoticeRow):
    """A notice of the viewer's communities (reading.manage_list), with what it is waiting for."""

    type_name: str
    unit_name: str
    open: OpenVersionState | None


class PendingReview(TypedDict):
    """A version waiting for the 居务监督委员会 (reading.review_queue)."""

    notice: int
    number: int
    title: str
    submitted_at: datetime | None
    unit_name: str
    type_name: str


class QuestionRow(TypedDict):
    """A resident's question on a notice, with its request's state and answer (questions.questions_of)."""

    id: int
    notice: int
    version: int
    request: int
    asker: int | None
    question: str
    public_consent: bool
    created_at: datetime
    code: str
    status: str
    answer: str
    answered_at: datetime | None
    due_at: NotRequired[datetime]  # the asker's own: when the answer is due


class NoticeQuestions(TypedDict):
    public: list[QuestionRow]  # answered, and the asker agreed to publish
    mine: list[QuestionRow]  # the viewer's own, in any state
