"""The learning pages over HTTP: who may open what, a member's run through a competition, the board
fragment htmx polls, the department's competition form and the XLSX export."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from backend.db import utcnow
from backend.learning.tables import Attempt, Competition
from tests.support.learning import choice, member, questions, running_competition


async def test_anonymous_and_non_members_are_kept_out(client, new_client) -> None:
    r = await client.get("/learning/practice")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await client.get("/staff/learning")
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    cid, _t0 = await running_competition(n=1)
    plain = await member(party=False)
    await client.login_resident(plain.phone)
    hub = await client.get("/learning")
    assert hub.status_code == 200 and "仅限经区委组织部认定的党员" in hub.text
    for url in ["/learning/practice", f"/learning/competitions/{cid}", f"/learning/competitions/{cid}/board",
                "/learning/history"]:
        assert (await client.get(url)).status_code == 403, url
    r = await client.post(f"/learning/competitions/{cid}/start")
    assert r.status_code == 403
    assert await Attempt.count().where(Attempt.competition == cid) == 0


async def test_member_takes_a_competition_over_http(client) -> None:
    cid, _t0 = await running_competition(n=2, seconds=60)
    viewer = await member()
    await client.login_resident(viewer.phone)
    hub = await client.get("/learning")
    assert f"/learning/competitions/{cid}" in hub.text
    page = await client.get(f"/learning/competitions/{cid}")
    assert "开始答题" in page.text
    r = await client.post(f"/learning/competitions/{cid}/start")
    assert r.status_code == 303
    for n in (1, 2):
        page = await client.get(f"/learning/competitions/{cid}/play")
        assert f"第 {n} / 2 题" in page.text and 'data-seconds-left="' in page.text
        qid = re.search(r'name="question" value="(\d+)"', page.text).group(1)
        # The boxes carry their position on the page, never the original option (that would hint the answer).
        assert re.findall(r'name="choice" value="(\d+)"', page.text) == ["0", "1", "2", "3"]
        empty = await client.post(f"/learning/competitions/{cid}/answer", data={"question": qid})
        assert empty.status_code == 400 and "请选择答案" in empty.text
        _q, right = await choice(viewer, cid, utcnow())
        r = await client.post(f"/learning/competitions/{cid}/answer", data={"question": qid, "choice": right})
        assert r.status_code == 303
    done = await client.get(f"/learning/competitions/{cid}/play")
    assert "我的得分" in done.text and re.search(r"<strong>2</strong> / 2", done.text)
    again = await client.post(f"/learning/competitions/{cid}/start")
    assert again.status_code == 409 and "只能参加一次" in again.text
    board = await client.get(f"/learning/competitions/{cid}/board", headers={"hx-request": "true"})
    assert board.status_code == 200 and "<html" not in board.text and 'hx-trigger="every 5s"' in board.text
    history = await client.get("/learning/history")
    assert f"/learning/competitions/{cid}" in history.text


async def test_department_creates_a_competition_and_exports_results(client) -> None:
    category, _ids = await questions(4)
    await client.login_staff("zzb")
    tz = ZoneInfo("Asia/Shanghai")
    start = datetime.now(tz) - timedelta(minutes=5)
    form = {"title": "支部知识赛", "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"), "seconds_per_question": "30",
            "category0": category, "difficulty0": "0", "count0": "5", "scope": "all"}
    r = await client.post("/staff/learning/competitions", data=form)
    assert r.status_code == 400 and "只有 4 道" in r.text  # the form is shown again with the reason
    assert not await Competition.exists().where(Competition.title == "支部知识赛")
    r = await client.post("/staff/learning/competitions", data=form | {"scope": "units"})
    assert r.status_code == 400 and "请选择参赛的单位" in r.text
    r = await client.post("/staff/learning/competitions", data=form | {"count0": "4"})
    assert r.status_code == 303
    comp = await Competition.select().where(Competition.title == "支部知识赛").first()
    assert comp["question_count"] == 4 and comp["scope"] == "all"
    listing = await client.get("/staff/learning/competitions")
    assert "支部知识赛" in listing.text
    x = await client.get(f"/staff/learning/competitions/{comp['id']}/export.xlsx")
    assert x.status_code == 200
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["个人排名", "支部排名"]
    assert wb["个人排名"]["A1"].value == "支部知识赛"


async def test_practice_pages(client) -> None:
    from tests.learning.test_scoring import _right_choice

    viewer = await member()
    await client.login_resident(viewer.phone)
    page = await client.get("/learning/practice")
    assert page.status_code == 200 and "第 1 题" in page.text
    qid = re.search(r'name="question" value="(\d+)"', page.text).group(1)
    from backend.db import utcnow
    from backend.learning.common import local_day

    choices, text = await _right_choice(viewer, int(qid), local_day(utcnow()))
    r = await client.post("/learning/practice", data={"question": qid, "choice": choices, "answer": text})
    assert r.status_code == 200
    assert "回答正确 +1 分" in r.text and "正确答案" in r.text and "第 2 题" in r.text
    again = await client.post("/learning/practice", data={"question": qid, "choice": choices, "answer": text})
    assert again.status_code == 409 and "已经答过" in again.text
