"""Micro-wishes (微心愿), the party members' claims on them, and their photos.

The beneficiary's real name, phone and address live only in the ``beneficiary_*`` columns; the
board reads ``display_name`` (masked when the wish is saved) and never selects the private columns.
"""

from __future__ import annotations

from enum import Enum

from piccolo.columns import Boolean, Date, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.media.tables import Photo
from backend.organisation.tables import Unit


class WishStatus(str, Enum):
    draft = "draft"  # saved by its author, not yet sent for checking
    pending = "pending"  # waiting for the community to verify it
    published = "published"  # verified, on the board, claimable
    rejected = "rejected"
    claimed = "claimed"
    contacted = "contacted"
    fulfilled = "fulfilled"  # the member reported it done, with photo proof
    confirmed = "confirmed"  # the beneficiary or the community confirmed it


class BeneficiaryGroup(str, Enum):
    dibao = "dibao"  # 低保户
    disabled = "disabled"  # 残疾人
    hardship = "hardship"  # 困难户
    elderly = "elderly"  # 老人
    left_behind_child = "left_behind_child"  # 留守儿童
    other = "other"


class Honorific(str, Enum):
    male = "male"  # 先生
    female = "female"  # 女士
    family = "family"  # 家


class Wish(Table):
    title = Varchar(length=60)
    story = Text(default="")
    group = Varchar(length=20, choices=BeneficiaryGroup, index=True)
    value = Integer(default=0, index=True)  # estimated value in yuan
    community = ForeignKey(Unit, index=True)
    wanted_by = Date(null=True, default=None)
    # Private: shown only to the author, the community's staff and the member holding the claim.
    beneficiary_name = Varchar(length=50, default="")
    beneficiary_phone = Varchar(length=20, default="")
    beneficiary_address = Varchar(length=200, default="")
    honorific = Varchar(length=10, choices=Honorific, default=Honorific.family)
    display_name = Varchar(length=30, default="")  # e.g. "闫先生": what the board shows
    created_by = ForeignKey(Account, index=True)
    # The resident who drafted it (for self or family): may confirm fulfilment. None when staff drafted it.
    owner = ForeignKey(Account, null=True, default=None, index=True)
    status = Varchar(length=12, choices=WishStatus, default=WishStatus.pending, index=True)
    reject_reason = Varchar(length=300, default="")
    verified_by = ForeignKey(Account, null=True, default=None)
    verified_at = Timestamptz(null=True, default=None)
    published_at = Timestamptz(null=True, default=None, index=True)
    # Set when a claim is released or lapses; board_at follows it so the wish sorts at the front again.
    returned_at = Timestamptz(null=True, default=None)
    board_at = Timestamptz(null=True, default=None, index=True)
    current_claim = Integer(null=True, default=None)
    cover_photo = Integer(null=True, default=None)  # id of the first photo, for the board card
    claimed_at = Timestamptz(null=True, default=None)
    fulfilled_at = Timestamptz(null=True, default=None)
    confirmed_at = Timestamptz(null=True, default=None)
    thanks_story = Text(default="")
    thanks_consent = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class ClaimStatus(str, Enum):
    claimed = "claimed"
    contacted = "contacted"
    fulfilled = "fulfilled"
    confirmed = "confirmed"
    released = "released"
    lapsed = "lapsed"


class Claim(Table):
    wish = ForeignKey(Wish, index=True)
    member = ForeignKey(Account, index=True)
    status = Varchar(length=12, choices=ClaimStatus, default=ClaimStatus.claimed, index=True)
    claimed_at = Timestamptz(default=TimestamptzNow())
    contact_due_at = Timestamptz(index=True)
    contacted_at = Timestamptz(null=True, default=None)
    contact_note = Varchar(length=500, default="")
    fulfilled_at = Timestamptz(null=True, default=None)
    fulfil_note = Varchar(length=1000, default="")
    confirmed_at = Timestamptz(null=True, default=None)
    confirmed_by = ForeignKey(Account, null=True, default=None)
    released_at = Timestamptz(null=True, default=None)
    release_reason = Varchar(length=300, default="")
    lapsed_at = Timestamptz(null=True, default=None)


class PhotoKind(str, Enum):
    wish = "wish"  # what is wished for / the situation, posted with the wish
    proof = "proof"  # the member's proof of fulfilment


class WishPhoto(Table):
    wish = ForeignKey(Wish, index=True)
    claim = ForeignKey(Claim, null=True, default=None)
    kind = Varchar(length=8, choices=PhotoKind, default=PhotoKind.wish)
    photo = ForeignKey(Photo)  # the stored copies (media domain)
    created_at = Timestamptz(default=TimestamptzNow())
