"""What a person sees of the security hardening (issue 15): the demo-mode banner."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


async def test_demo_banner_is_visible_on_every_page(phone, shot) -> None:
    page = await phone.new_page()
    for path in ["/", "/login", "/wishes"]:
        await page.goto(path)
        banner = page.locator("[data-testid=demo-banner]")
        assert await banner.is_visible()
        assert "演示模式" in await banner.inner_text()
    await shot(page, "demo-banner")
    async with page.expect_navigation():
        await page.click("button[name=lang][value=en]")
    assert "Demo mode" in await page.locator("[data-testid=demo-banner]").inner_text()
    await shot(page, "demo-banner-en")
