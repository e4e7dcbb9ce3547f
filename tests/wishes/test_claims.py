"""Claims at the service level: exclusivity under a race, limits, refusals, release, lapse by clock and by worker."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from arq.worker import Worker

from backend.db import aware, utcnow
from backend.jobs import redis_settings
from backend.notify.service import render
from backend.notify.tables import Notification
from backend.wishes import service
from backend.wishes.reading import BoardQuery
from backend.wishes.rules import (
    AlreadyClaimed,
    ClaimLimit,
    InvalidState,
    NotAllowed,
    NotPartyMember,
    NotPublished,
    ProofRequired,
)
from backend.wishes.tables import Claim, Wish
from tests.support.people import staff, unit
from tests.support.wishes import jpeg_with_exif, party_member, published_wish, resident_viewer, wish_input
from workers import wishes as wish_jobs


async def _wish(wish_id: int) -> Wish:
    row = await Wish.objects().where(Wish.id == wish_id).first()
    assert row is not None
    return row


async def test_simultaneous_claims_exactly_one_wins() -> None:
    wish_id = await published_wish()
    members = [await party_member() for _ in range(20)]
    results = await asyncio.gather(*(service.claim(m, wish_id) for m in members), return_exceptions=True)
    wins = [r for r in results if isinstance(r, int)]
    losses = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(wins) == 1 and len(losses) == 19, results
    assert "已被认领" in losses[0].message
    claims = await Claim.select().where(Claim.wish == wish_id)
    assert len(claims) == 1 and claims[0]["id"] == wins[0]
    wish = await _wish(wish_id)
    assert wish.status == "claimed" and wish.current_claim == wins[0]
    assert claims[0]["member"] in {m.id for m in members}


async def test_refused_claims_change_nothing() -> None:
    community = await unit("LX-1")
    pending = await service.create_wish(await resident_viewer(), wish_input(community.id))
    member = await party_member()
    with pytest.raises(NotPublished):
        await service.claim(member, pending)
    published = await published_wish()
    with pytest.raises(NotPartyMember):
        await service.claim(await resident_viewer(), published)
    author = await party_member()
    own = await published_wish(owner=author)
    with pytest.raises(NotAllowed):
        await service.claim(author, own)
    assert (await _wish(published)).status == "published" and (await _wish(own)).status == "published"
    assert await Claim.count().where(Claim.wish.is_in([pending, published, own])) == 0


async def test_open_claim_limit() -> None:
    member = await party_member()
    wishes = [await published_wish() for _ in range(service.OPEN_CLAIM_LIMIT + 1)]
    for w in wishes[:-1]:
        await service.claim(member, w)
    with pytest.raises(ClaimLimit):
        await service.claim(member, wishes[-1])
    assert (await _wish(wishes[-1])).status == "published"
    assert await service.open_claim_count(member.id) == service.OPEN_CLAIM_LIMIT
    # Releasing one frees a place.
    await service.release(member, wishes[0], "临时出差，无法按时完成")
    await service.claim(member, wishes[-1])
    assert (await _wish(wishes[-1])).status == "claimed"


async def test_flow_refusals_and_confirmation_by_the_right_person() -> None:
    owner = await resident_viewer()
    wish_id = await published_wish(owner=owner)
    member = await party_member()
    await service.claim(member, wish_id)
    with pytest.raises(NotAllowed):
        await service.record_contact(await party_member(), wish_id)
    with pytest.raises(InvalidState):
        await service.fulfil(member, wish_id, "", [(jpeg_with_exif((200, 100)), "a.jpg")])
    await service.record_contact(member, wish_id, "电话联系了家属")
    with pytest.raises(ProofRequired):
        await service.fulfil(member, wish_id, "已送到", [])
    assert (await _wish(wish_id)).status == "contacted"
    await service.fulfil(member, wish_id, "已送到", [(jpeg_with_exif((200, 100)), "a.jpg")])
    with pytest.raises(NotAllowed):
        await service.confirm(await resident_viewer(), wish_id)
    with pytest.raises(NotAllowed):
        await service.confirm(await staff("nanhaijie"), wish_id)  # another community's staff
    with pytest.raises(NotAllowed):
        await service.confirm(member, wish_id)
    assert (await _wish(wish_id)).status == "fulfilled"
    await service.confirm(owner, wish_id, thanks_story="谢谢党员同志！", thanks_consent=True)
    wish = await _wish(wish_id)
    assert wish.status == "confirmed" and wish.confirmed_at is not None and wish.thanks_consent
    claim = await Claim.objects().where(Claim.wish == wish_id).first()
    assert claim.status == "confirmed" and claim.confirmed_by == owner.id


async def test_release_returns_the_wish_to_the_front() -> None:
    wish_id = await published_wish()
    member = await party_member()
    await service.claim(member, wish_id)
    with pytest.raises(service.WishError):
        await service.release(member, wish_id, "")
    later = utcnow() + timedelta(days=3)
    await service.release(member, wish_id, "家中有事", now=later)
    wish = await _wish(wish_id)
    assert wish.status == "published" and wish.current_claim is None
    assert aware(wish.returned_at) == later and aware(wish.board_at) == later
    rows, _ = await service.board(BoardQuery(community=wish.community, sort="newest"))
    assert rows[0]["id"] == wish_id
    claim = await Claim.objects().where(Claim.wish == wish_id).first()
    assert claim.status == "released" and claim.release_reason == "家中有事"


async def test_lapse_with_injected_clock() -> None:
    wish_id = await published_wish()
    member = await party_member()
    t0 = utcnow()
    claim_id = await service.claim(member, wish_id, now=t0)
    # Before the due time: nothing happens (an early job is a no-op).
    assert not await service.lapse_claim(claim_id, now=t0 + timedelta(days=6, hours=23))
    assert (await _wish(wish_id)).status == "claimed"
    due = t0 + timedelta(days=service.CONTACT_DAYS, minutes=1)
    assert await service.sweep_lapses(now=due) >= 1
    wish = await _wish(wish_id)
    assert wish.status == "published" and aware(wish.returned_at) == due and wish.current_claim is None
    claim = await Claim.objects().where(Claim.id == claim_id).first()
    assert claim.status == "lapsed" and aware(claim.lapsed_at) == due
    # Safe to run twice.
    assert not await service.lapse_claim(claim_id, now=due + timedelta(minutes=5))
    # Member and community are told.
    url = f"/wishes/{wish_id}"
    assert any("失效" in render(n)["title"] for n in await Notification.select().where(
        (Notification.account == member.id) & (Notification.url == url)))
    head = await staff("haixi")
    assert any("超时" in render(n)["title"] for n in await Notification.select().where(
        (Notification.account == head.id) & (Notification.url == url)))
    # At the front of the board again.
    rows, _ = await service.board(BoardQuery(community=wish.community))
    assert rows[0]["id"] == wish_id


async def test_contacted_claims_do_not_lapse() -> None:
    wish_id = await published_wish()
    member = await party_member()
    t0 = utcnow()
    claim_id = await service.claim(member, wish_id, now=t0)
    await service.record_contact(member, wish_id, now=t0 + timedelta(days=2))
    assert not await service.lapse_claim(claim_id, now=t0 + timedelta(days=30))
    assert (await _wish(wish_id)).status == "contacted"


@pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning")
async def test_real_worker_lapses_an_overdue_claim() -> None:
    """The deferred job enqueued after the claim's commit is run by a real arq worker."""
    wish_id = await published_wish()
    member = await party_member()
    claim_id = await service.claim(member, wish_id, now=utcnow() - timedelta(days=service.CONTACT_DAYS, hours=1))
    worker = Worker(functions=[wish_jobs.lapse_wish_claim], redis_settings=redis_settings(), burst=True,
                    handle_signals=False, poll_delay=0.05, keep_result=5)
    try:
        await worker.main()
    finally:
        await worker.close()
    assert worker.jobs_complete >= 1 and worker.jobs_failed == 0
    claim = await Claim.objects().where(Claim.id == claim_id).first()
    assert claim.status == "lapsed"
    assert (await _wish(wish_id)).status == "published"


async def test_the_minute_sweep_job_lapses_what_no_timer_did() -> None:
    wish_id = await published_wish()
    member = await party_member()
    claim_id = await service.claim(member, wish_id, now=utcnow() - timedelta(days=service.CONTACT_DAYS, seconds=1))
    assert await wish_jobs.sweep_wish_claims({}) >= 1
    assert (await Claim.objects().where(Claim.id == claim_id).first()).status == "lapsed"


async def test_board_filters_sorts_and_pages() -> None:
    community = await unit("HZ-4")
    admin = await staff("admin")
    owner = await resident_viewer()
    t0 = utcnow() - timedelta(days=30)
    base = 70_000 + (owner.id % 1000) * 10  # a value range only this test uses
    ids = []
    for i, group in enumerate(["elderly", "elderly", "dibao"]):
        wish_id = await service.create_wish(owner, wish_input(community.id, value=str(base + i), group=group))
        await service.approve(admin, wish_id, now=t0 + timedelta(days=i))
        ids.append(wish_id)
    q = dict(community=community.id, vmin=base, vmax=base + 9)
    rows, more = await service.board(BoardQuery(**q))
    assert [r["id"] for r in rows] == ids[::-1] and not more  # newest first
    rows, _ = await service.board(BoardQuery(**q, sort="waiting"))
    assert [r["id"] for r in rows] == ids  # longest waiting first
    rows, _ = await service.board(BoardQuery(**q, group="elderly"))
    assert {r["id"] for r in rows} == set(ids[:2])
    rows, _ = await service.board(BoardQuery(**(q | {"vmin": base + 2})))
    assert [r["id"] for r in rows] == [ids[2]]
    assert all("beneficiary_name" not in r and "beneficiary_phone" not in r for r in rows)
    await service.claim(await party_member(), ids[0])
    rows, _ = await service.board(BoardQuery(**q))
    assert ids[0] not in {r["id"] for r in rows}
    rows, _ = await service.board(BoardQuery(**q, status="active"))
    assert [r["id"] for r in rows] == [ids[0]]
