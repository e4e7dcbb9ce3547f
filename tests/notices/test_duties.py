"""The overdue clock: duties of ended periods, yellow at the due day, red after the grace period, settled by
publication (on time, one day late), visible on the street's board and in the assessment."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from backend.notices import duties, service
from backend.notices.drafts import NoticeInput
from backend.notices.tables import NoticeDuty
from tests.support.factories import unique
from tests.support.notices import community_with_staff, type_id
from tests.support.people import staff, unit

TZ = ZoneInfo("Asia/Shanghai")


async def _duty(unit_id: int, code: str, period: str) -> dict:
    row = await NoticeDuty.select().where((NoticeDuty.unit == unit_id) & (NoticeDuty.notice_type == await type_id(
        code)) & (NoticeDuty.period_key == period)).first()
    assert row is not None, (code, period)
    return row


async def _publish(author, reviewer, unit_id: int, code: str, period: str, at: datetime) -> int:
    notice_id = await service.create_draft(author, unit_id, NoticeInput(
        type_id=await type_id(code), title=unique(code), body="正文", period=period))
    await service.submit_version(author, notice_id, now=at)
    await service.review(reviewer, notice_id, "approve", now=at)
    return notice_id


async def test_quarter_yellow_at_the_due_day_red_after_grace_and_one_day_late() -> None:
    unit_id, author, reviewer = await community_with_staff()
    # 2027-01-21 00:30 Beijing: Q4 2026 ended, the 20 January (due day of quarterly types) just passed.
    jan21 = datetime(2027, 1, 21, 0, 30, tzinfo=TZ)
    await duties.ensure_duties(jan21)
    ordinary = await _duty(unit_id, "ordinary", "2026-Q4")
    assert ordinary["due_at"] == datetime(2027, 1, 21, 0, 0, tzinfo=TZ)
    assert ordinary["red_at"] == datetime(2027, 1, 31, 0, 0, tzinfo=TZ)
    # The assets notice is published on the due day itself: on time, never lit.
    await _publish(author, reviewer, unit_id, "assets", "2026-Q4", datetime(2027, 1, 20, 16, 0, tzinfo=TZ))
    await duties.settle()
    seeded = {await type_id(c) for c in ("finance", "dibao", "assets", "party", "ordinary", "service")}
    flips = [f for f in await duties.flip(jan21) if f["unit"] == unit_id]
    lit = {(f["notice_type"], f["color"]) for f in flips if f["notice_type"] in seeded}  # other tests add types
    assert (await type_id("ordinary"), "yellow") in lit and (await type_id("assets"), "yellow") not in lit
    # Only December's finances (due 10 January, ten days' grace) are already red.
    assert {t for t, c in lit if c == "red"} == {await type_id("finance")}
    assert [f for f in await duties.flip(jan21) if f["unit"] == unit_id] == []  # each light flips once
    # The ordinary notice comes one day late: the duty is settled late, and red never lights for it.
    await _publish(author, reviewer, unit_id, "ordinary", "2026-Q4", datetime(2027, 1, 21, 9, 0, tzinfo=TZ))
    ordinary = await _duty(unit_id, "ordinary", "2026-Q4")
    assert ordinary["fulfilled_at"] is not None and duties.light_of(ordinary, jan21) == "late"
    assert duties.light_of(await _duty(unit_id, "assets", "2026-Q4"), jan21) == "ok"
    # Party affairs were never published: red after the grace period (ten days after the due day).
    jan31 = datetime(2027, 1, 31, 0, 1, tzinfo=TZ)
    reds = {f["notice_type"] for f in await duties.flip(jan31)
            if f["unit"] == unit_id and f["color"] == "red" and f["notice_type"] in seeded}
    assert reds == {await type_id("party"), await type_id("dibao")}
    party = await _duty(unit_id, "party", "2026-Q4")
    assert party["yellow_lit_at"] is not None and party["red_lit_at"] is not None


async def test_month_across_the_year_end_clamped_due_day() -> None:
    unit_id, author, reviewer = await community_with_staff()
    await duties.ensure_duties(datetime(2027, 1, 5, 12, 0, tzinfo=TZ))
    dec = await _duty(unit_id, "finance", "2026-12")
    assert dec["due_at"] == datetime(2027, 1, 11, 0, 0, tzinfo=TZ)  # due by the 10th of January
    assert dec["period_start"].isoformat() == "2026-12-01" and dec["period_end"].isoformat() == "2026-12-31"
    # A notice covering the whole quarter settles none of the monthly duty (another type) but one covering the
    # month does, even when it was published before the duty existed.
    await _publish(author, reviewer, unit_id, "finance", "2027-01", datetime(2027, 2, 3, 10, 0, tzinfo=TZ))
    await duties.ensure_duties(datetime(2027, 2, 4, 0, 0, tzinfo=TZ))
    await duties.settle()
    jan = await _duty(unit_id, "finance", "2027-01")
    assert jan["fulfilled_at"] is not None and jan["fulfilled_at"] < jan["due_at"]


async def test_street_board_and_assessment_show_overdue_notices(client) -> None:
    unit_id, _, _ = await community_with_staff()
    await duties.ensure_duties(datetime(2027, 1, 21, 0, 30, tzinfo=TZ))
    await duties.flip(datetime(2027, 1, 31, 0, 1, tzinfo=TZ))
    liuxiang = await staff("liuxiang")
    rows = [r for r in await duties.board(liuxiang) if r["unit"] == unit_id]
    assert {r["light"] for r in rows} == {"red"} and len(rows) >= 4
    # Another street's staff do not see this community's lights.
    assert not [r for r in await duties.board(await staff("miaoqian")) if r["unit"] == unit_id]
    await client.login_staff("liuxiang")
    r = await client.get("/street/queue")
    assert r.status_code == 200 and 'data-testid="street-notice-lights"' in r.text and "村居公开逾期" in r.text
    r = await client.get("/notices/board")
    assert r.status_code == 200 and r.text.count('data-testid="duty-red"') >= 4
    await client.post("/logout")
    await client.login_staff("zzb")
    lx = await unit("LX")
    r = await client.get(f"/assess?unit={lx.id}&year=2027")
    row = r.text.split(f'data-unit="{unit_id}"')[1].split("</tr>")[0] if f'data-unit="{unit_id}"' in r.text else ""
    assert row, "the community appears in its street's assessment"
    assert int(row.split('data-col="notice-red">')[1].split("<")[0]) >= 4


async def test_the_worker_cron_drives_the_sweep() -> None:
    from workers.notices import notice_sweep
    from workers.settings import CRON_JOBS

    assert any(getattr(c, "coroutine", None) is notice_sweep for c in CRON_JOBS)
    unit_id, _, _ = await community_with_staff()
    assert not await NoticeDuty.exists().where(NoticeDuty.unit == unit_id)
    await notice_sweep({})
    created = await NoticeDuty.select(NoticeDuty.period_key).where(NoticeDuty.unit == unit_id)
    assert len(created) >= 5  # finance (monthly), four quarterly types, the yearly service guide
