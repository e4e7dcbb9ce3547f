"""Party-member learning in a phone browser: a member practises and takes a competition against the
clock; the organisation department imports questions and creates a competition."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.learning.tables import Attempt, Competition
from tests.e2e.conftest import axe_violations, login_resident, login_staff
from tests.support.factories import unique
from tests.support.learning import member, row, running_competition, xlsx

pytestmark = pytest.mark.e2e


async def test_member_practises_and_takes_a_competition(phone, shot) -> None:
    cid, _t0 = await running_competition(n=3, seconds=60)
    viewer = await member(branch="LX-1")
    page = await phone.new_page()
    await login_resident(page, viewer.phone)
    await page.goto("/")
    await page.click("[data-testid=tile-learning]")
    await page.wait_for_url("**/learning")
    assert "海西社区" in await page.locator("[data-testid=branch]").inner_text()
    await shot(page, "hub")
    assert await axe_violations(page) == []
    # Daily practice: answer, then the right answer and its explanation are shown.
    await page.goto("/learning/practice")
    if await page.locator(".answer-choice").count():
        await page.locator(".answer-choice").first.click()
    else:
        await page.fill("#answer", "不知道")
    await shot(page, "practice-question")
    async with page.expect_navigation():
        await page.click("button:has-text('提交答案')")
    result = page.locator("[data-testid=practice-result]")
    assert "正确答案" in await result.inner_text()
    await shot(page, "practice-result")
    # The competition: start, the timer counts down, answer three questions (the right option reads 对的).
    await page.goto(f"/learning/competitions/{cid}")
    async with page.expect_navigation():
        await page.click("[data-testid=start]")
    for n in (1, 2, 3):
        assert await page.locator("[data-testid=progress]").inner_text() == f"第 {n} / 3 题"
        first = int(await page.locator("[data-timer-value]").inner_text())
        assert 50 <= first <= 60
        if n == 1:
            await page.wait_for_timeout(1600)
            assert int(await page.locator("[data-timer-value]").inner_text()) < first  # it counts down
            await shot(page, "question")
            assert await axe_violations(page) == []
            box = await page.locator(".answer-choice").first.bounding_box()
            assert box["height"] >= 56  # big tap targets
        await page.click(".answer-choice:has-text('对的')")
        async with page.expect_navigation():
            await page.click("[data-testid=submit]")
    assert "3" in await page.locator("[data-testid=score]").inner_text()
    await shot(page, "finished")
    await page.click("text=查看排行榜")
    await page.wait_for_url(f"**/learning/competitions/{cid}/board")
    board = await page.locator("[data-testid=individual-board]").inner_text()
    assert "海西社区" in board and "3" in board
    assert "海西社区" in await page.locator("[data-testid=branch-board]").inner_text()
    await shot(page, "board")
    assert await axe_violations(page) == []
    att = await Attempt.select(Attempt.score, Attempt.finished_at).where(Attempt.competition == cid).first()
    assert att["score"] == 3 and att["finished_at"] is not None


async def test_the_timer_sends_the_form_when_time_is_up(phone, shot) -> None:
    cid, _t0 = await running_competition(n=2, seconds=5)
    viewer = await member()
    page = await phone.new_page()
    await login_resident(page, viewer.phone)
    await page.goto(f"/learning/competitions/{cid}")
    async with page.expect_navigation():
        await page.click("[data-testid=start]")
    assert await page.locator("[data-testid=progress]").inner_text() == "第 1 / 2 题"
    # Nothing chosen; at zero the page sends the form and the server records the question as timed out.
    await page.wait_for_selector("[data-testid=late]", timeout=15_000)
    assert await page.locator("[data-testid=progress]").inner_text() == "第 2 / 2 题"
    await shot(page, "timed-out")


async def test_department_imports_questions_and_creates_a_competition(phone, shot, tmp_path) -> None:
    page = await phone.new_page()
    await login_staff(page, "zzb")
    await page.click("[data-testid=tile-learning]")
    await page.wait_for_url("**/staff/learning")
    await shot(page, "bank")
    # An import with a bad row: the line and the reason are shown, nothing is imported.
    tag = unique("浏览器")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(xlsx([row("单选", f"{tag} 一", ["甲", "乙"], "A", category=tag),
                          row("单选", f"{tag} 二", ["甲", "乙"], "Z", category=tag)]))
    await page.goto("/staff/learning/import")
    await page.set_input_files("#file", str(bad))
    async with page.expect_navigation():
        await page.click("button:has-text('导入')")
    errors = await page.locator("[data-testid=import-errors]").inner_text()
    assert "第 3 行" in errors and "选项字母" in errors
    await shot(page, "import-errors")
    good = tmp_path / "good.xlsx"
    good.write_bytes(xlsx([row("单选", f"{tag} {i}", ["甲", "乙"], "A", category=tag) for i in range(5)]))
    await page.set_input_files("#file", str(good))
    async with page.expect_navigation():
        await page.click("button:has-text('导入')")
    assert "已导入 5 道题目" in await page.locator("[data-testid=import-ok]").inner_text()
    # Create a competition from the new category, for the branches of 柳巷街道.
    await page.goto("/staff/learning/competitions")
    await page.click("[data-testid=new-competition]")
    title = unique("柳巷支部赛")
    start = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(minutes=1)
    await page.fill("#title", title)
    await page.fill("#starts_at", start.strftime("%Y-%m-%dT%H:%M"))
    await page.fill("#ends_at", (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    await page.fill("#seconds_per_question", "20")
    await page.select_option("#category0", tag)
    await page.fill("#count0", "5")
    await page.check("input[name=scope][value=units]")
    await page.click("summary:has-text('选择街道或社区')")
    await page.check("label.choice:has-text('柳巷街道') input")
    await shot(page, "new-competition")
    async with page.expect_navigation():
        await page.click("[data-testid=create]")
    assert title in await page.locator("h1").inner_text()
    assert await page.locator("[data-testid=board]").is_visible()
    await shot(page, "created")
    comp = await Competition.select().where(Competition.title == title).first()
    assert comp["question_count"] == 5 and comp["scope"] == "units" and comp["seconds_per_question"] == 20
