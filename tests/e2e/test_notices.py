"""村居公开 in a phone browser: a resident browses, searches, reads a masked table, asks a question and opens
the printable page; community staff draft with a table, the 居务监督委员会 approves, a correction keeps the
old version; the street sees overdue lights."""

from __future__ import annotations

import re

import pytest

from backend.notices.tables import Notice, NoticeQuestion
from tests.e2e.conftest import axe_violations, login_resident, login_staff, photo_file
from tests.support.factories import fresh_phone, unique
from tests.support.notices import published

pytestmark = pytest.mark.e2e

ROSTER = "姓名,身份证号,联系电话,住址,人数\n王某兰,140105195803122021,13912345678,海西小区3号楼2单元501,1\n"


async def test_resident_browses_searches_reads_asks_and_prints(phone, shot) -> None:
    from backend.notices.attachments import Upload

    word = unique("加装电梯")
    notice_id = await published(f"海西社区{word}项目公示", code="dibao", period="2026-Q3",
                                body="本季度低保对象如下，另含加装电梯补助。",
                                uploads=[Upload(ROSTER.encode(), "名单.csv")])
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/")
    await page.click("[data-testid=tile-notices]")
    await page.select_option("#community", label="柳巷街道 · 海西社区")
    async with page.expect_navigation():
        await page.click("form[role=search] button[type=submit]")
    assert await page.locator("[data-testid=community-name]").inner_text() == "海西社区"
    assert await page.locator("[data-testid=notice-item]").count() >= 1
    await shot(page, "board")
    assert await axe_violations(page) == []
    # Search in Chinese: the segmented word finds the notice.
    await page.fill("#q", "加装电梯")
    async with page.expect_navigation():
        await page.click("form[role=search] button[type=submit]")
    assert "加装电梯" in await page.locator("[data-testid=notice-results] h2").inner_text()
    async with page.expect_navigation():
        await page.click(f"a[href='/notices/{notice_id}']")
    await shot(page, "notice")
    table = page.locator("[data-testid=notice-table] table")
    text = await table.inner_text()
    assert "140105********2021" in text and "139****5678" in text and "海西小区**" in text
    assert "140105195803122021" not in await page.content() and "13912345678" not in await page.content()
    assert await table.locator("th[scope=col]").count() == 5
    assert await axe_violations(page) == []
    # Ask a question (published with the answer when agreed).
    await page.fill("#question", "公示期内如何提出异议？")
    async with page.expect_navigation():
        await page.click("[data-testid=ask]")
    assert "10 日内答复" in await page.locator("[data-testid=asked]").inner_text()
    assert "答复期限" in await page.locator("[data-testid=my-question]").inner_text()
    await shot(page, "asked")
    assert await NoticeQuestion.exists().where(NoticeQuestion.notice == notice_id)
    # The printable A4 page carries an SVG QR code to the notice's page.
    await page.goto(f"/notices/{notice_id}/print")
    await page.emulate_media(media="print")
    assert await page.locator("[data-testid=qr] svg").count() == 1
    assert not await page.locator(".topbar").is_visible()
    assert re.search(rf"/notices/{notice_id}$", await page.locator("[data-testid=print-sheet] small").last.inner_text())
    await shot(page, "print")


async def test_staff_draft_review_publish_and_correct(browser, live_server, shot, tmp_path) -> None:
    from tests.e2e.conftest import PHONE

    roster = tmp_path / "低保名单.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    title = unique("海西社区低保对象公示")
    staff_ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await staff_ctx.new_page()
    await login_staff(page, "haixi")
    await page.click("[data-testid=tile-notices]")
    await shot(page, "manage")
    async with page.expect_navigation():
        await page.click("[data-testid=new-notice]")
    await page.select_option("#type", label="低保及各类补贴对象（仅公示姓名）（每季度）")
    await page.select_option("#period", value="2026-Q3")
    await page.fill("#title", title)
    await page.fill("#body", "现将本季度低保对象公示如下。")
    await page.set_input_files("#files", str(roster))
    async with page.expect_navigation():
        await page.click("[data-testid=save]")
    assert await page.locator("[data-testid=saved]").is_visible()
    notice_id = (await Notice.select(Notice.id).where(Notice.title == title).first())["id"]
    # The ID column was guessed; the staff member unmarks it by mistake: submitting is refused, nothing changes.
    await page.select_option("select[name^=mark_][name$=_1]", value="")
    async with page.expect_navigation():
        await page.click("[data-testid=submit]")
    assert "身份证号" in await page.locator("[data-testid=form-error]").inner_text()
    await shot(page, "refused")
    await page.select_option("select[name^=mark_][name$=_1]", value="id")
    async with page.expect_navigation():
        await page.click("[data-testid=submit]")
    assert "待监委会审核" in await page.locator("[data-testid=draft-banner]").inner_text()
    await shot(page, "submitted")
    # Residents cannot see it yet.
    anon = await browser.new_context(base_url=live_server, **PHONE)
    anon_page = await anon.new_page()
    r = await anon_page.goto(f"/notices/{notice_id}")
    assert r.status == 404
    # The 居务监督委员会 reviews: sees the masked table, approves.
    jw_ctx = await browser.new_context(base_url=live_server, **PHONE)
    jw = await jw_ctx.new_page()
    await login_staff(jw, "haixi_jw")
    await jw.goto("/notices/manage")
    async with jw.expect_navigation():
        await jw.click(f"[data-testid=review-queue] a[href='/notices/{notice_id}/review']")
    assert "140105********2021" in await jw.locator("[data-testid=notice-table]").inner_text()
    assert await axe_violations(jw) == []
    await shot(jw, "review")
    async with jw.expect_navigation():
        await jw.click("[data-testid=approve]")
    r = await anon_page.goto(f"/notices/{notice_id}")
    assert r.status == 200 and await anon_page.locator("[data-testid=notice-title]").inner_text() == title
    # A correction: a new version, the old one kept and the change shown.
    await page.goto(f"/notices/{notice_id}")
    async with page.expect_navigation():
        await page.click("[data-testid=correct]")
    await page.fill("#body", "现将本季度低保对象公示如下。\n公示期 7 天。")
    await page.fill("#change_note", "补充公示期")
    async with page.expect_navigation():
        await page.click("[data-testid=submit]")
    async with jw.expect_navigation():
        await jw.goto(f"/notices/{notice_id}/review")
    async with jw.expect_navigation():
        await jw.click("[data-testid=approve]")
    await anon_page.goto(f"/notices/{notice_id}")
    correction = await anon_page.locator("[data-testid=correction]").inner_text()
    assert "补充公示期" in correction and "公示期 7 天" in await anon_page.locator("[data-testid=diff]").inner_text()
    await shot(anon_page, "corrected")
    assert await axe_violations(anon_page) == []
    await anon_page.goto(f"/notices/{notice_id}?v=1")
    assert await anon_page.locator("[data-testid=superseded]").is_visible()
    await shot(anon_page, "old-version")
    # The photo of the physical board, taken after posting the printed notice.
    await page.goto(f"/notices/{notice_id}")
    await page.set_input_files("#photo", str(photo_file(tmp_path, 800, 600)))
    async with page.expect_navigation():
        await page.click("form[action$='/board-photo'] button[type=submit]")
    await anon_page.goto(f"/notices/{notice_id}")
    assert await anon_page.locator("[data-testid=board-photos] img").count() == 1
    await shot(anon_page, "board-photo")
    for ctx in (staff_ctx, anon, jw_ctx):
        await ctx.close()


async def test_street_sees_overdue_notice_lights(phone, shot) -> None:
    page = await phone.new_page()
    await login_staff(page, "liuxiang")
    await page.click("[data-testid=tile-notice-board]")
    # The demo's sweep lit the communities that have not published last quarter's notices.
    assert await page.locator("[data-testid=duty-red]").count() >= 1
    assert "红灯" in await page.locator("[data-testid=overdue-count]").inner_text()
    await shot(page, "board")
    assert await axe_violations(page) == []
    await page.goto("/street/queue")
    assert "村居公开逾期" in await page.locator("[data-testid=street-notice-lights]").inner_text()


async def test_admin_keeps_the_catalogue(phone, shot) -> None:
    page = await phone.new_page()
    await login_staff(page, "admin")
    await page.goto("/admin")
    async with page.expect_navigation():
        await page.click("a[href='/admin/notice-types']")
    assert await page.locator("[data-testid=notice-type]").count() >= 8
    assert "低保及各类补贴对象" in await page.locator("main").inner_text()
    name = unique("村级公益事业项目")
    await page.fill("#new_name", name)
    await page.fill("#new_due_day", "40")  # bad: refused with the field marked, nothing added
    async with page.expect_navigation():
        await page.click("[data-testid=add-type]")
    assert "截止日须为 1 到 31" in await page.locator("[data-testid=form-error]").inner_text()
    assert await page.get_attribute("#new_due_day", "aria-invalid") == "true"
    await shot(page, "refused")
    await page.fill("#new_due_day", "15")
    await page.select_option("#new_cadence", value="monthly")
    async with page.expect_navigation():
        await page.click("[data-testid=add-type]")
    assert name in await page.locator("main").inner_text()
    await shot(page, "added")
    assert await axe_violations(page) == []
