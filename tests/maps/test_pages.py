"""The map pages over HTTP: what each role gets, the no-JavaScript paths, and 我也遇到了 by a plain form."""

from __future__ import annotations

import re

from backend.maps.tables import Support
from backend.requests import service
from backend.requests.tables import Request
from tests.support.factories import fresh_phone
from tests.support.maps import HAIXI, fresh_category, report_at
from tests.support.people import staff


async def test_public_map_lists_requests_without_javascript(client) -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    private = await report_at(HAIXI, cat, is_public=False)
    r = await client.get(f"/map?category={cat}&status=open")
    assert r.status_code == 200
    assert f'href="/p/{req.code}"' in r.text and private.code not in r.text
    assert 'data-map="public"' in r.text and "<script>" not in r.text  # no inline script
    assert "vendor/leaflet-1.9.4/leaflet.js" in r.text
    r = await client.get(f"/map?category={cat}&status=resolved")
    assert req.code not in r.text


async def test_me_too_by_a_plain_form_and_the_count_on_the_public_page(client) -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    r = await client.post(f"/p/{req.code}/support")
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/p/{req.code}"
    await client.login_resident(fresh_phone())
    page = (await client.get(f"/p/{req.code}")).text
    assert "0 人也遇到了" in page and f'action="/p/{req.code}/support"' in page
    r = await client.post(f"/p/{req.code}/support")
    assert r.status_code == 303 and r.headers["location"] == f"/p/{req.code}?supported=1"
    page = (await client.get(f"/p/{req.code}")).text
    assert "1 人也遇到了" in page and "您已关注" in page and 'data-testid="me-too"' not in page
    r = await client.post(f"/p/{req.code}/support", headers={"hx-request": "true"})
    assert r.headers["hx-redirect"] == f"/p/{req.code}?supported=1"
    assert await Support.count().where(Support.request == req.id) == 1


async def test_me_too_refusals_are_4xx_and_change_nothing(client, new_client) -> None:
    cat = await fresh_category()
    private = await report_at(HAIXI, cat, is_public=False)
    await client.login_resident(fresh_phone())
    assert (await client.post(f"/p/{private.code}/support")).status_code == 404
    assert (await client.post("/p/YZ0000000000/support")).status_code == 404
    req = await report_at(HAIXI, cat)
    async with new_client() as staff_client:
        await staff_client.login_staff("haixi")
        r = await staff_client.post(f"/p/{req.code}/support")
        assert r.status_code == 403 and "居民" in r.text
    assert await Support.count().where(Support.request.is_in([req.id, private.id])) == 0


async def test_nearby_fragment_offers_me_too(client) -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    r = await client.get(f"/map/nearby?category={cat}&lat={HAIXI[0]}&lon={HAIXI[1]}")
    assert r.status_code == 200 and req.code in r.text and f'hx-post="/p/{req.code}/support"' in r.text
    r = await client.get(f"/map/nearby?category={cat}&lat=abc&lon=")
    assert r.status_code == 200 and req.code not in r.text


async def test_staff_map_is_for_staff_and_titled_by_role(client, new_client) -> None:
    assert (await client.get("/staff/map")).status_code == 303
    assert (await client.get("/staff/map/pins.json")).status_code == 303
    await client.login_resident(fresh_phone())
    assert (await client.get("/staff/map")).status_code == 403
    async with new_client() as cc:
        await cc.login_staff("zhzx")
        assert "指挥中心地图" in (await cc.get("/staff/map")).text
    async with new_client() as haixi:
        await haixi.login_staff("haixi")
        assert "辖区地图" in (await haixi.get("/staff/map")).text


async def test_dispatch_and_staff_request_pages_show_the_request_on_the_map(client) -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    await service.transition(req.id, "return", await staff("haixi"), None, note="不属于本社区")
    await client.login_staff("zhzx")
    page = (await client.get(f"/cc/requests/{req.id}/dispatch")).text
    assert 'data-testid="request-map"' in page and f'data-lat="{HAIXI[0]}"' in page
    page = (await client.get(f"/staff/requests/{req.id}")).text
    assert 'data-testid="request-map"' in page and 'data-testid="form-duplicate"' in page


async def test_mark_duplicate_form_shows_the_reason_on_bad_input(client) -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    await client.login_staff("haixi")
    page = (await client.get(f"/staff/requests/{req.id}")).text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = await client.post(f"/staff/requests/{req.id}/duplicate", data={"original": "", "note": "x",
                                                                       "version": version})
    assert r.status_code == 400 and "原诉求的编号" in r.text and 'data-testid="error-duplicate"' in r.text
    assert (await Request.select(Request.status).where(Request.id == req.id).first())[
        "status"] == "assigned"
