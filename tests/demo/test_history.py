"""The living demo district: a year of history made by the real services, once (idempotent), fast."""

from __future__ import annotations

import os
import time

from backend.demo_history import DEFAULT_REQUESTS, KEY_PREFIX, fill_history, history_progress, load_history
from backend.lights.tables import Explanation, LightClock
from backend.ratings.tables import Rating
from backend.requests.tables import Event, Request
from backend.wishes.tables import Wish

COUNT = int(os.environ.get("QG_TEST_HISTORY", "120"))


async def test_a_year_of_history_loads_once_and_fast(monkeypatch, client) -> None:
    monkeypatch.setenv("QG_DEMO_HISTORY", str(COUNT))
    mine = Request.idempotency_key.like(KEY_PREFIX + "%")
    started = time.monotonic()
    # Setup's part: the newest third (other tests rely on units nobody staffs: complete_staff=False).
    first = await load_history(COUNT, limit=COUNT // 3, complete_staff=False)
    assert first["requests"] == COUNT // 3 and first["wishes"] > 0
    made = await Request.select(Request.created_at).where(mine)
    assert len(made) == COUNT // 3
    assert await history_progress() == {"done": COUNT // 3, "total": COUNT}
    # The admin sees the background fill's progress.
    await client.login_staff("admin")
    html = (await client.get("/admin")).text
    assert f"已生成 {COUNT // 3} / {COUNT} 条诉求" in html and f'value="{COUNT // 3}"' in html
    # The worker's job makes the rest (older than everything setup made), until the year is complete.
    assert await fill_history(complete_staff=False) == COUNT - COUNT // 3
    took = time.monotonic() - started
    older = await Request.select(Request.created_at).where(mine).order_by(Request.created_at).limit(COUNT - COUNT // 3)
    assert max(r["created_at"] for r in older) <= min(r["created_at"] for r in made)
    assert await history_progress() == {"done": COUNT, "total": COUNT}
    assert f"示例的一年历史已生成：{COUNT} 条诉求" in (await client.get("/admin")).text
    # A guard against a slow path creeping in (the pace depends on the machine: on an idle laptop about
    # 40 ms a request, so the default year loads in well under a minute; a shared CI box is slower).
    assert took / COUNT < 1.0, f"{took:.1f} s for {COUNT} requests (default {DEFAULT_REQUESTS})"
    assert await Request.count().where(mine) == COUNT
    # Spread over the year, in every outcome.
    statuses = {r["status"] for r in await Request.select(Request.status).where(mine)}
    assert {"closed", "withdrawn"} <= statuses and statuses & {"assigned", "accepted", "resolved"}
    ids = [r["id"] for r in await Request.select(Request.id).where(mine)]
    actions = {r["action"] for r in await Event.select(Event.action).where(Event.request.is_in(ids))}
    assert {"submit", "accept", "resolve", "answer", "escalate", "rate", "close", "light"} <= actions
    assert await LightClock.count().where(LightClock.request.is_in(ids) & LightClock.yellow_lit_at.is_not_null())
    scores = {r["score"] for r in await Rating.select(Rating.score).where(Rating.request.is_in(ids))}
    assert {"satisfied", "basic"} <= scores
    # Every event of a request in time order (history replayed, not appended afterwards).
    for rid in ids[:40]:
        times = [r["created_at"] for r in await Event.select(Event.created_at).where(
            Event.request == rid).order_by(Event.id)]
        assert times == sorted(times), rid
    assert {w["status"] for w in await Wish.select(Wish.status).where(Wish.title.like("%（示例）"))} >= {
        "draft", "pending", "published", "claimed", "contacted", "fulfilled", "confirmed", "rejected"}
    explanations = await Explanation.count().where(Explanation.request.is_in(ids))
    # Idempotent: a second run adds nothing.
    again = await load_history(COUNT, complete_staff=False)
    assert again == {"requests": 0, "wishes": 0}
    assert await fill_history(complete_staff=False) == 0
    assert await Request.count().where(mine) == COUNT
    assert await Explanation.count().where(Explanation.request.is_in(ids)) == explanations
