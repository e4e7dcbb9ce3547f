"""Command-center pages and the dispatch form: bad input, returns and re-dispatch, unit scope, stale versions."""

from __future__ import annotations

import pytest

from backend.requests import service
from backend.requests.service import InvalidState, NotAllowed, RequestError
from backend.requests.tables import Assignment, Event
from tests.support.people import staff, unit
from tests.support.routing import (
    LX_1_1,
    LX_1_2,
    MQ_1_1,
    actions,
    category,
    hidden_version,
    open_assists,
    open_leads,
    state,
    submit_at,
)


async def _at_command_center(point=LX_1_1, category_code: str = "garbage", description: str = "问题") -> int:
    req, _ = await submit_at(point, category_code, description=description)
    community = await unit("LX-1") if point != MQ_1_1 else await unit("MQ-1")
    first = await staff("haixi") if community.code == "LX-1" else await staff("nanhaijie")
    street = await staff("liuxiang") if community.code == "LX-1" else await staff("miaoqian")
    r = await service.transition(req.id, "escalate", first, req.version, note="社区无法解决")
    await service.transition(req.id, "escalate", street, r.version, note="街道无法解决")
    return req.id


async def _snapshot(request_id: int) -> tuple:
    return (
        await state(request_id),
        await Assignment.select().where(Assignment.request == request_id).order_by(Assignment.id),
        await Event.count().where(Event.request == request_id),
    )


async def test_only_the_command_center_uses_its_pages(client) -> None:
    r = await client.get("/cc/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
    await client.login_staff("liuxiang")
    for url in ("/cc/queue", "/cc/search", "/cc/requests/1/dispatch"):
        r = await client.get(url)
        assert r.status_code == 403, url
    home = await client.get("/staff")
    assert 'data-testid="tile-street"' in home.text and 'data-testid="tile-cc"' not in home.text


async def test_queue_lists_escalated_and_returned_requests(client) -> None:
    escalated = await _at_command_center(description="上报到区")
    returned_req, _ = await submit_at(LX_1_2, "noise")
    worker = await staff("wg_lx_1_2")
    await service.transition(returned_req.id, "return", worker, returned_req.version, note="不属于本网格")
    at_community, _ = await submit_at(LX_1_1, "noise")
    await client.login_staff("zhzx")
    r = await client.get("/cc/queue")
    assert r.status_code == 200
    codes = {await _code(escalated), returned_req.code}
    for code in codes:
        assert code in r.text
    assert at_community.code not in r.text
    assert "不属于本网格" in r.text  # why it is here
    # htmx polling gets only the list block.
    part = await client.get("/cc/queue", headers={"HX-Request": "true"})
    assert part.status_code == 200 and "<html" not in part.text and returned_req.code in part.text


async def _code(request_id: int) -> str:
    return (await state(request_id))["code"]


async def test_dispatch_form_refuses_bad_input_and_changes_nothing(client) -> None:
    rid = await _at_command_center()
    await client.login_staff("zhzx")
    form = await client.get(f"/cc/requests/{rid}/dispatch")
    version = hidden_version(form.text)
    mq, lx, hwk, liuxiang = await unit("MQ"), await unit("LX"), await unit("CGJ-HWK"), await staff("liuxiang")
    before = await _snapshot(rid)
    cases = [
        ({"version": version}, "请选择一个主办单位"),
        ({"version": version, "lead_unit_id": [mq.id, lx.id]}, "主办单位只能有一个"),
        ({"version": version, "lead_unit_id": lx.id, "assist_unit_ids": [lx.id, hwk.id]}, "不能同时作为协办"),
        ({"version": version, "lead_unit_id": "x"}, "所选单位无效"),
        ({"version": version, "lead_unit_id": 99999999}, "主办单位不存在"),
        ({"version": version, "lead_unit_id": lx.id, "assist_unit_ids": [99999999]}, "协办单位不存在"),
        ({"version": version, "lead_unit_id": mq.id, "lead_person_id": liuxiang.id}, "不属于主办单位"),
        ({"version": version, "lead_unit_id": lx.id, "note": "长" * 2001}, "不能超过"),
        ({"lead_unit_id": lx.id}, "表单已失效"),
    ]
    for data, message in cases:
        r = await client.post(f"/cc/requests/{rid}/dispatch", data=data)
        assert r.status_code == 400, (data, r.status_code)
        assert message in r.text, (data, message)
        assert 'data-testid="dispatch-form"' in r.text  # the form is shown again
    assert await _snapshot(rid) == before
    # A stale version: 409 and the new state, nothing overwritten.
    r = await client.post(f"/cc/requests/{rid}/dispatch", data={"version": version - 1, "lead_unit_id": lx.id})
    assert r.status_code == 409 and "刚刚被他人更新" in r.text
    assert await _snapshot(rid) == before


async def test_return_and_redispatch_keep_the_whole_trail(client) -> None:
    rid = await _at_command_center(MQ_1_1, "public_toilet", description="公厕门坏了")
    await client.login_staff("zhzx")
    lx, mq, hwk = await unit("LX"), await unit("MQ"), await unit("CGJ-HWK")
    form = await client.get(f"/cc/requests/{rid}/dispatch")
    # The dispatcher first picks the wrong street as lead, with 环卫科 assisting.
    r = await client.post(
        f"/cc/requests/{rid}/dispatch",
        data={"version": hidden_version(form.text), "lead_unit_id": lx.id, "assist_unit_ids": [hwk.id]},
    )
    assert r.status_code == 303
    row = await state(rid)
    liuxiang = await staff("liuxiang")
    assert (row["current_unit"], row["current_person"]) == (lx.id, liuxiang.id)
    # Another street's staff cannot act on it; returning needs a reason.
    with pytest.raises(NotAllowed):
        await service.transition(rid, "return", await staff("miaoqian"), row["version"], note="不归我们")
    with pytest.raises(RequestError, match="退回必须填写理由"):
        await service.transition(rid, "return", liuxiang, row["version"], note="")
    # The command center cannot return to itself, nor dispatch while a street holds it.
    with pytest.raises(InvalidState):
        await service.transition(rid, "dispatch", await staff("zhzx"), row["version"], lead_unit_id=mq.id)
    r = await service.transition(rid, "return", liuxiang, row["version"], note="该公厕在庙前街道辖区")
    row = await state(rid)
    assert row["status"] == "returned" and row["current_unit"] == (await unit("YZQ-ZHZX")).id
    queue = await client.get("/cc/queue")
    assert row["code"] in queue.text and "该公厕在庙前街道辖区" in queue.text
    # Re-dispatch: the form suggests 庙前街道 (jurisdiction) and does not duplicate 环卫科, still assisting.
    form = await client.get(f"/cc/requests/{rid}/dispatch")
    assert f'value="{mq.id}" checked' in form.text and 'data-testid="open-assist"' in form.text
    r = await client.post(
        f"/cc/requests/{rid}/dispatch",
        data={"version": hidden_version(form.text), "lead_unit_id": mq.id, "assist_unit_ids": [hwk.id]},
    )
    assert r.status_code == 303
    row = await state(rid)
    assert (row["current_unit"], row["status"]) == (mq.id, "assigned")
    assert [a["unit"] for a in await open_assists(rid)] == [hwk.id]
    assert len(await open_leads(rid)) == 1
    leads = (
        await Assignment.select(Assignment.unit, Assignment.close_reason)
        .where((Assignment.request == rid) & (Assignment.role == "lead"))
        .order_by(Assignment.id)
    )
    assert [a["unit"] for a in leads] == [
        (await unit("MQ-1")).id,
        mq.id,
        (await unit("YZQ-ZHZX")).id,
        lx.id,
        (await unit("YZQ-ZHZX")).id,
        mq.id,
    ]
    assert await actions(rid) == ["submit", "escalate", "escalate", "dispatch", "return", "dispatch"]
    # The dispatcher may close an assisting part (e.g. no longer needed).
    form = await client.get(f"/cc/requests/{rid}/dispatch")
    assert 'data-testid="not-here"' in form.text  # no longer at the command center
    assist = (await open_assists(rid))[0]
    r = await client.post(
        f"/cc/requests/{rid}/close-assist", data={"version": hidden_version(form.text), "assignment_id": assist["id"]}
    )
    assert r.status_code == 303
    assert await open_assists(rid) == []
    r = await client.post(
        f"/cc/requests/{rid}/close-assist",
        data={"version": (await state(rid))["version"], "assignment_id": assist["id"]},
    )
    assert r.status_code == 409 and "没有可结束的协办任务" in r.text


async def test_escalation_is_limited_to_the_responsible_unit(client) -> None:
    req, _ = await submit_at(LX_1_1, "garbage")
    await client.login_staff("nanhaijie")  # another street's community
    r = await client.post(f"/staff/requests/{req.id}/escalate", data={"version": req.version, "note": "越权"})
    assert r.status_code == 403
    assert (await state(req.id))["version"] == req.version
    r = await client.post("/staff/requests/99999999/escalate", data={"version": 1, "note": "x"})
    assert r.status_code == 404


async def test_assist_report_only_by_the_assisting_unit(client, new_client) -> None:
    rid = await _at_command_center()
    hwk, lx = await unit("CGJ-HWK"), await unit("LX")
    await service.transition(
        rid,
        "dispatch",
        await staff("zhzx"),
        (await state(rid))["version"],
        lead_unit_id=lx.id,
        assist_unit_ids=[hwk.id],
    )
    assist = (await open_assists(rid))[0]
    version = (await state(rid))["version"]
    await client.login_staff("haixi")
    forms = await client.get(f"/staff/requests/{rid}/assist-forms")
    assert 'data-testid="assist-form"' not in forms.text
    r = await client.post(
        f"/staff/requests/{rid}/assist-report",
        data={"version": version, "assignment_id": assist["id"], "note": "冒名反馈"},
    )
    assert r.status_code == 403 and "不是该诉求的协办单位" in r.text
    async with new_client() as hwk_client:
        await hwk_client.login_staff("hwk")
        r = await hwk_client.post(
            f"/staff/requests/{rid}/assist-report", data={"version": version, "assignment_id": assist["id"], "note": ""}
        )
        assert r.status_code == 400 and "请填写协办情况" in r.text
        r = await hwk_client.post(
            f"/staff/requests/{rid}/assist-report",
            data={"version": version + 5, "assignment_id": assist["id"], "note": "已处理"},
        )
        assert r.status_code == 409 and "刚刚被他人更新" in r.text
        assert (await open_assists(rid))[0]["id"] == assist["id"]


async def test_search_over_all_requests(client) -> None:
    marker = "检索标记" + str(await _code(await _at_command_center()))[-6:]
    req, _ = await submit_at(MQ_1_1, "street_light", description=f"路灯不亮 {marker}")
    await client.login_staff("zhzx")
    r = await client.get("/cc/search", params={"q": marker})
    assert r.status_code == 200 and req.code in r.text and 'data-testid="total">共 <strong>1</strong>' in r.text
    r = await client.get("/cc/search", params={"q": req.code})
    assert req.code in r.text
    light, noise = await category("street_light"), await category("noise")
    mq, lx = await unit("MQ"), await unit("LX")
    r = await client.get("/cc/search", params={"q": marker, "category": light.id, "unit": mq.id, "status": "open"})
    assert req.code in r.text
    for params in (
        {"category": noise.id},
        {"unit": lx.id},
        {"status": "resolved"},
        {"from": "2000-01-01", "to": "2000-01-02"},
    ):
        r = await client.get("/cc/search", params={"q": marker, **params})
        assert r.status_code == 200 and req.code not in r.text, params
    for params, message in (
        ({"from": "2026-13-01"}, "日期格式"),
        ({"from": "2026-02-02", "to": "2026-02-01"}, "开始日期不能晚于结束日期"),
        ({"status": "nope"}, "未知的状态"),
        ({"unit": "abc"}, "单位不存在"),
        ({"category": 99999999}, "类别不存在"),
    ):
        r = await client.get("/cc/search", params=params)
        assert r.status_code == 400 and message in r.text, params
    # Pages of 20.
    r = await client.get("/cc/search", params={"page": 2})
    assert r.status_code == 200


async def test_street_queue_is_scoped_to_the_viewers_street(client, new_client) -> None:
    req, _ = await submit_at(LX_1_1, "animals", description="楼顶养鸽")
    await service.transition(req.id, "escalate", await staff("haixi"), req.version, note="劝说无效")
    await client.login_staff("miaoqian")
    r = await client.get("/street/queue")
    assert r.status_code == 200 and req.code not in r.text
    async with new_client() as own:
        await own.login_staff("liuxiang")
        assert req.code in (await own.get("/street/queue")).text
    async with new_client() as community:
        await community.login_staff("haixi")
        assert (await community.get("/street/queue")).status_code == 403


async def test_stale_escalation_shows_the_new_state_and_keeps_the_reason(client) -> None:
    req, _ = await submit_at(LX_1_1, "manhole_pipe", description="井盖松动")
    worker = await staff("wg_lx_1_1")
    accepted = await service.transition(req.id, "accept", worker, req.version)
    await client.login_staff("haixi")
    before = await _snapshot(req.id)
    r = await client.post(f"/staff/requests/{req.id}/escalate", data={"version": req.version, "note": "需要市政维修"})
    assert r.status_code == 409 and "刚刚被他人更新" in r.text
    assert hidden_version(r.text) == accepted.version and "需要市政维修" in r.text
    assert 'data-testid="status">办理中' in r.text
    assert await _snapshot(req.id) == before


async def test_two_dispatchers_at_once_the_second_sees_the_new_state(client) -> None:
    rid = await _at_command_center(description="两人同时派单")
    await client.login_staff("zhzx")
    form = await client.get(f"/cc/requests/{rid}/dispatch")
    lx, mq = await unit("LX"), await unit("MQ")
    # Someone else (the center's head) dispatches first.
    await service.transition(rid, "dispatch", await staff("zhzx_head"), hidden_version(form.text), lead_unit_id=lx.id)
    before = await _snapshot(rid)
    r = await client.post(
        f"/cc/requests/{rid}/dispatch", data={"version": hidden_version(form.text), "lead_unit_id": mq.id}
    )
    assert r.status_code == 409 and "刚刚被他人更新" in r.text and 'data-testid="not-here"' in r.text
    assert 'data-testid="current-unit">柳巷街道' in r.text
    assert await _snapshot(rid) == before
