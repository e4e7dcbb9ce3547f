"""Open311 in the browser: the admin issues a key (shown once), sees its calls, disables it; the admin adds a
category question; a resident on a phone answers the chosen category's questions and staff see the answers."""

from __future__ import annotations

import re

import httpx
import pytest

from backend.requests.tables import Request
from tests.e2e.conftest import axe_violations, login_resident, login_staff
from tests.support.factories import fresh_phone, unique

pytestmark = pytest.mark.e2e


async def test_admin_issues_a_key_once_sees_its_calls_and_disables_it(phone, shot, live_server) -> None:
    page = await phone.new_page()
    await login_staff(page, "admin")
    await page.goto("/admin")
    await page.click("text=Open311 接口客户端")
    await page.wait_for_url(re.compile(r"/admin/open311"))
    # An empty name is marked and nothing is created.
    await page.fill("#rate_limit", "abc")
    await page.click("button:has-text('创建并生成 key')")
    assert await page.locator("[data-testid=error-name]").is_visible()
    assert await page.locator("[data-testid=error-rate_limit]").is_visible()
    await shot(page, "errors")
    name = unique("12345热线")
    await page.fill("#name", name)
    await page.fill("#contact", "热线中心 0351-12345")
    await page.fill("#rate_limit", "30")
    await page.check("[data-testid=new-client] input[name=services][value=animals]")
    await page.fill("#acts_as", "haixi")
    await page.click("button:has-text('创建并生成 key')")
    key = (await page.locator("[data-testid=key-value]").inner_text()).strip()
    assert key.startswith("o311_") and "只显示这一次" in await page.locator("[data-testid=new-key]").inner_text()
    await shot(page, "key-shown-once")
    assert await axe_violations(page) == []

    # The key works; the call is listed with the client's name.
    async with httpx.AsyncClient(base_url=live_server) as api:
        r = await api.get("/open311/v2/services.json", params={"api_key": key})
        assert r.status_code == 200
    await page.goto("/admin/open311")
    assert await page.locator("[data-testid=new-key]").count() == 0  # never shown again
    card = page.locator(f"[data-testid=client][data-name='{name}']")
    text = await card.inner_text()
    assert key[:12] in text and "每分钟 30 次" in text and "animals" in text and "haixi" in text
    calls = await page.locator("[data-testid=calls]").inner_text()
    assert name in calls and "GET /open311/v2/services.json" in calls
    await shot(page, "client-and-calls")

    # Settings can change later (not the key): a bad limit is marked, a good one saved.
    await card.locator("summary:has-text('修改设置')").click()
    edit = card.locator("[data-testid=edit-client]")
    await edit.locator("input[name=rate_limit]").fill("0")
    await edit.locator("button:has-text('保存')").click()
    card = page.locator(f"[data-testid=client][data-name='{name}']")
    assert "每分钟调用上限应为 1 到 10000" in await card.locator(".field-error").inner_text()
    await card.locator("[data-testid=edit-client] input[name=rate_limit]").fill("45")
    await card.locator("[data-testid=edit-client] button:has-text('保存')").click()
    await page.wait_for_url(re.compile(r"/admin/open311$"))
    assert "每分钟 45 次" in await page.locator(f"[data-testid=client][data-name='{name}']").inner_text()

    # Disabled: the API refuses the key at once.
    await card.locator("button:has-text('停用')").click()
    await page.wait_for_url(re.compile(r"/admin/open311$"))
    assert await page.locator(f"[data-testid=client][data-name='{name}'] [data-testid=disabled]").is_visible()
    async with httpx.AsyncClient(base_url=live_server) as api:
        r = await api.get("/open311/v2/services.json", params={"api_key": key})
        assert r.status_code == 403 and r.json()[0]["code"] == 403
    await shot(page, "disabled")


async def test_admin_adds_a_category_question(phone, shot) -> None:
    page = await phone.new_page()
    await login_staff(page, "admin")
    await page.goto("/admin/categories")
    await page.locator("[data-testid=category-rule][data-code=street_light] [data-testid=attributes-link]").click()
    await page.wait_for_url(re.compile(r"/admin/categories/\d+/attributes"))
    await page.select_option("#datatype", "singlevaluelist")
    await page.click("button:has-text('添加')")
    for field in ("description", "code", "values"):
        assert await page.locator(f"[data-testid=error-{field}]").is_visible(), field
    code = unique("lamp_")
    await page.fill("#description", "灯是怎么坏的？")
    await page.fill("#code", code)
    await page.fill("#values", "dark=完全不亮=Not lit\nflicker=闪烁=Flickering")
    await page.click("button:has-text('添加')")
    item = page.locator(f"[data-testid=attribute][data-code='{code}']")
    assert "灯是怎么坏的？" in await item.inner_text() and "flicker=闪烁" in await item.inner_text()
    await shot(page, "question-added")
    assert await axe_violations(page) == []
    await item.locator("button:has-text('删除')").click()
    await page.wait_for_url(re.compile(r"/attributes$"))
    assert await page.locator(f"[data-testid=attribute][data-code='{code}']").count() == 0


async def test_resident_answers_the_chosen_category_questions(phone, shot) -> None:
    page = await phone.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    box = page.locator("[data-testid^=attributes-]")
    assert await box.count() >= 1 and not await box.first.is_visible()  # no category chosen yet: no questions
    await page.check("input[name=kind][value=complaint]")
    await page.locator("label.tile:has-text('饲养动物')").click()
    questions = page.locator("[data-testid^=attributes-]:visible")
    assert await questions.count() == 1 and "饲养的是什么动物？" in await questions.inner_text()
    description = unique("楼顶养了几十只鸽子 ")
    await page.fill("#description", description)
    await page.select_option("#community", label="海西社区")
    await page.locator("label:has-text('粪便污染')").click()
    await shot(page, "questions")
    await page.click("#report button[type=submit]")
    # The required question unanswered: the form comes back with it marked, the ticked box still ticked.
    error = page.locator("[data-testid$='-animal'].field-error")
    await error.wait_for()
    assert "请填写「饲养的是什么动物？」" in await error.inner_text()
    assert await page.locator("label:has-text('粪便污染') input").is_checked()
    await shot(page, "question-marked")
    await page.locator("label:has-text('鸽子') input").check()
    await page.fill("input[name$='-place']", "3号楼楼顶")
    await page.click("#report button[type=submit]")
    await page.wait_for_url(re.compile(r"/report/done/"))
    req = await Request.objects().where(Request.description == description).output(load_json=True).first()
    assert req.attributes == {"animal": "pigeon", "effects": ["droppings"], "place": "3号楼楼顶"}
    await page.goto(f"/r/{req.code}")
    answers = await page.locator("[data-testid=attribute-answers]").inner_text()
    assert "鸽子" in answers and "粪便污染" in answers and "3号楼楼顶" in answers
    await shot(page, "answers-shown")
    assert await axe_violations(page) == []
