"""A grid worker in the field: accept in one tap, resolve with a photo in three; tasks readable
offline; an update made offline waits on the phone and is sent when the network returns."""

from __future__ import annotations

import pytest

from backend.requests import service
from backend.requests.photos.tables import RequestPhoto as Photo
from backend.requests.service import NewRequest
from backend.requests.tables import Event, Request
from backend.routing.tables import Category
from tests.e2e.conftest import axe_violations, login_staff, photo_file, sw_ready
from tests.support.factories import unique
from tests.support.people import resident, unit

pytestmark = pytest.mark.e2e


async def new_task(text: str) -> Request:
    cat = await Category.objects().where(Category.code == "garbage").first()
    req, _ = await service.submit(
        NewRequest(kind="help", category_id=cat.id, description=text, community_id=(await unit("LX-1")).id),
        await resident(),
    )
    return req


def task(page, code: str):
    return page.locator(f"[data-testid=field-task][data-code='{code}']")


async def test_grid_worker_accepts_and_resolves_with_a_photo(phone, shot, tmp_path) -> None:
    req = await new_task(unique("现场：垃圾桶满了 "))
    page = await phone.new_page()
    await login_staff(page, "wg_lx_1_1")
    await page.goto("/staff/field")
    # The new assignment was announced: the header shows the unread count (loaded by htmx).
    await page.locator("[data-testid=unread-count]").wait_for()
    await shot(page, "field-list")
    assert await axe_violations(page) == []
    # Tap 1: accept.
    async with page.expect_navigation(url="**/staff/field"):
        await task(page, req.code).locator("[data-testid=field-accept]").click()
    row = await Request.select(Request.status).where(Request.id == req.id).first()
    assert row["status"] == "accepted"
    await shot(page, "accepted")
    # Taps 1–3: open "resolve", take the photo, send.
    await task(page, req.code).locator("[data-testid=field-resolve]").click()
    await page.locator(f"#photo-resolve-{req.id}").set_input_files(str(photo_file(tmp_path, 2000, 1500)))
    await shot(page, "resolve-sheet")
    assert await axe_violations(page) == []
    async with page.expect_navigation(url="**/staff/field"):
        await task(page, req.code).locator("[data-testid=field-resolve-send]").click()
    row = await Request.select(Request.status).where(Request.id == req.id).first()
    assert row["status"] == "resolved"
    assert await task(page, req.code).count() == 0
    await shot(page, "resolved")
    resolve = await Event.select(Event.id).where((Event.request == req.id) & (Event.action == "resolve")).first()
    assert resolve is not None
    assert await Photo.count().where(Photo.event == resolve["id"]) == 1


async def test_field_tasks_read_offline_and_updates_sent_later(phone, shot) -> None:
    req = await new_task(unique("离线现场：井盖松动 "))
    page = await phone.new_page()
    await login_staff(page, "wg_lx_1_1")
    await page.goto("/staff/field")
    await sw_ready(page)
    await page.reload()  # now through the service worker, which keeps the page
    await page.goto(f"/staff/requests/{req.id}")
    await page.goto("/staff/field")
    await phone.set_offline(True)
    await page.goto(f"/staff/requests/{req.id}")  # visited before: readable offline
    assert req.code in await page.content()
    await page.goto("/staff/inbox?never=visited")  # not kept: the offline page instead of the browser's error
    assert "当前没有网络" in await page.content()
    await shot(page, "offline-page")
    await page.goto("/staff/field")
    await shot(page, "offline-list")
    await task(page, req.code).locator("[data-testid=field-accept]").click()
    await page.locator("#outbox").wait_for(state="visible")
    await shot(page, "accept-queued")
    assert (await Request.select(Request.status).where(Request.id == req.id).first())["status"] == "assigned"
    await phone.set_offline(False)
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await page.locator("#outbox").wait_for(state="hidden")
    assert (await Request.select(Request.status).where(Request.id == req.id).first())["status"] == "accepted"
    await shot(page, "accept-sent")


async def test_more_than_a_hundred_tasks_are_all_reachable_without_scripts(browser, live_server, shot) -> None:
    """Field mode used to stop at 100 tasks: every task is on some page, reached by plain links."""
    from tests.e2e.conftest import PHONE

    cat = await Category.objects().where(Category.code == "garbage").first()
    grid = await unit("WM-2-1")  # a grid no other test sends work to
    who = await resident()
    codes = set()
    for i in range(120):
        req, _ = await service.submit(NewRequest(kind="help", category_id=cat.id, description=f"分页任务 {i}",
                                                 community_id=grid.parent, grid_id=grid.id), who)
        codes.add(req.code)
    ctx = await browser.new_context(base_url=live_server, java_script_enabled=False, **PHONE)
    page = await ctx.new_page()
    await login_staff(page, "wg_wm_2_1")
    await page.goto("/staff/field")
    total = int(await page.locator("[data-testid=field-total]").inner_text())
    assert total >= 120
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        cards = page.locator("[data-testid=field-task]")
        assert await cards.count() <= 50
        seen += [await cards.nth(i).get_attribute("data-code") for i in range(await cards.count())]
        if pages == 1:
            assert "第 1–50 项" in await page.locator("[data-testid=field-pager]").inner_text()
            await shot(page, "first-page")
        more = page.locator("[data-testid=field-more]")
        if not await more.count():
            break
        async with page.expect_navigation():
            await more.click()
    await shot(page, "last-page")
    assert pages == -(-total // 50) and len(seen) == total == len(set(seen))
    assert codes <= set(seen)
    await ctx.close()
