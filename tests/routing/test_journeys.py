"""The four-level journeys over HTTP through the real app, and the seed's public-toilet example."""

from __future__ import annotations

import re
import uuid

from backend.requests import service
from backend.requests.tables import Event, Request
from tests.support.people import staff, unit
from tests.support.routing import (
    LX_1_1,
    MQ_1_1,
    actions,
    category,
    hidden_version,
    open_assists,
    open_leads,
    state,
    submit_at,
)


async def test_community_solves_it_alone() -> None:
    req, _ = await submit_at(LX_1_1, "garbage")
    worker = await staff("wg_lx_1_1")
    assert (req.current_unit, req.current_person) == ((await unit("LX-1")).id, worker.id)
    r = await service.transition(req.id, "accept", worker, req.version)
    await service.transition(req.id, "resolve", worker, r.version, note="已清运")
    row = await state(req.id)
    assert row["status"] == "resolved" and row["level"] == "community"
    assert await actions(req.id) == ["submit", "accept", "resolve"]


async def test_community_escalates_to_its_street(client) -> None:
    req, _ = await submit_at(LX_1_1, "noise", description="楼上夜间施工")
    await client.login_staff("haixi")
    page = await client.get(f"/staff/requests/{req.id}")
    assert page.status_code == 200 and 'data-testid="escalate-form"' in page.text

    # No reason: refused with a clear message, the form kept, nothing changed.
    n = len(await actions(req.id))
    r = await client.post(f"/staff/requests/{req.id}/escalate", data={"version": req.version, "note": "  "})
    assert r.status_code == 400 and "上报必须填写理由" in r.text and 'aria-invalid="true"' in r.text
    assert len(await actions(req.id)) == n and (await state(req.id))["version"] == req.version

    r = await client.post(
        f"/staff/requests/{req.id}/escalate", data={"version": req.version, "note": "涉及多户，社区协调不成"}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/staff/requests/{req.id}"
    row = await state(req.id)
    street = await unit("LX")
    assert (row["current_unit"], row["current_person"], row["level"]) == (
        street.id,
        (await staff("liuxiang")).id,
        "street",
    )
    assert [a["unit"] for a in await open_leads(req.id)] == [street.id]

    # The street platform sees it at once, in the queue of its category (分级分类).
    async with client.__class__(transport=client._transport, base_url="http://testserver") as street_client:
        await street_client.login_staff("liuxiang")
        queue = await street_client.get("/street/queue")
        assert queue.status_code == 200 and req.code in queue.text
        noise = await category("noise")
        only_noise = await street_client.get(f"/street/queue?category={noise.id}")
        assert req.code in only_noise.text and f'data-category="{noise.id}"' in only_noise.text
        other = await street_client.get(f"/street/queue?category={(await category('policy')).id}")
        assert req.code not in other.text
        bad = await street_client.get("/street/queue?category=abc")
        assert bad.status_code == 400 and "类别不存在" in bad.text
        # ... and can solve it at street level.
        liuxiang = await staff("liuxiang")
        r1 = await service.transition(req.id, "accept", liuxiang, row["version"])
        await service.transition(req.id, "resolve", liuxiang, r1.version, note="街道协调施工方调整时间")
    assert (await state(req.id))["status"] == "resolved"


async def test_street_to_district_lead_department_with_assisting_street(client, new_client) -> None:
    req, _ = await submit_at(LX_1_1, "garbage", description="背街小巷垃圾长期无人清运")
    haixi, liuxiang = await staff("haixi"), await staff("liuxiang")
    r = await service.transition(req.id, "escalate", haixi, req.version, note="社区协调不了清运车辆")
    r = await service.transition(req.id, "escalate", liuxiang, r.version, note="需区环卫统一调度")
    cc = await unit("YZQ-ZHZX")
    row = await state(req.id)
    assert (row["current_unit"], row["level"]) == (cc.id, "district")

    await client.login_staff("zhzx")
    form = await client.get(f"/cc/requests/{req.id}/dispatch")
    assert form.status_code == 200
    version = hidden_version(form.text)
    hwk, street, cyk = await unit("CGJ-HWK"), await unit("LX"), await unit("SCJ-CYK")
    # A unit nobody staffs cannot lead: the request would have no named person.
    r = await client.post(
        f"/cc/requests/{req.id}/dispatch",
        data={"version": version, "lead_unit_id": cyk.id, "assist_unit_ids": [street.id]},
    )
    assert r.status_code == 400 and "没有指定承办人" in r.text
    assert (await state(req.id))["version"] == version
    # Lead: the sanitation section (duty); assisting: the street where the place is (jurisdiction).
    r = await client.post(
        f"/cc/requests/{req.id}/dispatch",
        data={"version": version, "lead_unit_id": hwk.id, "assist_unit_ids": [street.id], "note": "环卫科牵头"},
    )
    assert r.status_code == 303 and r.headers["location"] == "/cc/queue"
    row = await state(req.id)
    hwk_person = await staff("hwk")
    assert (row["current_unit"], row["current_person"], row["level"], row["status"]) == (
        hwk.id,
        hwk_person.id,
        "district",
        "assigned",
    )
    leads = await open_leads(req.id)
    assert len(leads) == 1 and leads[0]["unit"] == hwk.id and leads[0]["person"] == hwk_person.id
    assists = await open_assists(req.id)
    assert [a["unit"] for a in assists] == [street.id] and assists[0]["person"] == liuxiang.id

    # The assisting street reports its part through its own page; then the dispatcher's queue no longer has it.
    async with new_client() as street_client:
        await street_client.login_staff("liuxiang")
        forms = await street_client.get(f"/staff/requests/{req.id}/assist-forms")
        assert 'data-testid="assist-form"' in forms.text
        r = await street_client.post(
            f"/staff/requests/{req.id}/assist-report",
            data={
                "version": hidden_version(forms.text),
                "assignment_id": assists[0]["id"],
                "note": "街道已配合现场检查",
            },
        )
        assert r.status_code == 303
    assert await open_assists(req.id) == []
    queue = await client.get("/cc/queue")
    assert f'data-code="{req.code}"' not in queue.text  # not in the queue (the confirmation may name it)


async def test_public_toilet_example_from_the_seed(client, new_client) -> None:
    """A resident of 海西社区 (柳巷街道) reports a broken public toilet that lies in 庙前街道: it lands at the
    place's community, goes up to the street and the command center, which assigns 庙前街道 by jurisdiction
    and 区城管局环卫科 by duty; the section reports, the street resolves; the public timeline shows it all."""
    toilet = await category("public_toilet")
    haixi = await unit("LX-1")
    await client.login_resident("13800000001")
    r = await client.post(
        "/report",
        data={
            "kind": "help",
            "category": toilet.id,
            "description": "庙前街公厕水箱坏了，无法冲水",
            "lon": MQ_1_1[0],
            "lat": MQ_1_1[1],
            "community": haixi.id,
            "address": "庙前街公厕",
            "is_public": "1",
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    assert r.status_code == 303, r.text
    code = r.headers["location"].rsplit("/", 1)[-1]
    req = await Request.objects().where(Request.code == code).first()
    mq, mq_1, cc = await unit("MQ"), await unit("MQ-1"), await unit("YZQ-ZHZX")
    hwk_unit = await unit("CGJ-HWK")
    assert (req.community, req.street, req.current_unit) == (mq_1.id, mq.id, mq_1.id)
    assert req.current_person == (await staff("wg_mq_1_1")).id

    async def as_staff(username: str):
        c = new_client()
        await c.__aenter__()
        await c.login_staff(username)
        return c

    community = await as_staff("nanhaijie")
    page = await community.get(f"/staff/requests/{req.id}")
    r = await community.post(
        f"/staff/requests/{req.id}/escalate",
        data={"version": hidden_version(page.text), "note": "公厕维修不属社区能力"},
    )
    assert r.status_code == 303

    street = await as_staff("miaoqian")
    queue = await street.get("/street/queue")
    assert code in queue.text and "公厕" in queue.text
    page = await street.get(f"/staff/requests/{req.id}/routing")
    assert 'data-testid="escalate-form"' in page.text and "区级指挥中心" in page.text
    r = await street.post(
        f"/staff/requests/{req.id}/escalate",
        data={"version": hidden_version(page.text), "note": "需城管环卫维修，请指挥中心协调"},
    )
    assert r.status_code == 303
    assert (await state(req.id))["current_unit"] == cc.id

    dispatcher = await as_staff("zhzx")
    home = await dispatcher.get("/staff")
    assert 'data-testid="tile-cc"' in home.text
    queue = await dispatcher.get("/cc/queue")
    assert code in queue.text
    form = await dispatcher.get(f"/cc/requests/{req.id}/dispatch")
    # The rule's suggestion: 庙前街道 leads by jurisdiction, 环卫科 assists by duty.
    assert re.search(rf'name="lead_unit_id" value="{mq.id}" checked', form.text)
    assert re.search(rf'name="assist_unit_ids" value="{hwk_unit.id}" checked', form.text)
    r = await dispatcher.post(
        f"/cc/requests/{req.id}/dispatch",
        data={
            "version": hidden_version(form.text),
            "lead_unit_id": mq.id,
            "lead_person_id": "",
            "assist_unit_ids": [hwk_unit.id],
            "note": "属地街道牵头，环卫科负责维修",
        },
    )
    assert r.status_code == 303
    row = await state(req.id)
    assert (row["current_unit"], row["current_person"]) == (mq.id, (await staff("miaoqian")).id)
    assists = await open_assists(req.id)
    assert [(a["unit"], a["person"]) for a in assists] == [(hwk_unit.id, (await staff("hwk")).id)]

    hwk = await as_staff("hwk")
    inbox = await hwk.get("/staff/inbox")
    assert code in inbox.text  # the assisting section sees it at once
    detail = await hwk.get(f"/staff/requests/{req.id}")
    assert detail.status_code == 200
    forms = await hwk.get(f"/staff/requests/{req.id}/assist-forms")
    r = await hwk.post(
        f"/staff/requests/{req.id}/assist-report",
        data={"version": hidden_version(forms.text), "assignment_id": assists[0]["id"], "note": "已更换水箱配件"},
    )
    assert r.status_code == 303

    page = await street.get(f"/staff/requests/{req.id}")
    r = await street.post(f"/staff/requests/{req.id}/accept", data={"version": hidden_version(page.text)})
    assert r.status_code == 303
    page = await street.get(f"/staff/requests/{req.id}")
    r = await street.post(
        f"/staff/requests/{req.id}/resolve", data={"version": hidden_version(page.text), "note": "公厕已修复，恢复使用"}
    )
    assert r.status_code == 303
    assert (await state(req.id))["status"] == "resolved"
    for c in (community, street, dispatcher, hwk):
        await c.__aexit__(None, None, None)

    # The public timeline shows each hand-off, in order.
    public = await client.get(f"/p/{code}")
    assert public.status_code == 200
    html = public.text
    steps = re.findall(r'data-action="([a-z_]+)"', html)
    assert steps == ["submit", "escalate", "escalate", "dispatch", "assist_report", "accept", "resolve"]
    for text in (
        "南海街一社区",
        "庙前街道",
        "区级指挥中心",
        "主办：庙前街道",
        "协办：区城管局环卫科",
        "已更换水箱配件",
        "公厕已修复",
    ):
        assert text in html, text
    assert "13800000001" not in html
    events = await Event.select(Event.action, Event.unit).where(Event.request == req.id).order_by(Event.id)
    assert [e["unit"] for e in events[:4]] == [mq_1.id, mq.id, cc.id, mq.id]
