"""Issue 16, forms and figures: a resident sees where a report will go before sending and can correct it;
withdrawing asks first and confirms; offline feedback appears by the button; the assessment shows its
definition, marks small samples instead of ranking them, and exports numbers."""

from __future__ import annotations

import io
import re

import pytest

from backend.requests.tables import Request
from tests.e2e.conftest import axe_violations, login_resident, login_staff
from tests.support.factories import fresh_phone, unique
from tests.support.people import resident, unit

pytestmark = pytest.mark.e2e

# A point inside 双塔寺街二社区 (郝庄镇) of the demo district's synthetic map.
SHUANGTA = {"latitude": 37.862, "longitude": 112.5625}


async def test_resident_sees_where_the_report_goes_and_corrects_it(browser, live_server, shot) -> None:
    from tests.e2e.conftest import PHONE

    ctx = await browser.new_context(base_url=live_server, permissions=["geolocation"], geolocation=SHUANGTA,
                                    **PHONE)
    page = await ctx.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    await page.check("input[name=kind][value=help]")
    await page.check(f"input[name=category][value='{(await _garbage())}']")
    description = unique("海西社区楼下垃圾堆了三天 ")
    await page.fill("#description", description)
    # The phone's position: the form says where it will go, before anything is sent.
    await page.click("[data-locate]")
    preview = page.locator("[data-testid=route-preview]")
    await preview.locator("[data-testid=route-community]").wait_for()
    assert "郝庄镇 · 双塔寺街二社区" in await preview.inner_text()
    assert "按定位" in await preview.inner_text()
    await page.wait_for_load_state("networkidle")  # htmx swaps the preview as the map settles the community
    await preview.scroll_into_view_if_needed()
    await shot(page, "preview-by-position")
    # Not where the problem is: the resident picks 海西社区, is asked which place is meant, says 海西社区,
    # and sees the new community, grid and person.
    await page.select_option("#community", label="海西社区")
    choice = page.locator("[data-testid=route-choice]")
    await choice.wait_for()
    assert "双塔寺街二社区" in await choice.inner_text() and "海西社区" in await choice.inner_text()
    await page.check("[data-testid=route-use-community]")
    await page.locator("[data-testid=route-corrected]").wait_for()
    text = await preview.inner_text()
    assert "柳巷街道 · 海西社区" in text and "海西社区第" in text and "网格员" in text
    await shot(page, "preview-corrected")
    assert await axe_violations(page) == []
    async with page.expect_navigation(url=re.compile(r"/report/done/")):
        await page.click("#report button[type=submit]")
    row = await Request.select(Request.community.name).where(Request.description == description).first()
    assert row["community.name"] == "海西社区"
    await ctx.close()


async def _garbage() -> int:
    from backend.routing.tables import Category

    return (await Category.select(Category.id).where(Category.code == "garbage").first())["id"]


async def test_withdraw_asks_first_and_confirms(phone, shot) -> None:
    from backend.requests import service
    from backend.requests.service import NewRequest

    number = fresh_phone()
    req, _ = await service.submit(NewRequest(kind="help", category_id=await _garbage(), description=unique("撤回 "),
                                             community_id=(await unit("LX-1")).id), await resident(number))
    page = await phone.new_page()
    await login_resident(page, number)
    await page.goto(f"/r/{req.code}")
    confirm = page.locator("[data-testid=withdraw-confirm]")
    assert not await confirm.is_visible()  # one tap does not withdraw
    await page.click("[data-testid=withdraw] summary")
    assert "确定撤回这条诉求吗？" in await page.locator("[data-testid=withdraw]").inner_text()
    await shot(page, "withdraw-question")
    assert (await Request.select(Request.status).where(Request.id == req.id).first())["status"] == "assigned"
    async with page.expect_navigation():
        await confirm.click()
    assert f"诉求 {req.code} 已撤回" in await page.locator("[data-testid=flash]").inner_text()
    assert await page.locator("[data-testid=status]").inner_text() == "已撤回"
    await shot(page, "withdrawn")


async def test_offline_feedback_appears_by_the_button(phone, shot) -> None:
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    await page.check("input[name=kind][value=help]")
    await page.locator("input[name=category]").first.check()
    await page.fill("#description", unique("离线反馈 "))
    await page.select_option("#community", label="海西社区")
    await phone.set_offline(True)
    await page.click("#report button[type=submit]")
    here = page.locator("[data-testid=queued-here]")
    await here.wait_for()
    assert "已保存在手机上，联网后自动发送" in await here.inner_text()
    # Where the resident is looking: inside the phone's screen, not 1,400 px above.
    box = await here.bounding_box()
    height = await page.evaluate("innerHeight")
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= height
    await shot(page, "queued-by-the-button")
    await phone.set_offline(False)


async def test_assessment_shows_its_definition_marks_small_samples_and_exports_numbers(phone, shot) -> None:
    from openpyxl import load_workbook

    from backend.db import utcnow

    page = await phone.new_page()
    await login_staff(page, "zzb")
    year = utcnow().year
    await page.goto(f"/assess?kind=community&year={year}")
    definition = page.locator("[data-testid=definition]")
    assert "按时率 = 按时的计时数 ÷ 计入的计时数" in await definition.inner_text()
    assert "不参与排名" in await definition.inner_text()
    # A community with a handful of clocks is shown, marked, and not ranked.
    small = page.locator("[data-testid=unit-row]", has=page.locator("[data-testid=small-sample]")).first
    await small.wait_for()
    assert await small.locator("[data-col=rank]").inner_text() == "样本不足"
    await small.scroll_into_view_if_needed()
    await shot(page, "assessment")
    ranked = await page.locator("[data-testid=unit-row] [data-col=rank]").all_inner_texts()
    assert all(r.strip().isdigit() or r.strip() in ("样本不足", "—") for r in ranked)
    x = await page.request.get(f"/assess/export.xlsx?kind=community&year={year}")
    ws = load_workbook(io.BytesIO(await x.body())).active
    header = [c.value for c in ws[2]]
    col = header.index("按时受理率") + 1
    cells = [ws.cell(row=r, column=col) for r in range(3, ws.max_row + 1)]
    cells = [c for c in cells if c.value is not None]
    assert cells and all(isinstance(c.value, int | float) and c.number_format == "0.0%" for c in cells)
