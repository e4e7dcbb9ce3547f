"""The wishes' rows that their pages read, as typed dicts (plain dicts at run time, so the templates read them
unchanged). Keys are the columns the reading selects, with Piccolo's dotted names for joined ones."""

from __future__ import annotations

from datetime import date, datetime
from typing import NotRequired, TypedDict


class WishRow(TypedDict):
    """A wish as access.load_wish reads it: every column, with its community's path and name."""

    id: int
    title: str
    story: str
    group: str
    value: int
    community: int
    wanted_by: date | None
    # The beneficiary's own details: absent from a wish shown to those who may not see them (reading.view_wish).
    beneficiary_name: NotRequired[str]
    beneficiary_phone: NotRequired[str]
    beneficiary_address: NotRequired[str]
    honorific: str
    display_name: str
    created_by: int
    owner: int | None
    status: str
    reject_reason: str
    verified_by: int | None
    verified_at: datetime | None
    published_at: datetime | None
    returned_at: datetime | None
    board_at: datetime | None
    current_claim: int | None
    cover_photo: int | None
    claimed_at: datetime | None
    fulfilled_at: datetime | None
    confirmed_at: datetime | None
    thanks_story: str
    thanks_consent: bool
    created_at: datetime
    updated_at: datetime
    community_path: str
    community_name: str


class CommunityRow(TypedDict):
    """A community as the wish forms and filters list it, with its street's name."""

    id: int
    name: str
    path: str
    street: str


class WishCard(TypedDict):
    """A card of the public board (reading.BOARD_COLUMNS): public columns only."""

    id: int
    title: str
    group: str
    value: int
    community: int
    display_name: str
    status: str
    cover_photo: int | None
    published_at: datetime | None
    returned_at: datetime | None
    board_at: datetime | None
    fulfilled_at: datetime | None
    wanted_by: date | None


class ClaimRow(TypedDict):
    """A claim as ``Claim.select()`` reads it: every column."""

    id: int
    wish: int
    member: int
    status: str
    claimed_at: datetime
    contact_due_at: datetime
    contacted_at: datetime | None
    contact_note: str
    fulfilled_at: datetime | None
    fulfil_note: str
    confirmed_at: datetime | None
    confirmed_by: int | None
    released_at: datetime | None
    release_reason: str
    lapsed_at: datetime | None


# A claim in a wish's history, with its member's name and phone.
_ClaimMember = TypedDict("_ClaimMember", {"member.name": str, "member.phone": str | None})


class ClaimHistoryRow(ClaimRow, _ClaimMember):
    pass


# A member's claim with its wish.
_ClaimWish = TypedDict("_ClaimWish", {"wish.title": str, "wish.community.name": str, "wish.status": str,
                                      "wish.display_name": str})


class MemberClaim(ClaimRow, _ClaimWish):
    pass


class WishPhotoRow(TypedDict):
    id: int
    kind: str
    width: int
    height: int


class WishPhotoKeys(TypedDict):
    """Where a wish photo's copies are stored (reading.photo_for)."""

    display_key: str
    thumb_key: str
    kind: str
    wish: int


class MemberRow(TypedDict):
    id: int
    name: str
    phone: str | None
    is_party_member: NotRequired[bool]


# A wish in its community's review queue.
QueuedWish = TypedDict("QueuedWish", {
    "id": int, "title": str, "group": str, "value": int, "status": str, "display_name": str,
    "created_at": datetime, "community.name": str, "reject_reason": str, "updated_at": datetime,
})


class ReviewQueue(TypedDict):
    pending: list[QueuedWish]
    fulfilled: list[QueuedWish]
    rejected: list[QueuedWish]
    drafts: list[QueuedWish]


# A wish of the resident's own list.
MyWish = TypedDict("MyWish", {"id": int, "title": str, "status": str, "reject_reason": str,
                              "created_at": datetime, "community.name": str})


class ServiceRecord(TypedDict):
    """A party member's service record: claims, fulfilled, confirmed, last fulfilment."""

    member: int
    name: str
    phone: str | None
    claims: int
    open: int
    fulfilled: int
    released: int
    lapsed: int
    last_fulfilled: datetime | None


class WishCounts(TypedDict):
    """The board's figures of one community, or of the district (``name`` 全区)."""

    name: str
    posted: int
    open: int
    claimed: int
    fulfilled: int
    median_days: NotRequired[float | None]  # days from publishing to fulfilment
    spans: NotRequired[list[float]]  # while counting only


class BoardStats(TypedDict):
    total: WishCounts
    communities: list[WishCounts]
