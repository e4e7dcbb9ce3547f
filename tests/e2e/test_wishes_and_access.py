"""A party member claims a micro-wish; elder-friendly mode; axe-core on the resident, field and wish pages."""

from __future__ import annotations

import pytest

from backend.wishes.tables import Wish
from tests.e2e.conftest import axe_violations, login_resident, login_staff
from tests.support.factories import fresh_phone
from tests.support.wishes import party_member, published_wish

pytestmark = pytest.mark.e2e


async def test_party_member_claims_a_wish(phone, shot) -> None:
    wish_id = await published_wish()
    number = fresh_phone()
    await party_member(number)
    page = await phone.new_page()
    await login_resident(page, number)
    await page.goto("/wishes")
    await shot(page, "board")
    assert await axe_violations(page) == []
    await page.goto(f"/wishes/{wish_id}")
    assert await axe_violations(page) == []
    await shot(page, "wish")
    async with page.expect_navigation():
        await page.click("[data-testid=claim]")
    await shot(page, "claimed")
    row = await Wish.select(Wish.status).where(Wish.id == wish_id).first()
    assert row["status"] == "claimed"
    assert await axe_violations(page) == []


async def test_elder_mode_larger_text_and_targets(phone, shot) -> None:
    page = await phone.new_page()
    await page.goto("/")
    normal = await page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    async with page.expect_navigation():
        await page.click("button[name=elder][value='1']")
    await shot(page, "elder-home")
    assert await page.evaluate("document.documentElement.classList.contains('elder')")
    big = await page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert big >= 1.25 * normal
    # Every button and link in the page body is at least 48 px tall (WCAG 2.5.8 asks 24; we promise 48).
    small = await page.evaluate("""() => [...document.querySelectorAll('main a, main button, footer button, .topbar a')]
        .filter(e => e.offsetParent !== null)
        .map(e => [e.textContent.trim(), e.getBoundingClientRect().height])
        .filter(([, h]) => h < 48)""")
    assert small == []
    assert await axe_violations(page) == []
    # Remembered: a new page in the same browser is still in elder mode.
    await page.goto("/report")
    assert await page.evaluate("document.documentElement.classList.contains('elder')")
    await shot(page, "elder-report")
    assert await axe_violations(page) == []


RESIDENT_PAGES = ["/", "/report", "/my", "/notifications", "/offline", "/public", "/wishes", "/login"]


async def test_resident_pages_have_no_serious_axe_violations(phone, shot) -> None:
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    found = {}
    for path in RESIDENT_PAGES:
        r = await page.goto(path)
        assert r is not None and r.status == 200, path
        await shot(page, path.strip("/").replace("/", "-") or "home")
        v = await axe_violations(page)
        if v:
            found[path] = v
    assert found == {}


async def test_staff_field_and_inbox_have_no_serious_axe_violations(phone, shot) -> None:
    page = await phone.new_page()
    await login_staff(page, "wg_lx_1_1")
    found = {}
    for path in ["/staff", "/staff/field", "/staff/inbox", "/notifications"]:
        r = await page.goto(path)
        assert r is not None and r.status == 200, path
        await shot(page, path.strip("/").replace("/", "-") or "home")
        v = await axe_violations(page)
        if v:
            found[path] = v
    assert found == {}


async def test_keyboard_reaches_the_report_form(phone) -> None:
    page = await phone.new_page()
    await page.goto("/")
    await page.keyboard.press("Tab")  # the skip link comes first
    assert await page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    focusable = []
    for _ in range(8):
        await page.keyboard.press("Tab")
        focusable.append(await page.evaluate("document.activeElement.getAttribute('href')"))
    assert "/report" in focusable
