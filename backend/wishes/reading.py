"""Reading wishes: the board, one wish, the review queue, a member's claims, service records, statistics.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from backend.accounts.service import Viewer
from backend.accounts.tables import Account
from backend.db import aware
from backend.wishes.access import can_confirm, community_names, load_wish, managed_communities, manages, open_claim_of
from backend.wishes.rows import (
    BoardStats,
    ClaimHistoryRow,
    ClaimRow,
    MemberClaim,
    MemberRow,
    MyWish,
    ReviewQueue,
    ServiceRecord,
    WishCard,
    WishCounts,
    WishPhotoKeys,
    WishPhotoRow,
    WishRow,
)
from backend.wishes.rules import (
    BOARD_STATUS,
    GROUP_LABELS,
    LIVE_CLAIM_STATUSES,
    OPEN_CLAIM_STATUSES,
    PAGE_SIZE,
    PUBLIC_STATUSES,
    NotFound,
)
from backend.wishes.tables import (
    Claim,
    ClaimStatus,
    PhotoKind,
    Wish,
    WishPhoto,
    WishStatus,
)


@dataclass
class BoardQuery:
    community: int | None = None
    group: str = ""
    vmin: int | None = None
    vmax: int | None = None
    status: str = "open"
    sort: str = "newest"
    page: int = 1

    def normalised(self) -> BoardQuery:
        status = self.status if self.status in BOARD_STATUS else "open"
        sort = self.sort if self.sort in ("newest", "waiting") else "newest"
        group = self.group if self.group in GROUP_LABELS else ""
        page = min(max(self.page, 1), 500)
        return BoardQuery(self.community, group, self.vmin, self.vmax, status, sort, page)


BOARD_COLUMNS = (Wish.id, Wish.title, Wish.group, Wish.value, Wish.community, Wish.display_name, Wish.status,
                 Wish.cover_photo, Wish.published_at, Wish.returned_at, Wish.board_at, Wish.fulfilled_at,
                 Wish.wanted_by)


async def board(q: BoardQuery) -> tuple[list[WishCard], bool]:
    """One page of public cards (public columns only) and whether there is a next page."""
    q = q.normalised()
    query = Wish.select(*BOARD_COLUMNS).where(Wish.status.is_in(list(BOARD_STATUS[q.status])))
    if q.community:
        query = query.where(Wish.community == q.community)
    if q.group:
        query = query.where(Wish.group == q.group)
    if q.vmin is not None:
        query = query.where(Wish.value >= q.vmin)
    if q.vmax is not None:
        query = query.where(Wish.value <= q.vmax)
    if q.sort == "waiting":
        query = query.order_by(Wish.published_at, Wish.id)
    else:
        query = query.order_by(Wish.board_at, Wish.id, ascending=False)
    rows = await query.limit(PAGE_SIZE + 1).offset((q.page - 1) * PAGE_SIZE)
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def waited_days(row: WishCard | WishRow, now: datetime) -> int:
    start = aware(row.get("published_at"))
    end = aware(row.get("fulfilled_at")) or now
    return max(0, (end - start).days) if start else 0


@dataclass
class WishView:
    wish: WishRow
    claim: ClaimRow | None
    photos: list[WishPhotoRow]
    proof_photos: list[WishPhotoRow]
    is_public: bool
    can_manage: bool
    is_author: bool
    is_claimer: bool
    can_see_private: bool
    can_confirm: bool
    can_claim: bool
    claim_member: MemberRow | None = None
    history: list[ClaimHistoryRow] = field(default_factory=list)


async def view_wish(viewer: Viewer | None, wish_id: int) -> WishView:
    wish = await load_wish(wish_id)
    is_public = wish["status"] in PUBLIC_STATUSES
    can_manage = manages(viewer, wish["community_path"])
    is_author = viewer is not None and viewer.id in (wish["owner"], wish["created_by"])
    if not is_public and not (can_manage or is_author):
        raise NotFound("心愿不存在或尚未发布")
    current = await open_claim_of(wish)
    is_claimer = bool(viewer and current and current["member"] == viewer.id
                      and current["status"] in LIVE_CLAIM_STATUSES)
    can_see_private = can_manage or is_author or is_claimer
    photos = await WishPhoto.select(WishPhoto.id, WishPhoto.kind, WishPhoto.photo.width.as_alias("width"),
                                    WishPhoto.photo.height.as_alias("height")).where(
        WishPhoto.wish == wish_id).order_by(WishPhoto.id)
    show_proof = can_see_private or (wish["status"] in (WishStatus.fulfilled.value, WishStatus.confirmed.value)
                                     and wish["thanks_consent"])
    history: list[ClaimHistoryRow] = []
    member = None
    if can_see_private:
        history = await Claim.select(Claim.all_columns(), Claim.member.name, Claim.member.phone).where(
            Claim.wish == wish_id).order_by(Claim.id)
    if current is not None and (can_manage or is_author):
        # Those who confirm (the community, the drafter) see who claimed it, how to reach them, and their notes.
        member = await Account.select(Account.id, Account.name, Account.phone).where(
            Account.id == current["member"]).first()
    if not can_see_private:
        wish = cast(WishRow, {k: v for k, v in wish.items() if not k.startswith("beneficiary_")})
    return WishView(
        wish=wish, claim=current, is_public=is_public, can_manage=can_manage, is_author=is_author,
        is_claimer=is_claimer, can_see_private=can_see_private,
        photos=[p for p in photos if p["kind"] == PhotoKind.wish.value],
        proof_photos=[p for p in photos if p["kind"] == PhotoKind.proof.value] if show_proof else [],
        can_confirm=can_confirm(viewer, wish) and wish["status"] == WishStatus.fulfilled.value,
        can_claim=wish["status"] == WishStatus.published.value and bool(viewer and viewer.is_party_member),
        claim_member=member, history=history,
    )


async def photo_for(viewer: Viewer | None, photo_id: int) -> WishPhotoKeys:
    """A photo row if ``viewer`` may see it (public wish photos; proof only with consent or to those involved)."""
    row = await WishPhoto.select(WishPhoto.photo.display_key.as_alias("display_key"),
                                 WishPhoto.photo.thumb_key.as_alias("thumb_key"), WishPhoto.kind, WishPhoto.wish).where(
        WishPhoto.id == photo_id).first()
    if row is None:
        raise NotFound("照片不存在")
    v = await view_wish(viewer, row["wish"])
    visible = {p["id"] for p in v.photos} | {p["id"] for p in v.proof_photos}
    if photo_id not in visible:
        raise NotFound("照片不存在")
    return row


async def review_queue(viewer: Viewer) -> ReviewQueue:
    """Wishes in the viewer's communities: pending first, then what needs the community's attention."""
    ids = [c["id"] for c in await managed_communities(viewer)]
    if not ids:
        return {"pending": [], "fulfilled": [], "rejected": [], "drafts": []}
    cols = (Wish.id, Wish.title, Wish.group, Wish.value, Wish.status, Wish.display_name, Wish.created_at,
            Wish.community.name, Wish.reject_reason, Wish.updated_at)
    base = Wish.community.is_in(ids)
    return {
        "pending": await Wish.select(*cols).where(base & (Wish.status == WishStatus.pending.value)).order_by(
            Wish.created_at).limit(200),
        "fulfilled": await Wish.select(*cols).where(base & (Wish.status == WishStatus.fulfilled.value)).order_by(
            Wish.updated_at).limit(200),
        "rejected": await Wish.select(*cols).where(base & (Wish.status == WishStatus.rejected.value)).order_by(
            Wish.updated_at, ascending=False).limit(50),
        "drafts": [],
    }


async def my_wishes(viewer: Viewer) -> list[MyWish]:
    return await Wish.select(Wish.id, Wish.title, Wish.status, Wish.reject_reason, Wish.created_at,
                             Wish.community.name).where(
        (Wish.owner == viewer.id) | (Wish.created_by == viewer.id)).order_by(Wish.id, ascending=False).limit(200)


async def member_claims(member_id: int) -> list[MemberClaim]:
    return await Claim.select(Claim.all_columns(), Claim.wish.title, Claim.wish.community.name,
                              Claim.wish.status, Claim.wish.display_name).where(
        Claim.member == member_id).order_by(Claim.id, ascending=False).limit(500)


async def service_records() -> list[ServiceRecord]:
    """Per party member (anyone who ever claimed): claims, fulfilled, confirmed, last fulfilment."""
    rows = await Claim.select(Claim.member, Claim.status, Claim.fulfilled_at, Claim.member.name,
                              Claim.member.phone, Claim.member.is_party_member)
    out: dict[int, ServiceRecord] = {}
    for r in rows:
        rec = out.setdefault(r["member"], {"member": r["member"], "name": r["member.name"],
                                           "phone": r["member.phone"], "claims": 0, "open": 0,
                                           "fulfilled": 0, "released": 0, "lapsed": 0, "last_fulfilled": None})
        rec["claims"] += 1
        if r["status"] in OPEN_CLAIM_STATUSES:
            rec["open"] += 1
        if r["status"] in (ClaimStatus.fulfilled.value, ClaimStatus.confirmed.value):
            rec["fulfilled"] += 1
            f = aware(r["fulfilled_at"])
            if f and (rec["last_fulfilled"] is None or f > rec["last_fulfilled"]):
                rec["last_fulfilled"] = f
        if r["status"] == ClaimStatus.released.value:
            rec["released"] += 1
        if r["status"] == ClaimStatus.lapsed.value:
            rec["lapsed"] += 1
    return sorted(out.values(), key=lambda x: (-x["fulfilled"], -x["claims"], x["member"]))


async def member_name(member_id: int) -> MemberRow | None:
    return await Account.select(Account.id, Account.name, Account.phone, Account.is_party_member).where(
        Account.id == member_id).first()


def _median_days(spans: list[float]) -> float | None:
    return round(statistics.median(spans), 1) if spans else None


async def board_stats() -> BoardStats:
    """Posted (ever published), claimed (ever claimed), fulfilled, median days from publishing to fulfilment."""
    wishes = await Wish.select(Wish.id, Wish.community, Wish.status, Wish.published_at, Wish.fulfilled_at).where(
        Wish.published_at.is_not_null())
    claimed_ids = {r["wish"] for r in await Claim.select(Claim.wish).distinct()}
    names = await community_names()
    by: dict[int, WishCounts] = {}
    total: WishCounts = {"name": "全区", "posted": 0, "open": 0, "claimed": 0, "fulfilled": 0, "spans": []}
    for w in wishes:
        c = by.setdefault(w["community"], {"name": names.get(w["community"], "—"), "posted": 0, "open": 0,
                                           "claimed": 0, "fulfilled": 0, "spans": []})
        for bucket in (c, total):
            bucket["posted"] += 1
            if w["status"] == WishStatus.published.value:
                bucket["open"] += 1
            if w["id"] in claimed_ids:
                bucket["claimed"] += 1
            if w["status"] in (WishStatus.fulfilled.value, WishStatus.confirmed.value) and w["fulfilled_at"]:
                bucket["fulfilled"] += 1
                bucket["spans"].append((aware(w["fulfilled_at"]) - aware(w["published_at"])).total_seconds() / 86400)
    rows = sorted(by.values(), key=lambda x: (-x["posted"], x["name"]))
    for bucket in [*rows, total]:
        bucket["median_days"] = _median_days(bucket.pop("spans"))
    return {"total": total, "communities": rows}
