"""Every action ends with a visible confirmation (issue 16): wish actions, a unit head's written explanation
of a red light, and the admin's saves. Each is asserted on the page the person lands on."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.accounts.tables import Account
from backend.db import utcnow
from backend.lights import service as lights
from backend.lights.tables import Explanation
from backend.wishes import service as wishes
from tests.e2e.conftest import PHONE, login_resident, login_staff
from tests.support.factories import fresh_phone, unique
from tests.support.lights import new_request
from tests.support.people import unit
from tests.support.wishes import party_member, resident_viewer, wish_input

pytestmark = pytest.mark.e2e


async def flash(page) -> str:
    return await page.locator("[data-testid=flash]").inner_text()


async def test_wish_actions_end_with_a_confirmation(browser, live_server, shot) -> None:
    number, member_phone = fresh_phone(), fresh_phone()
    author = await resident_viewer(number)
    await party_member(member_phone)
    wish_id = await wishes.create_wish(author, wish_input((await unit("LX-1")).id, title=unique("一副老花镜 ")),
                                       submit=False)
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_resident(page, number)
    await page.goto(f"/wishes/{wish_id}")
    async with page.expect_navigation():
        await page.click("[data-testid=submit-for-verification]")
    assert await flash(page) == "已提交社区核实"
    await shot(page, "submitted")
    await ctx.close()

    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_staff(page, "haixi")
    await page.goto(f"/wishes/{wish_id}")
    async with page.expect_navigation():
        await page.click("[data-testid=approve]")
    assert await flash(page) == "已核实通过，心愿已发布到心愿墙"
    await shot(page, "approved")
    await ctx.close()

    ctx = await browser.new_context(base_url=live_server, **PHONE)
    page = await ctx.new_page()
    await login_resident(page, member_phone)
    await page.goto(f"/wishes/{wish_id}")
    async with page.expect_navigation():
        await page.click("[data-testid=claim]")
    assert await flash(page) == "认领成功！请尽快联系受助人"
    await shot(page, "claimed")
    await page.fill("#contact-note", "已电话联系，周六送到")
    async with page.expect_navigation():
        await page.click("form[action$='/contact'] button[type=submit]")
    assert await flash(page) == "联系情况已记录"
    await page.reload()  # shown once
    assert await page.locator("[data-testid=flash]").count() == 0
    await ctx.close()


async def test_unit_head_submits_an_explanation_and_sees_it_confirmed(phone, shot) -> None:
    req = await new_request(timedelta(hours=49))  # 海西社区's accept clock went red
    await lights.sweep()
    ex = await Explanation.select().where(Explanation.request == req.id).first()
    page = await phone.new_page()
    await login_staff(page, "haixi_head")
    await page.goto(f"/lights/explanations/{ex['id']}")
    await page.fill("#x-reason", "近期同类诉求集中，人手不足")
    await page.fill("#x-measures", "已安排专人跟进")
    promised = (utcnow() + timedelta(days=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    await page.fill("#x-promised", promised)
    async with page.expect_navigation():
        await page.click("form[action$='/submit'] button[type=submit]")
    assert await flash(page) == "书面说明已提交，等待指挥中心审核"
    await shot(page, "explanation-submitted")
    assert (await Explanation.select(Explanation.status).where(Explanation.id == ex["id"]).first())["status"] != "open"
    # The command center reviews it: confirmed too.
    await login_staff(page, "zhzx")
    await page.goto(f"/lights/explanations/{ex['id']}")
    async with page.expect_navigation():
        await page.click("form[action$='/review'] button[value=accept]")
    assert await flash(page) == "审核意见已保存"


async def test_admin_saves_are_confirmed(phone, shot) -> None:
    page = await phone.new_page()
    await login_staff(page, "admin")
    await page.goto("/admin/accounts?q=nobody-by-this-name")  # the full list is long: the form is on every view
    await page.click("details.form-box > summary")
    username = unique("clerk").replace(" ", "").lower()[:30]
    await page.fill("#a-username", username)
    await page.fill("#a-name", "测试科员")
    await page.fill("#a-password", "a-long-password-1")
    await page.select_option("#a-role", "community_staff")  # the role list's values were "Role.x" (refused)
    async with page.expect_navigation():
        await page.click("form[action='/admin/accounts'] button[type=submit]")
    assert await flash(page) == "工作人员账号已创建"
    assert username in await page.locator("main").inner_text()  # the list shows the new account
    await shot(page, "account-created")
    assert await Account.exists().where(Account.username == username)
    # The party-member verification (and back, so the demo resident stays what she was).
    acc = await Account.select(Account.id, Account.is_party_member).where(Account.phone == "13800000001").first()
    toggle = page.locator(f"form[action='/admin/party-members/{acc['id']}'] button[type=submit]").first
    expected = ["已取消党员认定", "已认定为党员"] if acc["is_party_member"] else ["已认定为党员", "已取消党员认定"]
    for message in expected:
        await page.goto("/admin/party-members?phone=13800000001")
        async with page.expect_navigation():
            await toggle.click()
        assert await flash(page) == message
    await shot(page, "party-member")
    after = await Account.select(Account.is_party_member).where(Account.id == acc["id"]).first()
    assert after["is_party_member"] == acc["is_party_member"]
