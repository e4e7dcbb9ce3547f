"""A first visitor of the demo district sees a living system: a year of history on the dashboard (trend,
ranking), the light board, an assessment and the wish board (issue 16). The run loads a sample year."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.db import utcnow
from backend.demo_history import load_history
from tests.e2e.conftest import login_staff

pytestmark = pytest.mark.e2e


async def test_first_visitor_sees_a_year_of_history(browser, live_server, shot) -> None:
    await load_history(120, complete_staff=False)  # the sample of tests/demo (idempotent: loaded once per run)
    ctx = await browser.new_context(base_url=live_server, viewport={"width": 1600, "height": 1000},
                                    locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await ctx.new_page()
    await login_staff(page, "zhzx")
    today = utcnow().date()
    await page.goto(f"/dashboard?start={(today - timedelta(days=364)).isoformat()}&end={today.isoformat()}&grain=month")
    accepted = await page.locator("[data-testid=kpi-table] tr[data-key=accepted] a").get_attribute("data-value")
    assert accepted is not None and int(float(accepted)) >= 100
    assert await page.locator("[data-testid=ranking] tbody tr").count() >= 3
    await shot(page, "dashboard-year")
    await page.goto("/cc/lights")
    await shot(page, "light-board")
    await login_staff(page, "zzb")  # the organisation department's assessor
    await page.goto(f"/assess?kind=street&year={today.year}")
    rows = page.locator("[data-testid=unit-row]")
    assert await rows.count() >= 7
    await shot(page, "assessment")
    await page.goto("/wishes")
    assert await page.locator("[data-testid=wish-card]").count() >= 5
    await shot(page, "wish-board")
    await ctx.close()


async def test_dashboard_fills_a_command_center_wall_and_stays_readable_on_a_phone(browser, live_server, shot) -> None:
    """Issue 16: on a 1920 × 1080 wall the dashboard uses the width (figures across the top, then definitions,
    trend and ranking side by side); on a 390 px phone each definition reads at full width under its figure."""
    await load_history(120, complete_staff=False)  # the run's sample year (idempotent)
    today = utcnow().date()
    url = f"/dashboard?start={(today - timedelta(days=364)).isoformat()}&end={today.isoformat()}&grain=month"
    wall = await browser.new_context(base_url=live_server, viewport={"width": 1920, "height": 1080},
                                     locale="zh-CN", timezone_id="Asia/Shanghai")
    page = await wall.new_page()
    await login_staff(page, "zhzx")
    await page.goto(url)
    kpis = await page.locator(".wall-kpis").bounding_box()
    defs, trend, rank = [await page.locator(sel).bounding_box() for sel in (".wall-defs", ".wall-trend", ".wall-rank")]
    assert kpis["width"] > 1800  # the whole width, not a 960 px column
    assert defs["x"] < trend["x"] < rank["x"]  # three columns ...
    assert abs(defs["y"] - trend["y"]) < 2 and abs(trend["y"] - rank["y"]) < 2  # ... side by side
    tiles = page.locator(".wall-kpis .kpi-grid").first.locator(".kpi")
    first, last = await tiles.first.bounding_box(), await tiles.last.bounding_box()
    assert abs(first["y"] - last["y"]) < 2  # the headline figures in one row
    await shot(page, "wall-1920")
    await wall.close()

    from tests.e2e.conftest import PHONE

    phone = await browser.new_context(base_url=live_server, **PHONE)
    page = await phone.new_page()
    await login_staff(page, "zhzx")
    await page.goto(url)
    row = page.locator("[data-testid=kpi-table] tr[data-key=satisfaction_rate]")
    name, definition = await row.locator("th").bounding_box(), await row.locator("td.kpi-def").bounding_box()
    assert definition["width"] > 300 and definition["y"] > name["y"]  # full width, under the name
    assert definition["x"] + definition["width"] <= 390
    assert "满意" in await row.locator("td.kpi-def").inner_text()
    size = await row.locator("td.kpi-def").evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert size >= 14
    await row.scroll_into_view_if_needed()
    await shot(page, "phone-390")
    await page.screenshot(path=str(shot.dir / "phone-390-viewport.png"))
    await phone.close()
