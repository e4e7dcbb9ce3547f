"""Maps in a real browser (issue 17): the report form's pin, "already reported?" with 我也遇到了, staff marking
a duplicate, the command-center map's red pin, and the public map."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from backend.db import utcnow
from backend.lights import flips as lights
from backend.maps.tables import Support
from backend.requests.tables import Request
from tests.e2e.conftest import axe_violations, login_resident, login_staff
from tests.support.factories import fresh_phone, unique
from tests.support.maps import HAIXI, east_of, fresh_category, report_at

pytestmark = pytest.mark.e2e

LIUBEI = (37.8487, 112.5355)  # 柳北社区 (LX-2), east of 海西社区
OUTSIDE = (37.8400, 112.5245)  # south of the district's edge (37.845)


async def map_ready(page, selector: str) -> None:
    await page.locator(f"{selector}[data-ready]").wait_for(state="attached")


async def drag_pin_to(page, point: tuple[float, float]) -> None:
    """Drag the report form's pin (with the mouse, as a finger would) so its tip lands on ``point``."""
    await page.locator("[data-map=report]").scroll_into_view_if_needed()
    # Show the pin and the target together, then drag from the pin's head to the target (the tip is 16 px lower).
    await page.evaluate("""([lat, lon]) => {
        const el = document.querySelector('[data-map=report]');
        const pin = el.qgPin.getLatLng();
        el.qgMap.fitBounds([[pin.lat, pin.lng], [lat, lon]], {padding: [60, 60], animate: false});
      }""", list(point))
    await page.wait_for_timeout(300)
    box = await page.locator(".qg-pin").bounding_box()
    target = await page.evaluate("""([lat, lon]) => {
        const el = document.querySelector('[data-map=report]');
        const p = el.qgMap.latLngToContainerPoint([lat, lon]);
        const r = el.getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
      }""", list(point))
    start = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.move(*start)
    await page.mouse.down()
    await page.mouse.move(target[0], target[1] - 16, steps=12)
    await page.mouse.up()


async def test_resident_drags_the_pin_and_sees_the_receiving_community_change(phone, shot) -> None:
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    await map_ready(page, "[data-report-map]")
    await page.check("input[name=kind][value=help]")
    await page.locator("input[name=category]").first.check()
    description = unique("井盖松动 ")
    await page.fill("#description", description)
    place = page.get_by_test_id("place")

    await drag_pin_to(page, HAIXI)
    await expect(page.get_by_test_id("place")).to_have_attribute("data-community", "海西社区")
    assert "柳巷街道 · 海西社区 · 海西社区第" in await place.inner_text()
    assert "责任人" in await place.inner_text()
    assert await page.locator("#community").input_value() != ""
    await shot(page, "pin-in-haixi")

    await drag_pin_to(page, LIUBEI)
    await expect(page.get_by_test_id("place")).to_have_attribute("data-community", "柳北社区")
    assert "柳北社区" in await place.inner_text() and "海西社区" not in await place.inner_text()
    await shot(page, "pin-moved-to-liubei")

    await drag_pin_to(page, OUTSIDE)  # refused on the spot: the message, and the pin goes back
    await expect(page.get_by_test_id("place")).to_have_class(re.compile(r"\bbad\b"))
    assert "不在迎泽区" in await place.inner_text()
    await shot(page, "outside-refused")
    assert await axe_violations(page) == []

    await page.click("#report button[type=submit]")
    await page.wait_for_url(re.compile(r"/report/done/"))
    row = await Request.select(Request.community.name, Request.lat, Request.lon).where(
        Request.description == description).first()
    assert row["community.name"] == "柳北社区"  # where the pin was last accepted
    assert abs(row["lat"] - LIUBEI[0]) < 0.0005 and abs(row["lon"] - LIUBEI[1]) < 0.0005


async def test_second_resident_is_offered_the_first_report_and_supports_it(phone, shot) -> None:
    cat = await fresh_category()
    first = await report_at(HAIXI, cat, description="小区门口路灯不亮")
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    await map_ready(page, "[data-report-map]")
    await page.check("input[name=kind][value=help]")
    await page.check(f"input[name=category][value='{cat}']")
    await drag_pin_to(page, east_of(HAIXI, 60))
    item = page.locator(f"[data-testid=nearby-item][data-code='{first.code}']")
    await item.wait_for()
    assert "小区门口路灯不亮" in await item.inner_text() and "0 人也遇到了" in await item.inner_text()
    metres = int(re.search(r"约 (\d+) 米", await item.inner_text()).group(1))
    assert 30 <= metres <= 90  # the pin lands within a few pixels of where the finger let go
    await item.scroll_into_view_if_needed()
    await shot(page, "offered-the-first")
    await item.get_by_test_id("me-too").click()
    await page.wait_for_url(re.compile(rf"/p/{first.code}\?supported=1"))
    assert "1 人也遇到了" in await page.get_by_test_id("supporter-count").inner_text()
    assert "您已关注" in await page.get_by_test_id("supported").inner_text()
    await shot(page, "supported")
    assert await Support.count().where(Support.request == first.id) == 1
    assert await Request.count().where(Request.category == cat) == 1  # no second request filed


async def test_staff_mark_a_duplicate(phone, shot) -> None:
    cat = await fresh_category()
    original = await report_at(HAIXI, cat, description="楼下垃圾桶满了")
    dup = await report_at(east_of(HAIXI, 30), cat, description="垃圾桶溢出来了")
    page = await phone.new_page()
    await login_staff(page, "haixi")
    await page.goto(f"/staff/requests/{dup.id}")
    await map_ready(page, "[data-testid=request-map]")
    box = page.get_by_test_id("duplicates")
    await box.locator("summary").click()
    assert original.code in await box.get_by_test_id("dup-candidate").first.inner_text()
    assert await page.locator("#dup-original").input_value() == original.code
    await page.fill("#dup-note", "同一位置同一问题")
    await shot(page, "mark-duplicate")
    async with page.expect_navigation():
        await box.locator("button[type=submit]").click()
    assert "重复诉求（已合并）" in await page.get_by_test_id("status").inner_text()
    assert original.code in await page.get_by_test_id("duplicate-of").inner_text()
    await shot(page, "marked")
    await page.goto(f"/p/{original.code}")
    assert "1 人也遇到了" in await page.get_by_test_id("supporter-count").inner_text()
    assert (await Request.select(Request.status).where(Request.id == dup.id).first())["status"] == "duplicate"


async def test_command_center_map_shows_a_red_pin_for_a_red_lit_request(phone, shot) -> None:
    cat = await fresh_category()
    red = await report_at(HAIXI, cat, now=utcnow() - timedelta(hours=60))
    calm = await report_at(east_of(HAIXI, 200), cat)
    await lights.sweep()
    await lights.sweep()
    page = await phone.new_page()
    await login_staff(page, "zhzx")
    await page.goto(f"/staff/map?category={cat}")
    await map_ready(page, "[data-testid=staff-map]")
    red_pin = page.locator(f"path.pin-id-{red.id}")
    assert "pin-red" in (await red_pin.get_attribute("class"))
    assert await red_pin.get_attribute("fill") == "#d0021b"
    assert "pin-none" in (await page.locator(f"path.pin-id-{calm.id}").get_attribute("class"))
    await shot(page, "cc-map")
    await red_pin.click()
    await page.wait_for_url(re.compile(rf"/staff/requests/{red.id}$"))


async def test_public_map_lists_and_pins_public_requests(phone, shot) -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat, description="公开的诉求")
    private = await report_at(HAIXI, cat, is_public=False)
    page = await phone.new_page()
    await page.goto(f"/map?category={cat}")
    await map_ready(page, "[data-testid=public-map]")
    listing = await page.get_by_test_id("map-list").inner_text()
    assert req.code in listing and private.code not in listing
    assert await page.locator("path.pin").count() == 1
    await page.locator("path.pin").click()
    await shot(page, "public-map")
    async with page.expect_navigation():
        await page.locator(f".leaflet-popup a[href='/p/{req.code}']").click()
    assert page.url.endswith(f"/p/{req.code}")
    assert await axe_violations(page) == []


async def test_a_supporter_rates_the_result_and_sees_it_on_the_page(phone, shot) -> None:
    """Issue 17: "我也遇到了", then the result comes: the supporter rates it on the request's page; the rating
    is shown there and the request stays resolved (only its reporter's rating decides)."""
    from backend.requests import service as requests
    from tests.support.people import staff

    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    number = fresh_phone()
    page = await phone.new_page()
    await login_resident(page, number)
    await page.goto(f"/p/{req.code}")
    async with page.expect_navigation():
        await page.get_by_test_id("me-too").click()
    assert await page.get_by_test_id("supported").is_visible()
    assert await page.get_by_test_id("supporter-rate").count() == 0  # nothing to rate before the result
    haixi = await staff("haixi")
    await requests.transition(req.id, "accept", haixi, None)
    await requests.transition(req.id, "resolve", haixi, None, note="已清理干净")
    await page.goto(f"/p/{req.code}")
    form = page.get_by_test_id("supporter-rate")
    await form.locator("input[value=basic]").check()
    await form.locator("#supporter-comment").fill("干净多了，希望保持")
    await shot(page, "supporter-rates")
    async with page.expect_navigation():
        await form.locator("button[type=submit]").click()
    assert await page.locator("[data-testid=flash]").inner_text() == "感谢您的评价！"
    counts = await page.get_by_test_id("supporter-rating-counts").inner_text()
    assert counts == "满意 0 · 基本满意 1 · 不满意 0"
    assert "您已评价本次办理结果" in await page.get_by_test_id("supporter-rated").inner_text()
    assert await page.get_by_test_id("supporter-rate").count() == 0  # once per result
    await shot(page, "supporter-rated")
    assert (await Request.select(Request.status).where(Request.id == req.id).first())["status"] == "resolved"
