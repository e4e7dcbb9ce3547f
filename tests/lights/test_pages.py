"""What people see: rules admin, the command center's board, explanations, phone calls, the assessment."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook

from backend.db import utcnow
from backend.lights import service
from backend.lights.tables import Explanation, LightRule, PhoneCall
from backend.requests.tables import Event
from tests.support.lights import lead_of, new_request


async def _red_request():
    """A request whose accept clock went red (injected past), with its open explanation task."""
    req = await new_request(timedelta(hours=49))
    await service.sweep()
    ex = await Explanation.select().where(Explanation.request == req.id).first()
    assert ex is not None
    return req, ex


async def test_admin_edits_rules_and_red_not_after_yellow_is_refused(client) -> None:
    await client.login_staff("admin")
    r = await client.get("/admin/lights")
    assert r.status_code == 200 and "红黄灯规则" in r.text and r.text.count('data-testid="rule"') >= 2
    before = await LightRule.count()
    r = await client.post("/admin/lights", data={"category": "", "stage": "accept", "yellow_hours": "24",
                                                 "red_hours": "12", "clock": "natural", "office_hours": ""})
    assert r.status_code == 400 and "红灯时限必须长于黄灯时限" in r.text and 'aria-invalid="true"' in r.text
    assert 'value="12"' in r.text  # the form is kept
    assert await LightRule.count() == before
    r = await client.post("/admin/lights", data={"category": "", "stage": "resolve", "yellow_hours": "120",
                                                 "red_hours": "168", "clock": "working",
                                                 "office_hours": "09:00-12:00,13:30-17:30"})
    assert r.status_code == 303
    page = (await client.get("/admin/lights")).text
    assert "工作时间" in page
    # back to the natural default so other tests keep the seed's clock
    await client.post("/admin/lights", data={"category": "", "stage": "resolve", "yellow_hours": "120",
                                             "red_hours": "168", "clock": "natural", "office_hours": ""})


async def test_rules_page_is_for_admins_only(client) -> None:
    await client.login_staff("zhzx")
    assert (await client.get("/admin/lights")).status_code == 403


async def test_board_lists_lit_requests_red_first_and_refreshes_as_a_block(client) -> None:
    yellow = await new_request(timedelta(hours=30))
    red, _ = await _red_request()
    await service.sweep()
    await client.login_staff("zhzx")
    r = await client.get("/cc/lights")
    assert r.status_code == 200 and 'hx-trigger="every 20s"' in r.text
    assert red.code in r.text and yellow.code in r.text
    assert r.text.index(red.code) < r.text.index(yellow.code)  # red before yellow
    assert "海西社区" in r.text
    frag = await client.get("/cc/lights", headers={"HX-Request": "true"})
    assert frag.status_code == 200 and "<html" not in frag.text and red.code in frag.text
    # accepted: the request leaves the board
    from backend.requests import service as requests
    from tests.support.people import staff

    await requests.transition(yellow.id, "accept", await staff("wg_lx_1_1"), yellow.version)
    assert yellow.code not in (await client.get("/cc/lights")).text


async def test_board_is_for_the_command_center(client) -> None:
    await client.login_staff("haixi")
    assert (await client.get("/cc/lights")).status_code == 403


async def test_head_explains_cc_sends_back_then_accepts_and_logs_a_call(client, new_client) -> None:
    req, ex = await _red_request()
    await client.login_staff("haixi_head")
    r = await client.get("/lights/explanations")
    assert r.status_code == 200 and req.code in r.text
    url = f"/lights/explanations/{ex['id']}"
    promised = (utcnow() + timedelta(days=2)).astimezone(service.aware(utcnow()).tzinfo).strftime("%Y-%m-%dT%H:%M")
    # empty → refused, nothing changed
    r = await client.post(url + "/submit", data={"reason": " ", "measures": "已派人", "promised_at": promised})
    assert r.status_code == 400 and "请填写超时原因" in r.text
    assert (await Explanation.select().where(Explanation.id == ex["id"]).first())["status"] == "open"
    r = await client.post(url + "/submit", data={"reason": "人手不足", "measures": "已派两人清理",
                                                 "promised_at": promised})
    assert r.status_code == 303
    row = await Explanation.select().where(Explanation.id == ex["id"]).first()
    assert row["status"] == "submitted" and row["late"] is False and row["reason"] == "人手不足"
    # after submission the head cannot change it
    r = await client.post(url + "/submit", data={"reason": "改", "measures": "改", "promised_at": promised})
    assert r.status_code == 409 and "已提交或已审核" in r.text
    async with new_client() as cc:
        await cc.login_staff("zhzx")
        r = await cc.get("/lights/explanations")
        assert req.code in r.text
        r = await cc.post(url + "/review", data={"decision": "return", "comment": ""})
        assert r.status_code == 400 and "退回时请填写意见" in r.text
        r = await cc.post(url + "/review", data={"decision": "return", "comment": "措施不具体"})
        assert r.status_code == 303
        r = await cc.post(url + "/calls", data={"called_at": "", "callee": "钱书记", "outcome": "已督促"})
        assert r.status_code == 400 and "请填写通话时间" in r.text
        now_local = utcnow().astimezone(service.aware(utcnow()).tzinfo)
        r = await cc.post(url + "/calls", data={"called_at": (now_local - timedelta(minutes=5)).strftime(
            "%Y-%m-%dT%H:%M"), "callee": "钱书记", "outcome": "承诺今天处理"})
        assert r.status_code == 303
        page = (await cc.get(url)).text
        assert "承诺今天处理" in page and "钱书记" in page
    # sent back → the head writes again; the command center accepts; after review no more edits
    r = await client.post(url + "/submit", data={"reason": "人手不足", "measures": "调派环卫车今日清运",
                                                 "promised_at": promised})
    assert r.status_code == 303
    async with new_client() as cc:
        await cc.login_staff("zhzx")
        assert (await cc.post(url + "/review", data={"decision": "accept", "comment": ""})).status_code == 303
    r = await client.post(url + "/submit", data={"reason": "x", "measures": "y", "promised_at": promised})
    assert r.status_code == 409
    row = await Explanation.select().where(Explanation.id == ex["id"]).first()
    assert row["status"] == "accepted" and row["measures"] == "调派环卫车今日清运"
    actions = [e["action"] for e in await Event.select(Event.action).where(Event.request == req.id)]
    assert actions.count("explanation") == 2 and actions.count("explanation_review") == 2
    assert actions.count("phone_call") == 1 and await PhoneCall.count().where(PhoneCall.explanation == ex["id"]) == 1


async def test_only_the_unit_head_may_explain(client) -> None:
    _, ex = await _red_request()
    for username in ("haixi", "zhzx", "liuxiang_head"):
        await client.login_staff(username)
        r = await client.post(f"/lights/explanations/{ex['id']}/submit",
                              data={"reason": "r", "measures": "m", "promised_at": "2099-01-01T10:00"})
        assert r.status_code == 403, username
    assert (await Explanation.select().where(Explanation.id == ex["id"]).first())["status"] == "open"


async def test_late_explanation_is_marked() -> None:
    _, ex = await _red_request()
    from tests.support.people import staff

    head = await staff("haixi_head")
    await service.submit_explanation(ex["id"], head, reason="r", measures="m",
                                     promised_at=utcnow() + timedelta(days=30), now=utcnow() + timedelta(hours=25))
    assert (await Explanation.select().where(Explanation.id == ex["id"]).first())["late"] is True


async def test_assessment_counts_from_events_and_exports(client) -> None:
    on_time = await new_request(timedelta(hours=2), community="MQ-1")
    from backend.requests import service as requests
    from tests.support.people import staff

    await requests.transition(on_time.id, "accept", await staff("nanhaijie"), on_time.version)
    await new_request(timedelta(hours=49), community="MQ-1")
    await service.sweep()
    year = utcnow().year
    await client.login_staff("zzb")
    r = await client.get(f"/assess?kind=community&year={year}")
    assert (r.status_code == 200 and "南海街社区" in r.text) or "MQ-1" in r.text or r.status_code == 200
    from tests.support.people import unit

    mq1 = await unit("MQ-1")
    row = r.text.split(f'data-unit="{mq1.id}"')[1].split("</tr>")[0]
    handled = int(row.split('data-col="handled">')[1].split("<")[0])
    yellow = int(row.split('data-col="yellow">')[1].split("<")[0])
    red = int(row.split('data-col="red">')[1].split("<")[0])
    assert handled >= 2 and yellow >= 1 and red >= 1
    assert 'data-col="satisfaction">—' in row or "%" in row
    x = await client.get(f"/assess/export.xlsx?kind=community&year={year}")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    names = [c.value for c in ws["B"]]
    assert mq1.name in names
    c = await client.get(f"/assess/export.csv?kind=community&year={year}")
    rows = list(csv.reader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert rows[0][0] == "排名" and any(r[1] == mq1.name and int(r[7]) == yellow for r in rows[1:])


async def test_assessment_scope_and_bad_period(client) -> None:
    from tests.support.people import unit

    await client.login_staff("haixi_head")
    assert (await client.get("/assess")).status_code == 200
    mq = await unit("MQ")
    assert (await client.get(f"/assess?unit={mq.id}")).status_code == 403
    r = await client.get("/assess?start=2026-05-01&end=2026-01-01")
    assert r.status_code == 400 and "结束日期不能早于开始日期" in r.text
    await client.login_staff("wg_lx_1_1")
    assert (await client.get("/assess")).status_code == 403


async def test_satisfaction_from_rate_events(client) -> None:
    from backend.requests.service import record
    from tests.support.people import unit

    req = await new_request(timedelta(hours=1), community="MQ-1")
    lead = await lead_of(req.id)
    await record(req.id, "rate", data={"score": "satisfied"}, assignment_id=lead["id"])
    await client.login_staff("admin")
    mq1 = await unit("MQ-1")
    r = await client.get(f"/assess?kind=community&year={utcnow().year}")
    row = r.text.split(f'data-unit="{mq1.id}"')[1].split("</tr>")[0]
    assert "%" in row.split('data-col="satisfaction">')[1].split("<")[0]
