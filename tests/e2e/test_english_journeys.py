"""The resident, grid-worker, dispatcher and assessor journeys in English, in a real browser: what each
sees carries no Chinese beyond what people typed and the names of places, units and people (issue 16)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import PHONE, login_resident, login_staff
from tests.e2e.test_loops import new_request
from tests.support.factories import fresh_phone, unique
from tests.support.people import resident
from tests.web.test_english import chinese_left, user_texts

pytestmark = pytest.mark.e2e


async def english(ctx, live_server: str) -> None:
    """What the footer's "English" button sets (after signing in: the sign-in helpers read Chinese labels)."""
    await ctx.add_cookies([{"name": "lang", "value": "en", "url": live_server}])


async def test_journeys_in_english(browser, live_server, shot) -> None:
    number = fresh_phone()
    req = await new_request(unique("Broken lamp 楼道灯坏了 "), await resident(number), hours_ago=30)
    left: dict[str, set[str]] = {}
    too_wide: dict[str, int] = {}

    async def look(page, name: str) -> None:
        await shot(page, name)
        found = chinese_left(await page.content(), await user_texts())
        if found:
            left[name] = found
        # English words are longer than Chinese: nothing may widen the page past the phone's screen
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["viewport"]["width"]:
            too_wide[name] = width

    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_resident(page, number)
    await english(ctx, live_server)
    for url, name in (("/", "home"), (f"/r/{req.code}", "resident-request"), ("/report", "resident-report"),
                      ("/my", "resident-my"), ("/notifications", "resident-notices"), ("/wishes", "wish-board")):
        await page.goto(url)
        await look(page, name)
    assert await page.locator("html").get_attribute("lang") == "en"
    await ctx.close()

    for user, pages in (("wg_lx_1_1", ("/staff/inbox", "/staff/field", f"/staff/requests/{req.id}")),
                        ("zhzx", ("/cc/queue", "/cc/lights", "/dashboard")),
                        ("zzb", ("/assess", "/dashboard"))):
        ctx = await browser.new_context(base_url=live_server, **PHONE)
        page = await ctx.new_page()
        await login_staff(page, user)
        await english(ctx, live_server)
        for url in pages:
            await page.goto(url)
            await look(page, f"{user}-{url.strip('/').replace('/', '-')}")
        await ctx.close()
    assert not left, left
    assert not too_wide, too_wide
