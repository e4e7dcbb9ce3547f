"""A GET that filed a request (issue 15, item 6): resuming is a GET that shows, a POST that files, and only
the browser session that wrote the draft can resume it."""

from __future__ import annotations

from backend.requests.tables import Request
from tests.support.factories import fresh_phone
from tests.support.photos import HAIXI_POINT, report_data


async def test_resume_is_a_get_that_changes_nothing(client) -> None:
    data = await report_data(client, description="楼道灯坏了", **HAIXI_POINT)
    r = await client.post("/report", data=data)
    assert r.status_code == 303
    await client.login_resident(fresh_phone())
    for _ in range(2):
        r = await client.get(f"/report/resume/{data['idempotency_key']}")
        assert r.status_code == 200 and "楼道灯坏了" in r.text
    assert not await Request.exists().where(Request.idempotency_key == data["idempotency_key"])


async def test_someone_elses_draft_cannot_be_resumed(client, new_client) -> None:
    # The attacker writes a report anonymously and lures a signed-in victim to the resume link.
    async with new_client() as attacker:
        data = await report_data(attacker, description="攻击者写的内容", **HAIXI_POINT)
        r = await attacker.post("/report", data=data)
        assert r.status_code == 303
    await client.login_resident(fresh_phone())
    r = await client.get(f"/report/resume/{data['idempotency_key']}")
    assert r.status_code == 410 and "攻击者写的内容" not in r.text
    r = await client.post("/report", data={"idempotency_key": data["idempotency_key"]})
    assert r.status_code == 400 and "攻击者写的内容" not in r.text
    assert not await Request.exists().where(Request.idempotency_key == data["idempotency_key"])
