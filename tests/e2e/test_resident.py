"""A resident on a phone: report with a photo (compressed in the browser), the same offline and
then online (created once), inside WeChat's browser without Background Sync or Push."""

from __future__ import annotations

import re

import pytest

from backend.requests.photos.tables import RequestPhoto as Photo
from backend.requests.tables import Request
from tests.e2e.conftest import PHONE, WECHAT_UA, axe_violations, login_resident, photo_file, sw_ready
from tests.support.factories import fresh_phone, unique

pytestmark = pytest.mark.e2e


async def fill_report(page, description: str, photo=None) -> None:
    await page.goto("/report")
    await page.check("input[name=kind][value=help]")
    await page.locator("input[name=category]").first.check()
    await page.fill("#description", description)
    await page.select_option("#community", label="海西社区")
    await page.fill("#address", "柳巷南路 1 号")
    if photo is not None:
        await page.set_input_files("#photos", str(photo))


async def count(description: str) -> int:
    return await Request.count().where(Request.description == description)


async def test_resident_reports_with_a_compressed_photo(phone, shot, tmp_path) -> None:
    page = await phone.new_page()
    await page.goto("/")
    await shot(page, "home")
    assert await axe_violations(page) == []
    await login_resident(page, fresh_phone())
    description = unique("路灯不亮，晚上很黑 ")
    big = photo_file(tmp_path)
    assert big.stat().st_size > 2_000_000
    await fill_report(page, description, big)
    assert await axe_violations(page) == []
    await shot(page, "report-filled")
    uploads: list[int] = []
    page.on("request", lambda r: uploads.append(len(r.post_data_buffer or b"")) if r.method == "POST" else None)
    # The upload shows a progress bar (XMLHttpRequest upload progress) until the page moves on.
    await page.evaluate("""() => new MutationObserver(() => {
        if (document.querySelector('progress.upload-progress')) sessionStorage.setItem('sawProgress', '1');
      }).observe(document.body, {subtree: true, childList: true})""")
    await page.click("#report button[type=submit]")
    await page.wait_for_url(re.compile(r"/report/done/"))
    assert await page.evaluate("sessionStorage.getItem('sawProgress')") == "1"
    await shot(page, "done")
    assert await count(description) == 1
    # The 12-megapixel photo went up resized in the browser (≤ 1600 px, JPEG ≈ 0.8).
    assert uploads and max(uploads) <= 500_000, uploads
    assert await axe_violations(page) == []


async def _offline_then_online(ctx, page, shot, description: str, photo=None, *, background_sync: bool) -> None:
    await fill_report(page, description, photo)
    await ctx.set_offline(True)
    await page.click("#report button[type=submit]")
    outbox = page.locator("#outbox")
    await outbox.wait_for(state="visible")
    # The photo is kept with the submission, as a Blob in IndexedDB.
    kept = await page.evaluate("""() => QGOutbox.all().then(items => items.map(i => ({
        photos: i.fields.filter(f => f.blob instanceof Blob && f.blob.size > 0).length })))""")
    assert kept == [{"photos": 1 if photo else 0}]
    if background_sync:  # Chromium has Background Sync: the worker is asked to send it
        tags = await page.evaluate("navigator.serviceWorker.ready.then(r => r.sync.getTags())")
        assert "qg-outbox" in tags
    assert "等待发送" in await outbox.inner_text()
    assert description[:20] in await outbox.inner_text()
    await shot(page, "queued-offline")
    assert await count(description) == 0
    await ctx.set_offline(False)
    await page.evaluate("window.dispatchEvent(new Event('online'))")  # what the phone fires on reconnect
    await outbox.wait_for(state="hidden")
    await page.locator("[data-testid=outbox-sent-link]").wait_for()
    await shot(page, "sent-when-online")
    assert await count(description) == 1
    # Opening the app again finds nothing left to send: still created once.
    await page.reload()
    await page.wait_for_load_state("networkidle")
    assert await count(description) == 1
    if photo:
        req = await Request.select(Request.id).where(Request.description == description).first()
        assert await Photo.count().where(Photo.request == req["id"]) == 1


async def test_offline_report_waits_on_the_phone_and_is_created_once(phone, shot, tmp_path) -> None:
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    await sw_ready(page)
    description = unique("离线提交：楼道灯坏了 ")
    await _offline_then_online(phone, page, shot, description, photo_file(tmp_path, 1200, 900), background_sync=True)


NO_SYNC_NO_PUSH = """
delete window.SyncManager; delete window.PushManager; delete window.Notification;
if (window.ServiceWorkerRegistration) {
  delete ServiceWorkerRegistration.prototype.sync; delete ServiceWorkerRegistration.prototype.pushManager;
}
"""


async def test_wechat_browser_without_background_sync_or_push(browser, live_server, shot) -> None:
    ctx = await browser.new_context(base_url=live_server, user_agent=WECHAT_UA, **PHONE)
    ctx.set_default_timeout(15_000)
    await ctx.add_init_script(NO_SYNC_NO_PUSH)
    try:
        page = await ctx.new_page()
        await login_resident(page, fresh_phone())
        assert await page.evaluate("typeof SyncManager === 'undefined' && typeof PushManager === 'undefined'")
        await page.goto("/notifications")
        assert not await page.locator("[data-push-subscribe]").is_visible()  # no push: the in-app list only
        await page.goto("/report")
        description = unique("微信里离线提交 ")
        await _offline_then_online(ctx, page, shot, description, background_sync=False)
    finally:
        await ctx.close()


async def test_my_requests_page_by_page(phone, shot) -> None:
    """A resident with many reports sees the newest 20, a button to the older ones and back, and the rating
    reminder counts a resolved report that is on the second page."""
    from backend.db import utcnow
    from backend.routing.tables import Category
    from tests.support.history import History, hours
    from tests.support.people import resident

    number = fresh_phone()
    reporter = await resident(number)
    cat = await Category.objects().where(Category.code == "garbage").first()
    start = utcnow() - hours(30)
    made = [await History.submit(cat.id, start + hours(i), reporter=reporter) for i in range(22)]
    await made[0].do("accept", start + hours(23))
    await made[0].do("resolve", start + hours(24))
    page = await phone.new_page()
    await login_resident(page, number)
    await page.goto("/my")
    items = page.locator("[data-testid=my-request] strong")
    assert await items.all_inner_texts() == [h.code for h in reversed(made)][:20]
    assert "您有 1 件诉求已办结，请评价办理结果。" in await page.locator("[data-testid=rating-due]").inner_text()
    older = page.locator("[data-testid=my-older]")
    assert (await older.inner_text()).strip() == "更早的诉求"
    assert await older.is_visible()
    colors = await older.evaluate("e => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]")
    assert colors == ["rgb(255, 255, 255)", "rgb(176, 0, 32)"], colors  # white on the red, not white on white
    await shot(page, "my-first-page")
    async with page.expect_navigation():
        await older.click()
    assert await items.all_inner_texts() == [made[1].code, made[0].code]
    assert await page.locator("[data-testid=rate-link]").is_visible()
    assert await page.locator("[data-testid=my-older]").count() == 0
    assert await axe_violations(page) == []
    await shot(page, "my-older-page")
    async with page.expect_navigation():
        await page.click("[data-testid=my-newest]")
    assert (await items.all_inner_texts())[0] == made[-1].code
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # the pager fits the phone's width
