"""The knowledge base's rows that its pages and the WeChat reply read, as typed dicts (plain dicts at run
time, so the templates read them unchanged). Keys are the columns the service selects, with its aliases."""

from __future__ import annotations

from datetime import date, datetime
from typing import TypedDict


class _Answer(TypedDict):
    """The content a reader sees: the answer, where to go, and where it comes from."""

    title: str
    answer: str
    category: str
    source_title: str
    source_number: str
    source_issuer: str
    source_url: str
    effective_on: date | None
    expires_on: date | None
    region: str
    where_to_go: str
    what_to_bring: str
    how_long: str
    cost: str
    responsible: str


class EntryContent(_Answer):
    """What a version holds (service.CONTENT_FIELDS): the answer and the other ways people ask (search only)."""

    keywords: str


class EntryRow(EntryContent):
    """An entry for its editors (get_entry): every column but the search tokens, with its owner's name."""

    id: int
    owner_unit: int
    owner_name: str
    review_by: date | None
    status: str
    version: int
    latest_version: int
    is_demo: bool
    demo_key: str | None
    from_request: int | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None
    helpful_yes: int
    helpful_no: int


class PublicEntry(_Answer):
    """A published entry as anyone may read it (service.PUBLIC_FIELDS): never owner, review dates or keywords."""

    id: int
    published_at: datetime | None
    is_demo: bool
    helpful_yes: int
    helpful_no: int
    outdated: bool


class EntryLink(TypedDict):
    """An entry in the public list of a category."""

    id: int
    title: str
    outdated: bool


class StaffEntry(TypedDict):
    """An entry in its editors' list."""

    id: int
    title: str
    status: str
    category: str
    version: int
    latest_version: int
    review_by: date | None
    expires_on: date | None
    updated_at: datetime
    owner_name: str
    is_demo: bool
    outdated: bool


class VersionRow(TypedDict):
    """A version as ``KbVersion.select()`` reads it: every column."""

    id: int
    entry: int
    number: int
    state: str
    content: str  # the JSON of the content fields (version_content reads it)
    author: int | None
    created_at: datetime
    reviewer: int | None
    reviewed_at: datetime | None
    review_note: str


class VersionListRow(TypedDict):
    """A version in an entry's history, with its author's and reviewer's names."""

    id: int
    number: int
    state: str
    content: str
    created_at: datetime
    author_name: str | None
    reviewer_name: str | None
    reviewed_at: datetime | None
    review_note: str


class PendingVersion(TypedDict):
    """A version waiting for review."""

    entry: int
    number: int
    created_at: datetime
    title: str
    owner_unit: int
    author_name: str | None


class FlaggedEntry(TypedDict):
    """A published entry past its review-by or expiry date."""

    id: int
    title: str
    owner_unit: int
    review_by: date | None
    expires_on: date | None


class Gap(TypedDict):
    """A question asked often with no good answer, by theme."""

    theme: str
    searches: int
    by_hand: int
    example: str


class SynonymGroup(TypedDict):
    id: int
    terms: str


class EntryDraft(TypedDict, total=False):
    """Form values for a new entry from a consultation (empty when the request is not the viewer's)."""

    title: str
    answer: str
    from_request: int
