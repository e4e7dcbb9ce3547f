"""Micro-wishes (issue 16): a draft is sent for verification with one button; the community list is
grouped by street; "share" only while published; those who confirm see the claimer's contact and notes;
nothing is edited after fulfilment."""

from __future__ import annotations

import pytest

from backend.wishes import service
from backend.wishes.tables import Wish
from tests.e2e.conftest import login_resident, login_staff
from tests.support.factories import fresh_phone
from tests.support.people import staff, unit
from tests.support.wishes import jpeg_with_exif, party_member, resident_viewer, wish_input

pytestmark = pytest.mark.e2e


async def test_wish_from_draft_to_fulfilment_as_the_people_see_it(browser, live_server, shot) -> None:
    from tests.e2e.conftest import PHONE

    number = fresh_phone()
    author = await resident_viewer(number)
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_resident(page, number)
    # The community list is grouped by street, as on the report form.
    await page.goto("/report")
    streets = await page.locator("#community optgroup").evaluate_all("els => els.map(e => e.label)")
    await page.goto("/wishes/new")
    groups = await page.locator("#community optgroup").evaluate_all("els => els.map(e => e.label)")
    assert groups == streets and "柳巷街道" in groups and len(groups) == 7
    haixi = page.locator("#community optgroup[label='柳巷街道'] option", has_text="海西社区")
    assert await haixi.count() == 1
    wish_id = await service.create_wish(author, wish_input((await unit("LX-1")).id, title="一根助行拐杖（草稿）"),
                                        submit=False)
    await page.goto(f"/wishes/{wish_id}")
    assert await page.locator("[data-testid=wish-status]").inner_text() == "草稿"
    assert await page.locator("[data-testid=share]").count() == 0  # not shared before it is published
    async with page.expect_navigation():
        await page.click("[data-testid=submit-for-verification]")
    assert await page.locator("[data-testid=wish-status]").inner_text() == "待审核"
    await shot(page, "sent-for-verification")

    # Verified and published: now it can be shared.
    await service.approve(await staff("haixi"), wish_id)
    await page.goto(f"/wishes/{wish_id}")
    assert await page.locator("[data-testid=share]").is_visible()
    await shot(page, "published-share")

    # A party member claims, calls and fulfils it with notes.
    member_phone = fresh_phone()
    member = await party_member(member_phone)
    await service.claim(member, wish_id)
    await service.record_contact(member, wish_id, "已电话联系家属，周六上午送到")
    await page.goto(f"/wishes/{wish_id}")
    assert await page.locator("[data-testid=share]").count() == 0
    await service.fulfil(member, wish_id, "拐杖已送到，老人试用合适", [(jpeg_with_exif((800, 600)), "proof.jpg")])

    # The drafter sees who claimed it, how to reach them, and what they wrote; nothing is editable now.
    await page.goto(f"/wishes/{wish_id}")
    private = page.locator("[data-testid=private]")
    assert member_phone in await private.locator("[data-testid=claimer]").inner_text()
    assert "已电话联系家属，周六上午送到" in await private.locator("[data-testid=contact-note]").inner_text()
    assert "拐杖已送到，老人试用合适" in await private.locator("[data-testid=fulfil-note]").inner_text()
    assert await page.locator("[data-testid=edit]").count() == 0
    await shot(page, "drafter-sees-claimer")
    refused = await page.request.post(f"/wishes/{wish_id}/edit", multipart={"title": "改个标题", "action": "save"},
                                      headers={"x-csrftoken": await _csrf(page)})
    assert refused.status >= 400  # saving is refused (a hand-made request, the button is gone)
    assert (await Wish.select(Wish.title).where(Wish.id == wish_id).first())["title"] == "一根助行拐杖（草稿）"
    await ctx.close()

    # The community that confirms sees the same.
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_staff(page, "haixi")
    await page.goto(f"/wishes/{wish_id}")
    assert member_phone in await page.locator("[data-testid=claimer]").inner_text()
    assert "拐杖已送到" in await page.locator("[data-testid=fulfil-note]").inner_text()
    assert await page.locator("[data-testid=edit]").count() == 0
    await page.locator("[data-testid=confirm]").scroll_into_view_if_needed()
    await shot(page, "community-confirms")
    await ctx.close()


async def _csrf(page) -> str:
    cookies = await page.context.cookies()
    return next(c["value"] for c in cookies if c["name"] == "csrftoken")
