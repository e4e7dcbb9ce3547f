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
