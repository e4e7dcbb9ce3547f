"""Policy consultation in a phone browser: browse and search the knowledge base, read an answer, say whether
it helped; on the report form, answers appear while typing and "这解答了我的问题" ends the consultation."""

from __future__ import annotations

import time

import pytest

from backend.knowledge import service
from backend.knowledge.tables import KbEntry, KbSearch
from backend.requests.tables import Request
from tests.e2e.conftest import axe_violations, login_resident, login_staff
from tests.support.factories import fresh_phone
from tests.support.knowledge import demo_id

pytestmark = pytest.mark.e2e


async def test_resident_browses_searches_and_rates_an_answer(phone, shot) -> None:
    page = await phone.new_page()
    await page.goto("/")
    async with page.expect_navigation():
        await page.click("[data-testid=tile-kb]")
    assert await page.locator("h1").inner_text() == "政策咨询"
    await shot(page, "kb-home")
    assert await axe_violations(page) == []
    async with page.expect_navigation():
        await page.click("[data-testid=kb-categories] a:has-text('社会救助')")
    assert "最低生活保障（低保）怎么申请？" in await page.locator("[data-testid=kb-list]").inner_text()
    await shot(page, "category")
    # search as residents type it
    await page.fill("#kb-q", "孩子上小学要啥材料")
    searches = await KbSearch.count()
    async with page.expect_response("**/kb/search/log") as logged:  # the page POSTs its record of the search
        async with page.expect_navigation():
            await page.click("form[role=search] button[type=submit]")
    assert (await logged.value).request.method == "POST" and await KbSearch.count() == searches + 1
    search_id = (await (await logged.value).json())["s"]
    first = page.locator("[data-testid=kb-hit]").first
    assert "孩子上小学怎么报名？要准备哪些材料？" in await first.inner_text()
    await page.wait_for_selector(f"[data-testid=kb-hit][href$='?s={search_id}']", state="attached")
    await shot(page, "search")
    assert await axe_violations(page) == []
    async with page.expect_navigation():
        await first.click()
    # the click was posted as the reader followed the link
    deadline = time.monotonic() + 10
    while (await KbSearch.select(KbSearch.clicked_entry).where(KbSearch.id == search_id).first())[
            "clicked_entry"] is None and time.monotonic() < deadline:
        await page.wait_for_timeout(100)
    row = await KbSearch.select(KbSearch.clicked_entry).where(KbSearch.id == search_id).first()
    assert row["clicked_entry"] == await demo_id("xiaoxue-ruxue")
    entry = page.locator("[data-testid=kb-entry]")
    text = await entry.inner_text()
    for label in ("去哪里办", "带什么材料", "办理时间", "费用", "负责部门", "政策依据"):
        assert label in text, label
    assert "演示内容" in text  # demo content says so
    share = await page.locator("[data-testid=kb-share]").inner_text()
    assert share.endswith(f"/kb/{await demo_id('xiaoxue-ruxue')}")
    await shot(page, "entry")
    assert await axe_violations(page) == []
    # printable: the print stylesheet leaves the answer and drops the navigation and the feedback form
    await page.emulate_media(media="print")
    assert not await page.locator(".topbar").is_visible()
    assert not await page.locator("[data-testid=kb-feedback]").is_visible()
    assert await entry.is_visible()
    await page.emulate_media(media="screen")
    before = (await service.get_entry(await demo_id("xiaoxue-ruxue")))["helpful_yes"]
    async with page.expect_navigation():
        await page.click("button[name=helpful][value='1']")
    assert "感谢您的反馈" in await page.locator("[data-testid=kb-thanks]").inner_text()
    await shot(page, "thanks")
    assert (await service.get_entry(await demo_id("xiaoxue-ruxue")))["helpful_yes"] == before + 1
    assert (await KbSearch.select(KbSearch.helpful).where(KbSearch.id == search_id).first())["helpful"] is True


async def test_no_answer_found_is_counted_for_the_command_center(phone, shot) -> None:
    page = await phone.new_page()
    question = f"火星护照办理{time.time_ns() % 100000}"
    await page.goto("/kb/search?q=" + question)
    await page.wait_for_selector("[data-kb-search-id]:not([value=''])", state="attached")  # the POSTed record
    button = page.locator("[data-testid=kb-unanswered] button")
    assert await button.inner_text() == "没有找到答案，向社区咨询"
    await shot(page, "no-answer")
    async with page.expect_navigation():
        await button.click()
    assert page.url.endswith("/report")
    gap = next(g for g in await service.gaps() if question[:6] in g["example"])
    assert gap["searches"] == 1  # one search, marked unanswered (not counted twice)
    staff = await phone.new_page()
    await login_staff(staff, "zhzx")
    await staff.goto("/kb/manage/gaps")
    assert question[:6] in await staff.locator("[data-testid=kb-gaps]").inner_text()
    await shot(staff, "gaps")


async def test_outdated_entry_is_marked_for_readers(phone, shot) -> None:
    page = await phone.new_page()
    await page.goto(f"/kb/{await demo_id('dibao-standard')}")
    assert "可能已过时" in await page.locator("[data-testid=kb-outdated]").inner_text()
    await shot(page, "outdated")


async def test_report_form_suggests_answers_while_typing_and_records_self_served(phone, shot) -> None:
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    requests_before, served_before = await Request.count(), await service.self_served_count()
    searched: list[str] = []
    page.on("request", lambda r: searched.append(r.url) if "/kb/suggest" in r.url else None)
    await page.locator("#description").press_sequentially("楼下饭店油烟太大", delay=60)
    last_key = time.monotonic()
    suggestion = page.locator("[data-testid=kb-suggestion]").first
    await suggestion.wait_for(state="visible")
    shown_ms = (time.monotonic() - last_key) * 1000
    assert "楼下饭店油烟太大，油烟扰民怎么投诉？" in await suggestion.inner_text()
    # debounced: one request per pause, not one per character (8 characters were typed)
    assert 1 <= len(searched) < 8, searched
    print(f"suggestion shown {shown_ms:.0f} ms after the last keystroke (100 ms of it is the debounce)")
    assert shown_ms < 1000  # the goal is 150 ms; a shared test machine gets slack, the figure is printed
    await shot(page, "suggestions")
    assert await axe_violations(page) == []
    await page.click("[data-testid=kb-self-served]")
    await page.wait_for_url(f"**/kb/{await demo_id('youyan-raomin')}?served=1")
    assert "解决了您的问题" in await page.locator("[data-testid=kb-served]").inner_text()
    await shot(page, "self-served")
    assert await service.self_served_count() == served_before + 1
    assert await Request.count() == requests_before  # a self-served consultation is never a request


async def test_report_form_without_a_match_shows_nothing_and_submits_as_before(phone) -> None:
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    await page.locator("#description").press_sequentially("窗外的树枝挡住了路灯", delay=30)
    await page.wait_for_timeout(900)
    assert await page.locator("[data-testid=kb-suggestion]").count() <= 3
    assert await page.locator("#report button[type=submit]").is_enabled()


async def test_handler_answers_a_consultation_from_the_knowledge_base(phone, shot) -> None:
    from backend.requests import service as requests_service
    from backend.requests.service import NewRequest
    from backend.routing.tables import Category
    from tests.support.people import resident, unit

    reporter = await resident(fresh_phone())
    cat = await Category.objects().where(Category.code == "policy").first()
    req, _ = await requests_service.submit(NewRequest(
        kind="consultation", category_id=cat.id, description="我家老人85岁了，高龄津贴怎么领？",
        community_id=(await unit("LX-1")).id), reporter)
    from backend.accounts.tables import Account

    # whoever the routing made responsible for it answers (the grid worker, or the community when other tests
    # changed the handling matrix)
    row = await Request.select(Request.current_person).where(Request.id == req.id).first()
    handler = await Account.select(Account.username).where(Account.id == row["current_person"]).first()
    page = await phone.new_page()
    await login_staff(page, handler["username"] if handler and handler["username"] else "haixi")
    await page.goto(f"/staff/requests/{req.id}")
    if await page.locator("[data-testid=form-accept] button").count():
        async with page.expect_navigation():
            await page.click("[data-testid=form-accept] button")
    await page.fill("#kb-lookup-q", "高龄津贴")
    await page.click("[data-testid=kb-handler] button[type=submit]")
    use = page.locator("[data-testid=kb-use]").first
    await use.wait_for(state="visible")
    await shot(page, "lookup")
    async with page.expect_navigation():
        await use.click()
    answer = await page.locator("#note-answer").input_value()
    entry_id = await demo_id("gaoling-jintie")
    assert "年满80周岁" in answer and f"/kb/{entry_id}" in answer  # the answer cites the entry
    await shot(page, "answer-filled")
    async with page.expect_navigation():
        await page.click("[data-testid=form-answer] button[type=submit]")
    assert "年满80周岁" in await page.locator("#request").inner_text()
    # the answer can become a draft entry for review
    before = await KbEntry.count()
    async with page.expect_navigation():
        await page.click("[data-testid=kb-save-answer]")
    assert await KbEntry.count() == before + 1
    assert "高龄津贴怎么领" in await page.locator("#f-title").input_value()
    await shot(page, "draft-from-answer")


async def test_staff_write_head_reviews_and_readers_see_it(browser, live_server, shot) -> None:
    from tests.e2e.conftest import PHONE
    from tests.support.factories import unique

    title = unique("社区活动室开放时间 ")
    writer = await browser.new_context(base_url=live_server, **PHONE)
    page = await writer.new_page()
    await login_staff(page, "haixi")
    await page.goto("/staff")
    async with page.expect_navigation():
        await page.click("[data-testid=tile-kb]")
    async with page.expect_navigation():
        await page.click("a:has-text('新建解答')")
    # a missing answer is marked, nothing is stored
    await page.fill("#f-title", title)
    async with page.expect_navigation():
        await page.click("button[value=submit]")
    assert "请填写解答" in await page.locator("[data-testid=error-answer]").inner_text()
    await shot(page, "form-error")
    await page.fill("#f-answer", "每天上午九点到晚上八点开放，节假日照常。")
    await page.fill("#f-where_to_go", "海西社区党群服务中心二楼")
    async with page.expect_navigation():
        await page.click("button[value=submit]")
    assert "待审核" in await page.locator("[data-testid=kb-version]").first.inner_text()
    await shot(page, "submitted")
    entry_url = page.url
    await writer.close()

    head = await browser.new_context(base_url=live_server, **PHONE)
    page = await head.new_page()
    await login_staff(page, "haixi_head")
    await page.goto("/kb/manage")
    assert title in await page.locator("[data-testid=kb-queue]").inner_text()
    await page.goto(entry_url)
    async with page.expect_navigation():
        await page.click("[data-testid=kb-review-form] button[value=approve]")
    assert "已发布" in await page.locator("[data-testid=kb-status]").inner_text()
    await shot(page, "published")
    await head.close()

    reader = await browser.new_context(base_url=live_server, **PHONE)
    page = await reader.new_page()
    await page.goto("/kb/search?q=" + "社区活动室开放时间")
    async with page.expect_navigation():
        await page.locator("[data-testid=kb-hit]", has_text=title).click()
    text = await page.locator("[data-testid=kb-entry]").inner_text()
    assert "每天上午九点到晚上八点开放" in text and "海西社区党群服务中心二楼" in text
    assert "海西社区" not in text.replace("海西社区党群服务中心二楼", "")  # the owner unit is not shown
    await shot(page, "reader")
    await reader.close()
