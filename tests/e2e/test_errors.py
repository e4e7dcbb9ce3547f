"""A refusal, as a person sees it in English (issue 14): the service's message in the reader's language, the
form shown again with each bad field marked and what was typed kept, and nothing changed."""

from __future__ import annotations

import pytest

from backend.requests.tables import Event
from backend.requests.tables import Request as Req
from tests.e2e.conftest import PHONE, login_resident, login_staff
from tests.e2e.test_english_journeys import english
from tests.e2e.test_loops import new_request
from tests.support.factories import fresh_phone, unique

pytestmark = pytest.mark.e2e


async def test_a_report_with_bad_fields_is_shown_again_in_english(browser, live_server, shot) -> None:
    """The resident sends the report form without a kind, a category or a description: the form comes back in
    English with each of those fields marked and its own message; the address typed is still there."""
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_resident(page, fresh_phone())
    await english(ctx, live_server)
    await page.goto("/report")
    address = unique("Liuxiang South Road ")
    await page.fill("#address", address)
    await page.select_option("#community", index=1)
    # The form is sent by app.js (with upload progress); a refused form's page replaces this one in place.
    await page.click("#report button[type=submit]")
    await page.wait_for_selector("[data-testid=error-kind]")
    await shot(page, "report-errors-en")
    marked = page.locator("[data-testid^=error-]")
    texts = [t.strip() for t in await marked.all_inner_texts()]
    assert texts == ["Please choose the kind of request", "Please choose a valid category",
                     "Please describe the problem"], texts
    assert await page.locator("[aria-invalid=true]").count() >= 3
    assert await page.input_value("#address") == address
    assert "请选择诉求类型" not in await page.content()
    await ctx.close()


async def test_a_refused_escalation_is_shown_again_in_english(browser, live_server, shot) -> None:
    """Community staff escalate without a reason: the routing page again, the message under the form."""
    req = await new_request(unique("垃圾堆积 "))
    events = await Event.count().where(Event.request == req.id)
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_staff(page, "haixi")
    await english(ctx, live_server)
    await page.goto(f"/staff/requests/{req.id}/routing")
    form = page.locator("[data-testid=escalate-form]")
    async with page.expect_navigation():
        await form.locator("button[type=submit]").click()
    await shot(page, "escalate-refused-en")
    error = page.locator("[data-testid=escalate-form] .field-error")
    assert (await error.inner_text()).strip() == "An escalation needs a reason"
    assert await page.locator("[data-testid=escalate-form] textarea[aria-invalid=true]").count() == 1
    assert "上报必须填写理由" not in await page.content()
    row = await Req.select(Req.status, Req.version).where(Req.id == req.id).first()
    assert row == {"status": req.status, "version": req.version}
    assert await Event.count().where(Event.request == req.id) == events
    await ctx.close()
