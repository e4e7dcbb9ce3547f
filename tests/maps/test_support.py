"""我也遇到了 and duplicates: who may support what, the duplicate transition and its event, supporters hearing of
progress, the KPI counting one problem once, and the map data endpoints (read-only, scoped, compact)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from backend.accounts.service import load_viewer
from backend.maps import service as maps
from backend.maps.tables import Support
from backend.notify.service import render
from backend.notify.tables import Notification
from backend.requests import service
from backend.requests.service import NotAllowed, RequestError
from backend.requests.tables import Assignment, Event, Request
from backend.stats import rollup
from backend.stats import service as stats
from tests.support.maps import HAIXI, fresh_category, north_of, report_at
from tests.support.people import resident, staff


async def test_support_rules_and_count() -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    neighbour = await resident()
    assert await maps.support(req.id, neighbour) is True
    assert await maps.support(req.id, neighbour) is False  # twice is once
    assert await maps.support_count(req.id) == 1
    with pytest.raises(RequestError, match="自己"):
        await maps.support(req.id, await load_viewer(req.reporter))
    with pytest.raises(RequestError, match="居民"):
        await maps.support(req.id, await staff("haixi"))
    private = await report_at(HAIXI, cat, is_public=False)
    with pytest.raises(RequestError, match="未公开"):
        await maps.support(private.id, neighbour)
    assert await maps.support_count(private.id) == 0


async def test_mark_duplicate_closes_links_and_makes_the_reporter_a_supporter() -> None:
    cat = await fresh_category()
    original = await report_at(HAIXI, cat)
    dup = await report_at(north_of(HAIXI, 40), cat)
    with pytest.raises(NotAllowed):  # a grid worker of another community
        await maps.mark_duplicate(dup.id, original.code, "同一处", await staff("wg_lx_2_1"))
    with pytest.raises(RequestError, match="理由"):
        await maps.mark_duplicate(dup.id, original.code, "", await staff("haixi"))
    with pytest.raises(RequestError, match="自己"):
        await maps.mark_duplicate(dup.id, dup.code, "同一处", await staff("haixi"))
    with pytest.raises(RequestError, match="编号"):
        await maps.mark_duplicate(dup.id, "YZ0000000000", "同一处", await staff("haixi"))
    assert (await Request.select(Request.status).where(Request.id == dup.id).first())["status"] == "assigned"

    result = await maps.mark_duplicate(dup.id, original.code.lower(), "同一地点同一问题", await staff("haixi"))
    row = await Request.select(Request.status, Request.close_reason).where(Request.id == dup.id).first()
    assert row == {"status": "duplicate", "close_reason": "duplicate"}
    ev = await Event.select(Event.action, Event.to_status, Event.data, Event.note).where(
        Event.id == result.event_id).first()
    data = json.loads(ev["data"]) if isinstance(ev["data"], str) else ev["data"]
    assert ev["action"] == "mark_duplicate" and ev["to_status"] == "duplicate" and ev["note"] == "同一地点同一问题"
    assert data["duplicate_of"] == original.id and data["original_code"] == original.code
    assert not await Assignment.exists().where((Assignment.request == dup.id) & (Assignment.is_open == True))
    # The duplicate's reporter follows the original and is told where to look.
    assert await Support.exists().where((Support.request == original.id) & (Support.account == dup.reporter)
                                        & (Support.source == "duplicate"))
    note = await Notification.select().where(
        Notification.account == dup.reporter).order_by(Notification.id, ascending=False).first()
    assert original.code in render(note)["title"] and note["url"] == f"/p/{original.code}"
    assert await maps.original_of(dup.id) == original.code
    # A duplicate cannot be marked again, nor serve as an original.
    with pytest.raises(RequestError):
        await maps.mark_duplicate(dup.id, original.code, "再来", await staff("haixi"))
    third = await report_at(HAIXI, cat)
    with pytest.raises(RequestError, match="重复"):
        await maps.mark_duplicate(third.id, dup.code, "同一处", await staff("zhzx"))
    await maps.mark_duplicate(third.id, original.code, "同一处", await staff("zhzx"))  # the command center may too


async def test_supporters_hear_of_the_resolution() -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    neighbour = await resident()
    await maps.support(req.id, neighbour)
    haixi = await staff("haixi")
    await service.transition(req.id, "accept", haixi, None)
    await service.transition(req.id, "resolve", haixi, None, note="已清理")
    titles = [render(n)["title"] for n in await Notification.select().where(
        Notification.account == neighbour.id)]
    assert any(req.code in t and "已办结" in t for t in titles), titles
    assert any("办理中" in t for t in titles), titles


async def test_kpis_count_a_problem_reported_twice_once() -> None:
    cat = await fresh_category()
    original = await report_at(HAIXI, cat)
    dup = await report_at(HAIXI, cat)
    await maps.mark_duplicate(dup.id, original.code, "同一处", await staff("haixi"))
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    f = stats.Filters(start=today, end=today, category_id=cat)
    k = (await stats.dashboard(f, ["/"])).kpis
    assert (k.submitted, k.accepted, k.withdrawn, k.open) == (2, 1, 1, 1)
    await rollup.catch_up()
    k2 = (await rollup.dashboard(f, ["/"])).kpis
    assert (k2.submitted, k2.accepted, k2.withdrawn, k2.open) == (2, 1, 1, 1)


async def test_map_data_is_scoped_compact_and_public_pins_say_nothing_personal(client) -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    await report_at(HAIXI, cat, is_public=False)
    r = await client.get(f"/map/requests.json?category={cat}")
    pins = r.json()["pins"]
    assert [p["code"] for p in pins] == [req.code]
    assert set(pins[0]) == {"code", "lat", "lon", "status", "light", "category"}
    zhzx = await maps.staff_pins(await staff("zhzx"), maps.MapFilters(category_id=cat))
    assert len(zhzx["pins"]) == 2  # staff see private requests in their scope too
    pin = zhzx["pins"][0]
    assert abs(zhzx["origin"][0] + pin[1] / 1e5 - HAIXI[0]) < 2e-5
    other_street = await maps.staff_pins(await staff("wg_mq_1_1"), maps.MapFilters(category_id=cat))
    assert other_street["pins"] == []
    mine = await maps.staff_pins(await staff("haixi"), maps.MapFilters(category_id=cat))
    assert len(mine["pins"]) == 2


async def test_place_endpoint_reads_only_and_refuses_outside(client) -> None:
    before = await Request.count()
    r = await client.get(f"/map/place?lat={HAIXI[0]}&lon={HAIXI[1]}")
    body = r.json()
    assert r.status_code == 200 and body["ok"] and body["community"] == "海西社区" and body["person"]
    assert body["grid"].startswith("海西社区第")
    r = await client.get("/map/place?lat=39.9&lon=116.4")
    assert r.status_code == 200 and not r.json()["ok"] and "不在迎泽区" in r.json()["message"]
    r = await client.get("/map/place?lat=abc&lon=999")
    assert r.status_code == 400
    assert await Request.count() == before
    data = (await client.get("/map/boundaries.json")).json()
    kinds = {f["properties"]["kind"] for f in data["features"]}
    assert kinds == {"street", "community", "grid"} and data["tiles"]["url"] == ""


async def test_supporters_rate_the_result_without_reopening_it(client) -> None:
    """Issue 17: a supporter may rate; their rating is recorded (with its event) and shown, changes no state
    (only the reporter's dissatisfied rating reopens) and enters no figure; once per resolution."""
    from backend.ratings import service as ratings
    from backend.ratings.tables import Rating, SupporterRating
    from backend.requests.service import InvalidState

    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    neighbour, stranger = await resident(), await resident()
    await maps.support(req.id, neighbour)
    with pytest.raises(InvalidState):  # not resolved yet
        await ratings.rate_as_supporter(req.id, neighbour, "satisfied")
    haixi = await staff("haixi")
    await service.transition(req.id, "accept", haixi, None)
    await service.transition(req.id, "resolve", haixi, None, note="已清理")
    with pytest.raises(ratings.NotFound):  # only supporters
        await ratings.rate_as_supporter(req.id, stranger, "satisfied")
    with pytest.raises(NotAllowed):
        await ratings.rate_as_supporter(req.id, haixi, "satisfied")
    with pytest.raises(RequestError, match="满意"):
        await ratings.rate_as_supporter(req.id, neighbour, "great")
    await ratings.rate_as_supporter(req.id, neighbour, "dissatisfied", "还是很脏")
    row = await Request.select(Request.status).where(Request.id == req.id).first()
    assert row["status"] == "resolved"  # a supporter's "dissatisfied" reopens nothing
    assert not await Rating.exists().where(Rating.request == req.id)  # not the reporter's rating, not in satisfaction
    ev = await Event.select(Event.action, Event.note, Event.actor).where(
        (Event.request == req.id) & (Event.action == "supporter_rate")).first()
    assert ev == {"action": "supporter_rate", "note": "还是很脏", "actor": neighbour.id}
    with pytest.raises(InvalidState, match="已评价"):
        await ratings.rate_as_supporter(req.id, neighbour, "satisfied")
    assert await SupporterRating.count().where(SupporterRating.request == req.id) == 1
    # The public page shows it (counts and the timeline sentence), and the reporter's rating still decides.
    page = (await client.get(f"/p/{req.code}")).text
    assert "满意 0 · 基本满意 0 · 不满意 1" in page and "关注者评价：不满意" in page
    reporter = await load_viewer(req.reporter)
    result = await ratings.rate(req.id, reporter, "satisfied")
    assert result.action == "close"
    # Through HTTP: staff are refused, a missing score is a 400 that changes nothing.
    await client.login_staff("haixi")
    assert (await client.post(f"/p/{req.code}/rate", data={"score": "satisfied"})).status_code == 403
