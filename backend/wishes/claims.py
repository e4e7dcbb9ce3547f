"""Exclusive claims by party members: claim, contact, fulfil, confirm, release, and the lapse timer.

Every state change is a conditional UPDATE (``WHERE status = <expected>``) inside
``write_transaction()``, so two members claiming at once can never both win; the lapse timer and
notifications run only after the commit. ``now`` is injectable.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from backend.accounts.service import Viewer
from backend.db import on_commit, write_transaction
from backend.i18n import N_
from backend.wishes.access import can_confirm, load_wish, now_or, open_claim_of
from backend.wishes.alerts import notify_community, notify_people
from backend.wishes.checks import privacy_problems
from backend.wishes.photos import attach_photos, discard_photos, store_photos
from backend.wishes.rows import ClaimRow, WishRow
from backend.wishes.rules import (
    CLAIM_LABELS,
    CONTACT_DAYS,
    LAPSE_JOB,
    MAX_PHOTOS,
    OPEN_CLAIM_LIMIT,
    OPEN_CLAIM_STATUSES,
    PUBLIC_STATUSES,
    AlreadyClaimed,
    ClaimLimit,
    InvalidState,
    NotAllowed,
    NotFound,
    NotPartyMember,
    NotPublished,
    ProofRequired,
    WishError,
)
from backend.wishes.tables import (
    Claim,
    ClaimStatus,
    PhotoKind,
    Wish,
    WishStatus,
)

log = logging.getLogger("qungong.wishes")


async def open_claim_count(member_id: int) -> int:
    return await Claim.count().where((Claim.member == member_id) & Claim.status.is_in(list(OPEN_CLAIM_STATUSES)))


async def claim(actor: Viewer | None, wish_id: int, *, now: datetime | None = None,
                limit: int = OPEN_CLAIM_LIMIT) -> int:
    """Claim a published wish for ``actor`` (a verified party member). Returns the claim id.

    Exclusive: the wish moves published → claimed by a conditional UPDATE, so among simultaneous
    claimers exactly one gets a row back; the others get AlreadyClaimed and nothing is written.
    """
    now = now_or(now)
    if actor is None:
        raise NotAllowed("请先登录")
    if not actor.is_party_member:
        raise NotPartyMember("只有经组织部认定的党员可以认领微心愿")
    due = now + timedelta(days=CONTACT_DAYS)
    seen = await Wish.select(Wish.owner, Wish.created_by, Wish.status).where(Wish.id == wish_id).first()
    if seen is None:
        raise NotFound("心愿不存在或已被移除")
    if actor.id in (seen["owner"], seen["created_by"]):
        raise NotAllowed("不能认领自己发布的心愿")
    # A cheap early answer without taking the write lock; the conditional UPDATE below is what decides.
    if seen["status"] in PUBLIC_STATUSES and seen["status"] != WishStatus.published.value:
        raise AlreadyClaimed()
    async with write_transaction():
        # One member's claims serialise, so the open-claim limit holds under concurrent clicks.
        await Wish.raw("SELECT pg_advisory_xact_lock(7, {})", actor.id)
        if await open_claim_count(actor.id) >= limit:
            raise ClaimLimit(N_("每位党员同时最多认领 {limit} 个心愿，请先完成或放弃已认领的心愿"), limit=limit)
        won = await Wish.update({
            Wish.status: WishStatus.claimed.value, Wish.claimed_at: now, Wish.updated_at: now,
        }).where((Wish.id == wish_id) & (Wish.status == WishStatus.published.value)).returning(
            Wish.id, Wish.owner, Wish.community, Wish.title)
        if not won:
            row = await Wish.select(Wish.status).where(Wish.id == wish_id).first()
            if row is None:
                raise NotFound("心愿不存在或已被移除")
            if row["status"] in PUBLIC_STATUSES:
                raise AlreadyClaimed()
            raise NotPublished("该心愿尚未通过审核发布，不能认领")
        rows = await Claim.insert(Claim(wish=wish_id, member=actor.id, status=ClaimStatus.claimed.value,
                                        claimed_at=now, contact_due_at=due)).returning(Claim.id)
        claim_id = rows[0]["id"]
        await Wish.update({Wish.current_claim: claim_id}).where(Wish.id == wish_id)
    wish = won[0]
    await on_commit(partial(schedule_lapse, claim_id, due))  # at once (no transaction is open here)
    await notify_people([wish["owner"]], N_("您的微心愿已被党员认领"),
                  f"{wish['title']}：认领人将在 {CONTACT_DAYS} 天内与您联系", f"/wishes/{wish_id}")
    await notify_community(wish["community"], N_("微心愿已被认领"), wish["title"], f"/wishes/{wish_id}")
    return claim_id


async def schedule_lapse(claim_id: int, due: datetime) -> None:
    """The arq alarm for a claim's contact deadline (after commit; the sweep covers a lost job)."""
    from backend.jobs import enqueue

    try:
        await enqueue(LAPSE_JOB, claim_id, job_id=f"wish-claim-lapse:{claim_id}", defer_until=due)
    except Exception:
        log.exception("could not schedule the lapse of claim %s; the sweep will catch it", claim_id)


async def _member_claim(actor: Viewer, wish_id: int) -> tuple[WishRow, ClaimRow]:
    wish = await load_wish(wish_id)
    current = await open_claim_of(wish)
    if current is None or current["member"] != actor.id:
        raise NotAllowed("您没有认领这个心愿")
    return wish, current


async def _move(wish_id: int, claim_id: int, wish_from: str, claim_from: str, to: str,
                wish_cols: dict[Any, Any], claim_cols: dict[Any, Any], now: datetime) -> bool:
    """Move the wish and its claim together, only if both are still where we expect them."""
    async with write_transaction():
        got = await Claim.update({Claim.status: to, **claim_cols}).where(
            (Claim.id == claim_id) & (Claim.status == claim_from)).returning(Claim.id)
        if not got:
            return False
        await Wish.update({Wish.status: to, Wish.updated_at: now, **wish_cols}).where(
            (Wish.id == wish_id) & (Wish.status == wish_from) & (Wish.current_claim == claim_id))
    return True


async def record_contact(actor: Viewer, wish_id: int, note: str = "", *, now: datetime | None = None) -> None:
    now = now_or(now)
    _, current = await _member_claim(actor, wish_id)
    if current["status"] != ClaimStatus.claimed.value:
        raise InvalidState(N_("认领当前为「{state}」，无需再记录联系"), state=CLAIM_LABELS[current["status"]])
    note = (note or "").strip()[:500]
    ok = await _move(wish_id, current["id"], WishStatus.claimed.value, ClaimStatus.claimed.value,
                     ClaimStatus.contacted.value, {}, {Claim.contacted_at: now, Claim.contact_note: note}, now)
    if not ok:
        raise InvalidState("认领已失效或已变化，请刷新后查看")


async def fulfil(actor: Viewer, wish_id: int, note: str, photos: Sequence[tuple[bytes, str]],
                 *, now: datetime | None = None) -> None:
    """The member reports the wish fulfilled: at least one photo as proof."""
    now = now_or(now)
    wish, current = await _member_claim(actor, wish_id)
    if current["status"] == ClaimStatus.claimed.value:
        raise InvalidState("请先记录与受助人的联系，再登记心愿实现")
    if current["status"] != ClaimStatus.contacted.value:
        raise InvalidState(N_("认领当前为「{state}」，不能登记实现"), state=CLAIM_LABELS[current["status"]])
    if not photos:
        raise ProofRequired("请上传至少一张照片作为心愿实现的凭证", "photos")
    if len(photos) > MAX_PHOTOS:
        raise WishError(N_("最多上传 {max} 张照片"), "photos", max=MAX_PHOTOS)
    note = (note or "").strip()
    if len(note) > 1000:
        raise WishError("说明不能超过 1000 字", "note")
    stored = await store_photos(photos)
    try:
        async with write_transaction():
            got = await Claim.update({Claim.status: ClaimStatus.fulfilled.value, Claim.fulfilled_at: now,
                                      Claim.fulfil_note: note}).where(
                (Claim.id == current["id"]) & (Claim.status == ClaimStatus.contacted.value)).returning(Claim.id)
            if not got:
                raise InvalidState("认领已变化，请刷新后查看")
            await Wish.update({Wish.status: WishStatus.fulfilled.value, Wish.fulfilled_at: now,
                               Wish.updated_at: now}).where(
                (Wish.id == wish_id) & (Wish.current_claim == current["id"]))
            await attach_photos(wish_id, stored, PhotoKind.proof.value, current["id"])
    except BaseException:
        await discard_photos(stored)
        raise
    await notify_people([wish["owner"]], N_("您的微心愿已实现，请确认"), wish["title"], f"/wishes/{wish_id}")
    await notify_community(wish["community"], N_("微心愿已实现，待确认"), wish["title"], f"/wishes/{wish_id}")


async def confirm(actor: Viewer, wish_id: int, *, thanks_story: str = "", thanks_consent: bool = False,
                  now: datetime | None = None) -> None:
    now = now_or(now)
    wish = await load_wish(wish_id)
    if not can_confirm(actor, wish):
        raise NotAllowed("只有受助人本人或所在社区的工作人员可以确认心愿实现")
    current = await open_claim_of(wish)
    if wish["status"] != WishStatus.fulfilled.value or current is None:
        raise InvalidState("只有已登记实现的心愿可以确认")
    thanks = (thanks_story or "").strip()
    if len(thanks) > 2000:
        raise WishError("感谢的话不能超过 2000 字", "thanks_story")
    problem = privacy_problems([thanks], wish["beneficiary_name"], wish["beneficiary_phone"],
                               wish["beneficiary_address"])
    if problem:
        raise WishError(problem, "thanks_story")
    cols: dict[Any, Any] = {Wish.confirmed_at: now}
    if thanks:
        cols |= {Wish.thanks_story: thanks, Wish.thanks_consent: bool(thanks_consent)}
    ok = await _move(wish_id, current["id"], WishStatus.fulfilled.value, ClaimStatus.fulfilled.value,
                     ClaimStatus.confirmed.value, cols, {Claim.confirmed_at: now, Claim.confirmed_by: actor.id}, now)
    if not ok:
        raise InvalidState("心愿状态已变化，请刷新后查看")
    await notify_people([current["member"]], N_("您认领的微心愿已确认实现，感谢您的奉献"), wish["title"],
                  f"/wishes/{wish_id}")


async def release(actor: Viewer, wish_id: int, reason: str, *, now: datetime | None = None) -> None:
    """The member gives the claim up (with a reason); the wish returns to the front of the board."""
    now = now_or(now)
    wish, current = await _member_claim(actor, wish_id)
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise WishError("请填写放弃认领的原因（300 字以内）", "reason")
    if current["status"] not in OPEN_CLAIM_STATUSES:
        raise InvalidState("心愿已登记实现，不能放弃认领")
    ok = await _return_to_board(wish_id, current["id"], ClaimStatus.released.value,
                                {Claim.released_at: now, Claim.release_reason: reason}, now,
                                from_statuses=OPEN_CLAIM_STATUSES)
    if not ok:
        raise InvalidState("认领已变化，请刷新后查看")
    await notify_people([wish["owner"]], N_("认领人放弃了您的微心愿，心愿已重新上墙"), wish["title"],
                        f"/wishes/{wish_id}")
    await notify_community(wish["community"], N_("党员放弃了微心愿认领"), f"{wish['title']}：{reason}",
                            f"/wishes/{wish_id}")


async def _return_to_board(wish_id: int, claim_id: int, to: str, claim_cols: dict[Any, Any], now: datetime,
                           *, from_statuses: Sequence[str], extra_where: Any = None) -> bool:
    async with write_transaction():
        where = (Claim.id == claim_id) & Claim.status.is_in(list(from_statuses))
        if extra_where is not None:
            where = where & extra_where
        got = await Claim.update({Claim.status: to, **claim_cols}).where(where).returning(Claim.id)
        if not got:
            return False
        await Wish.update({
            Wish.status: WishStatus.published.value, Wish.current_claim: None, Wish.claimed_at: None,
            Wish.returned_at: now, Wish.board_at: now, Wish.updated_at: now,
        }).where((Wish.id == wish_id) & (Wish.current_claim == claim_id))
    return True


async def lapse_claim(claim_id: int, *, now: datetime | None = None) -> bool:
    """Lapse a claim with no recorded contact by its due time. Safe to run twice, late or early (no-op)."""
    now = now_or(now)
    row = await Claim.select(Claim.wish, Claim.member, Claim.wish.title, Claim.wish.community).where(
        Claim.id == claim_id).first()
    if row is None:
        return False
    ok = await _return_to_board(row["wish"], claim_id, ClaimStatus.lapsed.value, {Claim.lapsed_at: now}, now,
                                from_statuses=(ClaimStatus.claimed.value,),
                                extra_where=(Claim.contacted_at.is_null()) & (Claim.contact_due_at <= now))
    if ok:
        title = row["wish.title"]
        await notify_people([row["member"]], N_("您认领的微心愿因超时未联系已失效"),
                      f"{title}：{CONTACT_DAYS} 天内未记录与受助人的联系，心愿已重新上墙", f"/wishes/{row['wish']}")
        await notify_community(row["wish.community"], N_("微心愿认领超时失效，已重新上墙"), title,
                                f"/wishes/{row['wish']}")
    return ok


async def sweep_lapses(*, now: datetime | None = None) -> int:
    """Lapse every overdue claim (catches what a lost or early timer job missed)."""
    now = now_or(now)
    rows = await Claim.select(Claim.id).where(
        (Claim.status == ClaimStatus.claimed.value) & (Claim.contact_due_at <= now)).limit(500)
    n = 0
    for r in rows:
        if await lapse_claim(r["id"], now=now):
            n += 1
    return n
