"""Questions on notices: a consultation through the one submission service, linked to the notice, on a
10-day clock (the lights' resolve clock), answered publicly on the notice's page when the asker agrees."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.lights.tables import LightClock
from backend.notices import questions as service
from backend.notices.rules import NoticeError
from backend.notices.tables import NoticeQuestion
from backend.requests import service as requests
from backend.requests.tables import Event, Request
from tests.support.factories import fresh_phone, unique
from tests.support.notices import published
from tests.support.people import resident, staff


async def test_question_becomes_a_consultation_with_a_ten_day_clock_and_a_public_answer(client) -> None:
    notice_id = await published(unique("财务公开"), code="finance", period="2026-10")
    phone = fresh_phone()
    await client.login_resident(phone)
    r = await client.post(f"/notices/{notice_id}/ask", data={"question": "办公用品支出为何比上月多？", "consent": "1",
                                                             "key": unique("k") + "xxxxxxxx"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/notices/{notice_id}?asked=1")
    q = await NoticeQuestion.select().where(NoticeQuestion.notice == notice_id).first()
    assert q is not None and q["public_consent"] is True
    req = await Request.select().where(Request.id == q["request"]).first()
    assert req["kind"] == "consultation" and req["community"] == (await staff("haixi")).memberships[0].unit_id
    assert "办公用品支出" in req["description"]
    # The one submission service wrote the request's first event.
    assert await Event.exists().where((Event.request == req["id"]) & (Event.action == "submit"))
    clock = await LightClock.select().where((LightClock.request == req["id"]) & (LightClock.stage == "resolve")).first()
    assert clock["red_due_at"] - clock["started_at"] == timedelta(days=service.QUESTION_DAYS)
    page = await client.get(f"/notices/{notice_id}")
    assert "您的问题已提交" not in page.text  # only right after asking
    assert 'data-testid="my-question"' in page.text and "答复期限" in page.text
    # The community answers through the transition service; the answer appears on the notice's page.
    haixi = await staff("haixi")
    await requests.transition(req["id"], "answer", haixi, req["version"], note="本月采购了全年的打印纸，已附发票。")
    await client.post("/logout")
    anonymous = await client.get(f"/notices/{notice_id}")
    assert 'data-testid="public-answer"' in anonymous.text and "全年的打印纸" in anonymous.text


async def test_answer_stays_private_without_consent() -> None:
    notice_id = await published(unique("一般事项"))
    asker = await resident(fresh_phone())
    req = await service.ask(asker, notice_id, "这个项目什么时候开工？", consent=False)
    assert req.is_public is False
    await requests.transition(req.id, "answer", await staff("haixi"), req.version, note="下月开工")
    public = await service.questions_of(None, notice_id)
    assert public["public"] == []
    mine = await service.questions_of(asker, notice_id)
    assert [m["answer"] for m in mine["mine"]] == ["下月开工"]


async def test_bad_questions_are_refused_and_create_nothing(client) -> None:
    notice_id = await published(unique("一般事项"))
    before = await Request.count()
    with pytest.raises(NoticeError):
        await service.ask(await resident(fresh_phone()), notice_id, " ", consent=True)
    with pytest.raises(NoticeError) as exc:
        await service.ask(await staff("haixi"), notice_id, "工作人员提问", consent=True)
    assert exc.value.status == 403
    await client.login_resident(fresh_phone())
    r = await client.post(f"/notices/{notice_id}/ask", data={"question": "长" * 1001})
    assert r.status_code == 400 and "不能超过 1000 字" in r.text and 'aria-invalid="true"' in r.text
    assert await Request.count() == before
