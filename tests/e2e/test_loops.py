"""The seed's two loops as their users see them (issue 16): the resident is told when the request is
done and rates it, the rating shows; handlers see each request's red/yellow light where they work,
sorted red, yellow, oldest, with the time to the next light; light events read as sentences;
internal notes stay with the staff; every action ends with a visible confirmation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

import backend.notify.hooks  # noqa: F401  (as in the app: transitions notify people)
from backend.db import utcnow
from backend.lights import flips as lights
from backend.requests import service
from backend.requests.service import NewRequest
from backend.requests.tables import Request
from backend.routing.tables import Category
from tests.e2e.conftest import axe_violations, login_resident, login_staff
from tests.support.factories import fresh_phone, unique
from tests.support.people import resident, staff, unit

pytestmark = pytest.mark.e2e


async def new_request(text: str, reporter=None, *, hours_ago: float = 0, category: str = "garbage",
                      community: str = "LX-1") -> Request:
    cat = await Category.objects().where(Category.code == category).first()
    req, _ = await service.submit(
        NewRequest(kind="help", category_id=cat.id, description=text, community_id=(await unit(community)).id),
        reporter or await resident(), now=utcnow() - timedelta(hours=hours_ago))
    return req


async def labels(page) -> list[str]:
    return [t.strip() for t in await page.locator("[data-testid=event-label]").all_inner_texts()]


async def test_resident_is_told_when_done_rates_and_sees_the_rating(browser, live_server, shot) -> None:
    from tests.e2e.conftest import PHONE

    number = fresh_phone()
    me = await resident(number)
    req = await new_request(unique("楼道灯坏了 "), me)
    # The grid worker accepts and resolves on the request page: each action ends with a confirmation.
    worker_ctx = await browser.new_context(base_url=live_server, **PHONE)
    w = await worker_ctx.new_page()
    await login_staff(w, "wg_lx_1_1")
    await w.goto(f"/staff/requests/{req.id}")
    await shot(w, "worker-request")
    async with w.expect_navigation():
        await w.click(f"form[action='/staff/requests/{req.id}/accept'] button[type=submit]")
    assert f"已受理 {req.code}" in await w.locator("[data-testid=flash]").inner_text()
    await w.locator("[data-testid=form-resolve]").evaluate("f => f.closest('details').open = true")
    await w.fill("#note-resolve", "已更换楼道灯泡，恢复照明")
    async with w.expect_navigation():
        await w.click("[data-testid=form-resolve] button[type=submit]")
    assert "已通知居民评价" in await w.locator("[data-testid=flash]").inner_text()
    await shot(w, "worker-resolved")

    # The resident is told at once: the notice names the request, carries the result and asks for a rating.
    res_ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await res_ctx.new_page()
    await login_resident(page, number)
    await page.goto("/notifications")
    note = page.locator("[data-testid=notification]").first
    assert f"您的诉求 {req.code} 已办结，请评价" in await note.inner_text()
    assert "已更换楼道灯泡，恢复照明" in await note.inner_text()
    assert await note.locator("[data-testid=rate-link]").inner_text() == "请评价"
    await shot(page, "resident-notice")
    async with page.expect_navigation():
        await note.click()
    assert page.url.endswith(f"/r/{req.code}#rate")
    await page.locator("[data-testid=rating-prompt]").wait_for()

    # Dissatisfied: thanked, the rating shows with its comment, the request is back with the same unit.
    await page.check("[data-testid=rating-prompt] input[value=dissatisfied]")
    await page.fill("#rate-comment", "灯泡又坏了，请再看看")
    async with page.expect_navigation():
        await page.click("[data-testid=rating-prompt] button[type=submit]")
    assert "感谢您的评价" in await page.locator("[data-testid=flash]").inner_text()
    given = page.locator("[data-testid=my-rating]")
    assert "您的评价：不满意" in re.sub(r"\s+", "", await given.inner_text())
    assert "灯泡又坏了，请再看看" in await given.inner_text()
    reopened = await given.locator("[data-testid=reopened]").inner_text()
    assert "已退回重新办理，现由 海西社区 负责" in reopened and "韩鹏" in reopened
    steps = await labels(page)
    assert steps.index("居民评价：不满意") < steps.index("重新办理")
    timeline = await page.locator("[data-testid=timeline]").inner_text()
    assert timeline.count("灯泡又坏了，请再看看") == 1  # the comment once, on the rating
    await shot(page, "resident-dissatisfied")
    assert await axe_violations(page) == []

    # Staff see the rating on the request.
    await w.goto(f"/staff/requests/{req.id}")
    staff_rating = w.locator("[data-testid=my-rating]")
    assert "居民评价：不满意" in re.sub(r"\s+", "", await staff_rating.inner_text())
    assert "灯泡又坏了，请再看看" in await staff_rating.inner_text()
    await shot(w, "worker-sees-rating")

    # Resolved again and rated satisfied: "您的评价：满意" with the comment.
    worker = await staff("wg_lx_1_1")
    row = await Request.select(Request.version).where(Request.id == req.id).first()
    await service.transition(req.id, "accept", worker, row["version"])
    await service.transition(req.id, "resolve", worker, row["version"] + 1, note="重新更换了灯座")
    await page.goto(f"/r/{req.code}")
    await page.check("[data-testid=rating-prompt] input[value=satisfied]")
    await page.fill("#rate-comment", "很快，谢谢")
    async with page.expect_navigation():
        await page.click("[data-testid=rating-prompt] button[type=submit]")
    assert "感谢您的评价！" in await page.locator("[data-testid=flash]").inner_text()
    last = page.locator("[data-testid=rating]").last
    assert "您的评价：满意" in re.sub(r"\s+", "", await last.inner_text())
    assert "很快，谢谢" in await last.inner_text()
    steps = await labels(page)
    assert steps.index("居民评价：满意") < len(steps) - 1 and steps[-1] == "结案"
    await shot(page, "resident-satisfied")
    await worker_ctx.close()
    await res_ctx.close()


async def test_handlers_see_lights_sorted_with_time_left(phone, shot) -> None:
    red = await new_request(unique("红灯：井盖丢了 "), hours_ago=50)
    yellow = await new_request(unique("黄灯：垃圾没清 "), hours_ago=30)
    calm = await new_request(unique("未亮灯：垃圾桶坏 "), hours_ago=20.5)
    await lights.sweep()  # what the worker's minute sweep does: the lights flip and their events are written
    page = await phone.new_page()
    await login_staff(page, "wg_lx_1_1")
    await page.goto("/staff/inbox")
    codes = await page.locator("[data-testid=inbox-item]").evaluate_all("els => els.map(e => e.dataset.code)")
    assert codes.index(red.code) < codes.index(yellow.code) < codes.index(calm.code)

    def item(code: str):
        return page.locator(f"[data-testid=inbox-item][data-code='{code}']")

    assert await item(red.code).locator("[data-testid=light-badge]").inner_text() == "● 红灯"
    assert await item(yellow.code).locator("[data-testid=light-badge]").inner_text() == "● 黄灯"
    assert await item(yellow.code).locator("[data-testid=light-countdown]").inner_text() == "17 小时后亮红灯"
    assert await item(calm.code).locator("[data-testid=light-badge]").inner_text() == "未亮灯"
    assert await item(calm.code).locator("[data-testid=light-countdown]").inner_text() == "3 小时后亮黄灯"
    await item(red.code).scroll_into_view_if_needed()
    await shot(page, "inbox-lights")

    # Field mode: the same lights, the same order.
    await page.goto("/staff/field")
    tasks = await page.locator("[data-testid=field-task]").evaluate_all("els => els.map(e => e.dataset.code)")
    assert tasks.index(red.code) < tasks.index(yellow.code) < tasks.index(calm.code)
    field_red = page.locator(f"[data-testid=field-task][data-code='{red.code}']")
    assert "红灯" in await field_red.locator("[data-testid=light]").inner_text()
    await shot(page, "field-lights")
    # A field action ends with a confirmation on the task list.
    async with page.expect_navigation(url="**/staff/field"):
        await field_red.locator("[data-testid=field-accept]").click()
    assert f"已受理 {red.code}" in await page.locator("[data-testid=flash]").inner_text()
    await shot(page, "field-accepted")

    # The request page: the current light and its deadline at the top; light events as sentences.
    await page.goto(f"/staff/requests/{yellow.id}")
    top = page.locator("[data-testid=request-light]")
    text = re.sub(r"\s+", "", await top.inner_text())
    assert "红黄灯：黄灯（超过受理时限）" in text and "红灯期限：" in text and "17小时后亮红灯" in text
    steps = await labels(page)
    assert "超过 24 小时未受理，亮黄灯" in steps
    assert "light" not in await page.locator("[data-testid=timeline]").inner_text()
    await shot(page, "request-yellow")
    await page.goto(f"/staff/requests/{red.id}")
    steps = await labels(page)
    assert "超过 24 小时未受理，亮黄灯" in steps and "超过 48 小时未受理，亮红灯" in steps
    # Accepted: the accept clock stopped, its lights are history; the resolve clock runs (120 h to yellow).
    top = page.locator("[data-testid=request-light]")
    assert await top.get_attribute("data-light") == "none"
    assert "2 天后亮黄灯" in await top.inner_text()


async def test_street_and_command_center_queues_show_lights_and_internal_notes_stay_internal(
        browser, live_server, shot) -> None:
    from tests.e2e.conftest import PHONE

    number = fresh_phone()
    me = await resident(number)
    now = utcnow()
    # Escalated to the street 55 hours ago (red there), and another 26 hours ago (yellow there).
    worker, street = await staff("wg_lx_1_1"), await staff("liuxiang")
    red = await new_request(unique("街道红灯：垃圾堆放 "), me, hours_ago=60)
    await service.transition(red.id, "escalate", worker, 1, note="内部：社区无清运车辆", now=now - timedelta(hours=55))
    yellow = await new_request(unique("街道黄灯：垃圾堆放 "), hours_ago=30)
    await service.transition(yellow.id, "escalate", worker, 1, note="需街道协调", now=now - timedelta(hours=26))
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_staff(page, "liuxiang")
    await page.goto("/street/queue")
    await shot(page, "street-queue-top")
    codes = await page.locator("[data-testid=queue-item]").evaluate_all("els => els.map(e => e.dataset.code)")
    assert codes.index(red.code) < codes.index(yellow.code)
    row = page.locator(f"[data-testid=queue-item][data-code='{red.code}']")
    assert "红灯" in await row.locator("[data-testid=light-badge]").inner_text()
    await row.scroll_into_view_if_needed()
    await shot(page, "street-queue")
    await ctx.close()

    # The street sends the red one on to the command center; the dispatcher sees it with its light.
    await service.transition(red.id, "escalate", street, 2, note="内部：需多部门", now=now - timedelta(hours=25.5))
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_staff(page, "zhzx")
    await page.goto("/cc/queue")
    await shot(page, "cc-queue-top")
    row = page.locator(f"[data-testid=queue-item][data-code='{red.code}']")
    assert "黄灯" in await row.locator("[data-testid=light-badge]").inner_text()
    assert "22 小时后亮红灯" in await row.locator("[data-testid=light-countdown]").inner_text()
    await shot(page, "cc-queue")
    await page.goto(f"/cc/requests/{red.id}/dispatch")
    assert await page.locator("[data-testid=request-light]").get_attribute("data-light") == "yellow"
    hwk = (await unit("CGJ-HWK")).id
    await page.check(f"input[name=lead_unit_id][value='{hwk}']")
    await page.uncheck(f"input[name=assist_unit_ids][value='{hwk}']")  # offered as assisting by duty
    await page.fill("#d-note", "内部：请环卫科三日内清运")
    async with page.expect_navigation():
        await page.click("form[action$='/dispatch'] button[type=submit]")
    await shot(page, "dispatched")
    assert f"已派单：{red.code} 由 环卫科 主办" in await page.locator("[data-testid=flash]").inner_text()
    await ctx.close()

    # The resident sees every hand-off and who has it now, not the staff's reasons and instructions.
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_resident(page, number)
    await page.goto(f"/r/{red.code}")
    timeline = await page.locator("[data-testid=timeline]").inner_text()
    assert "上报" in timeline and "主办：区城管局环卫科" in timeline
    for secret in ("社区无清运车辆", "需多部门", "三日内清运"):
        assert secret not in timeline
    await shot(page, "resident-handoffs")
    await ctx.close()
