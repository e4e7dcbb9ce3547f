"""Knowledge base for policy consultation (政策咨询): entries, their versions, the synonym dictionary,
the search log and the consultations residents answered themselves.

An entry's content columns hold what readers see: the published version once there is one, the newest
draft before that. Every edit is a ``KbVersion`` row (author, time, state); approving a version copies it
into the entry. ``title_tokens``/``body_tokens`` are the segmented text (words joined by spaces) that the
generated ``tsv`` column indexes. ``tsv``, the ``kb_title`` table (a trigger keeps it) and ``kb_term`` (the
vocabulary) are created by the migration only: Piccolo never selects or writes them (see search.py).
"""

from __future__ import annotations

from enum import Enum

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.organisation.tables import Unit


class EntryStatus(str, Enum):
    draft = "draft"  # never published: only its owner unit and the reviewers see it
    published = "published"
    withdrawn = "withdrawn"  # taken off the public pages


class VersionState(str, Enum):
    draft = "draft"
    review = "review"  # submitted, waiting for the owner unit's head or the command center
    approved = "approved"  # became the published content
    rejected = "rejected"


class KbEntry(Table, tablename="kb_entry"):
    # --- content (copied from a version)
    title = Varchar(length=200)
    answer = Text(default="")
    category = Varchar(length=30, index=True)
    keywords = Varchar(length=300, default="")  # other ways people ask, for search only
    source_title = Varchar(length=200, default="")
    source_number = Varchar(length=100, default="")
    source_issuer = Varchar(length=100, default="")
    source_url = Varchar(length=300, default="")
    effective_on = Date(null=True, default=None)
    expires_on = Date(null=True, default=None)
    region = Varchar(length=100, default="")
    where_to_go = Text(default="")
    what_to_bring = Text(default="")
    how_long = Varchar(length=200, default="")
    cost = Varchar(length=200, default="")
    responsible = Varchar(length=200, default="")
    # --- internal: never on the public pages
    owner_unit = ForeignKey(Unit, index=True)
    review_by = Date(null=True, default=None)
    status = Varchar(length=12, choices=EntryStatus, default=EntryStatus.draft, index=True)
    version = Integer(default=1)  # number of the version the content columns hold
    latest_version = Integer(default=1)
    is_demo = Boolean(default=False)
    demo_key = Varchar(length=60, null=True, default=None, unique=True)  # finds a demo entry again (idempotent load)
    from_request = Integer(null=True, default=None)  # the consultation whose answer became this draft
    created_by = ForeignKey(Account, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    published_at = Timestamptz(null=True, default=None)
    helpful_yes = Integer(default=0)
    helpful_no = Integer(default=0)
    # --- search
    title_tokens = Text(default="")
    body_tokens = Text(default="")


class KbVersion(Table, tablename="kb_version"):
    entry = ForeignKey(KbEntry, index=True)
    number = Integer()
    state = Varchar(length=10, choices=VersionState, default=VersionState.draft, index=True)
    content = Text(default="{}")  # JSON of the content fields (kept as text: compared and copied, not queried)
    author = ForeignKey(Account, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    reviewer = ForeignKey(Account, null=True, default=None)
    reviewed_at = Timestamptz(null=True, default=None)
    review_note = Varchar(length=500, default="")


class KbSynonym(Table, tablename="kb_synonym"):
    """One group of words that mean the same thing to a resident (低保, 最低生活保障)."""

    terms = Varchar(length=300)  # comma separated, the first is the group's name
    created_by = ForeignKey(Account, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class KbSearch(Table, tablename="kb_search"):
    """A question typed into the public search, and what came of it (for the command center's gap list)."""

    query = Varchar(length=200)
    theme = Varchar(length=200, index=True)  # its content words, sorted: the same question asked differently
    hits = Integer(default=0)
    top_entry = Integer(null=True, default=None)
    good = Boolean(default=False)  # the best result matched by words, not only by similar characters
    clicked_entry = Integer(null=True, default=None)  # set when the reader answered "was this helpful?"
    helpful = Boolean(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class KbSelfServed(Table, tablename="kb_self_served"):
    """A consultation the resident answered from the knowledge base (这解答了我的问题): never a request."""

    entry = ForeignKey(KbEntry, index=True)
    question = Varchar(length=500, default="")
    account = ForeignKey(Account, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
