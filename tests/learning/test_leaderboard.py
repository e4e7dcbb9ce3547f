"""Leaderboards: individual order, and the branch arithmetic (average of participants, participation rate)."""

from __future__ import annotations

from datetime import timedelta

from backend.learning import competition, leaderboard
from backend.learning.tables import Attempt
from tests.support.learning import choice, member, running_competition


async def _take(viewer, cid, t0, right: int, total: int, seconds: int = 2) -> None:
    await competition.start(viewer, cid, t0)
    now = t0
    for i in range(total):
        q, value = await choice(viewer, cid, now, right=i < right)
        now = now + timedelta(seconds=seconds)
        await competition.submit(viewer, cid, q, value, "", now)


async def test_branch_average_and_participation_rate() -> None:
    # Only the branches under 文庙街道 (WM) take part, so the branch rows are this test's own members.
    cid, t0 = await running_competition(n=4, unit_codes=("WM",))
    wm1_before = await _eligible("WM-1")
    wm2_before = await _eligible("WM-2")
    a = [await member(branch="WM-1") for _ in range(3)]  # WM-1: 3 new members, 2 take part: 4 and 1 right
    b = [await member(branch="WM-2") for _ in range(2)]  # WM-2: 2 new members, both take part: 3 and 3 right
    await _take(a[0], cid, t0, 4, 4)
    await _take(a[1], cid, t0, 1, 4, seconds=1)
    await _take(b[0], cid, t0, 3, 4)
    await _take(b[1], cid, t0, 3, 4)
    rows = {r["name"]: r for r in await leaderboard.branches(cid)}
    wm1, wm2 = rows["文庙社区"], rows["府东社区"]
    assert (wm1["participants"], wm1["members"]) == (2, 3 + wm1_before)
    assert wm1["average"] == 2.5 and wm1["rate"] == round(2 / (3 + wm1_before), 4)
    assert (wm2["participants"], wm2["members"]) == (2, 2 + wm2_before)
    assert wm2["average"] == 3.0 and wm2["rate"] == round(2 / (2 + wm2_before), 4)
    assert rows["府东社区"]["rank"] < rows["文庙社区"]["rank"]  # the higher average ranks first
    assert "海西社区" not in rows  # not in the competition's scope
    people = await leaderboard.individual(cid)
    assert [p["score"] for p in people] == [4, 3, 3, 1]
    assert people[0]["branch"] == "文庙社区"


async def _eligible(code: str) -> int:
    from backend.db import fetch_tuples

    rows = await fetch_tuples("SELECT count(*) FROM member_branch mb JOIN unit u ON u.id = mb.unit "
                              "JOIN account a ON a.id = mb.account AND a.is_party_member WHERE u.code = {}", code)
    return rows[0][0]


async def test_live_board_is_shared_through_redis_and_final_after_end() -> None:
    cid, t0 = await running_competition(n=1)
    first = await leaderboard.board(cid)
    assert first["participants"] == 0 and first["status"] == "running"
    m = await member()
    await _take(m, cid, t0, 1, 1)
    assert (await leaderboard.board(cid))["participants"] == 0  # the copy in Redis is at most 2 s old
    from backend.redis import redis_client

    await redis_client().delete(f"learning:board:{cid}")
    fresh = await leaderboard.board(cid)
    assert fresh["participants"] == 1 and fresh["individual"][0]["score"] == 1
    assert await Attempt.count().where(Attempt.competition == cid) == 1
