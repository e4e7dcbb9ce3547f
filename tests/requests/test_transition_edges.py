"""The transition service's edges that the mutation run of issue 24 found untested: the reporter-only steps
checked in the service itself, an assist's task (only its own, of this request), the command center returning
to itself, reopening to the last lead, the first acceptance's time, internal notes, a note at its limit, and
the level of a dispatch."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.db import aware, utcnow
from backend.requests import service
from backend.requests.rules import MAX_NOTE
from backend.requests.service import InvalidState, NotAllowed, RequestError
from backend.requests.tables import Assignment, Event
from tests.support.people import resident, staff, unit
from tests.support.routing import LX_1_1, LX_1_2, open_assists, open_leads, state, submit_at


async def _at_command_center(point: tuple[float, float] = LX_1_1) -> int:
    req, _ = await submit_at(point, "garbage")
    r = await service.transition(req.id, "escalate", await staff("haixi"), req.version, note="社区无法解决")
    await service.transition(req.id, "escalate", await staff("liuxiang"), r.version, note="街道无法解决")
    return req.id


async def _dispatch(rid: int, lead: str, assists: list[str]) -> None:
    await service.transition(rid, "dispatch", await staff("zhzx"), (await state(rid))["version"],
                             lead_unit_id=(await unit(lead)).id,
                             assist_unit_ids=[(await unit(a)).id for a in assists])


async def test_only_the_reporter_closes_or_reopens_even_when_called_past_the_pages() -> None:
    req, reporter = await submit_at(LX_1_1, "garbage")
    worker = await staff("wg_lx_1_1")
    v = (await service.transition(req.id, "accept", worker, req.version)).version
    v = (await service.transition(req.id, "resolve", worker, v, note="已处理")).version
    for action in ("close", "reopen"):
        with pytest.raises(NotAllowed):
            await service.transition(req.id, action, await resident(), v)
        with pytest.raises(NotAllowed):
            await service.transition(req.id, action, worker, v)
    assert (await service.transition(req.id, "close", reporter, v)).to_status == "closed"


async def test_an_assist_acts_only_on_its_own_task_of_this_request() -> None:
    rid, other = await _at_command_center(), await _at_command_center(LX_1_2)
    await _dispatch(rid, "LX", ["CGJ-HWK"])
    await _dispatch(other, "LX", ["CGJ-HWK", "LX-1"])  # haixi's community assists the other request only
    assert (await state(rid))["level"] == "street"  # dispatched to a street: the street's level
    mine = (await open_assists(rid))[0]
    hwk_unit = (await unit("CGJ-HWK")).id
    elsewhere = next(a for a in await open_assists(other) if a["unit"] == hwk_unit)
    hwk, haixi = await staff("hwk"), await staff("haixi")
    before = await Event.count().where(Event.request == rid)
    with pytest.raises(NotAllowed):  # the same unit's task on another request is not this request's
        await service.transition(rid, "assist_report", hwk, (await state(rid))["version"],
                                 assignment_id=elsewhere["id"], note="已配合")
    with pytest.raises(NotAllowed):  # the lead's assignment is not an assist task
        await service.transition(rid, "assist_report", hwk, (await state(rid))["version"],
                                 assignment_id=(await open_leads(rid))[0]["id"], note="已配合")
    with pytest.raises(NotAllowed):  # assisting another request gives no say on this one
        await service.transition(rid, "progress", haixi, (await state(rid))["version"], note="进展")
    assert await Event.count().where(Event.request == rid) == before
    v = (await service.transition(rid, "progress", hwk, (await state(rid))["version"], note="已到现场")).version
    await service.transition(rid, "assist_report", hwk, v, assignment_id=mine["id"], note="已配合完成")
    assert await open_assists(rid) == [] and len(await open_assists(other)) == 2


async def test_the_command_center_cannot_return_a_request_to_itself() -> None:
    rid = await _at_command_center()
    with pytest.raises(InvalidState, match="指挥中心不能退回给自己"):
        await service.transition(rid, "return", await staff("zhzx"), (await state(rid))["version"], note="退回")


async def test_reopen_goes_back_to_the_last_lead_and_clears_the_resolution() -> None:
    req, reporter = await submit_at(LX_1_1, "garbage")
    v = (await service.transition(req.id, "escalate", await staff("haixi"), req.version, note="需街道协调")).version
    street = await staff("liuxiang")
    v = (await service.transition(req.id, "accept", street, v)).version
    v = (await service.transition(req.id, "resolve", street, v, note="已协调")).version
    last = (await open_leads(req.id))[0]
    await submit_at(LX_1_2, "garbage")  # a newer lead assignment elsewhere
    await service.transition(req.id, "reopen", reporter, v)
    now = await state(req.id)
    assert (now["current_unit"], now["current_person"], now["level"]) == (last["unit"], last["person"], "street")
    assert now["resolved_at"] is None and now["status"] == "assigned"


async def test_the_first_acceptance_time_is_kept_and_an_answer_accepts_and_resolves_its_lead() -> None:
    t0 = utcnow() - timedelta(hours=3)
    req, _ = await submit_at(LX_1_1, "garbage")
    worker = await staff("wg_lx_1_1")
    untouched, _ = await submit_at(LX_1_1, "garbage")
    lead_of_req = (await open_leads(req.id))[0]
    await service.transition(req.id, "accept", worker, req.version, now=t0)
    assert aware((await state(req.id))["accepted_at"]) == t0
    accepted = await Assignment.select(Assignment.accepted_at).where(Assignment.id == lead_of_req["id"]).first()
    assert aware(accepted["accepted_at"]) == t0
    assert (await open_leads(untouched.id))[0]["accepted_at"] is None  # only this request's lead
    event = await Event.select(Event.assignment).where((Event.request == req.id) & (Event.action == "accept")).first()
    assert event["assignment"] == lead_of_req["id"]  # the step names the assignment it was taken on
    asked, _ = await submit_at(LX_1_1, "garbage")
    lead = (await open_leads(asked.id))[0]
    await service.transition(asked.id, "answer", await staff("wg_lx_1_1"), asked.version, note="请带身份证办理", now=t0)
    row = await Assignment.select().where(Assignment.id == lead["id"]).first()
    assert aware(row["accepted_at"]) == t0 and aware(row["resolved_at"]) == t0
    assert aware((await state(asked.id))["accepted_at"]) == t0


async def test_internal_notes_stay_with_the_staff_unless_published() -> None:
    def flagged(data: object) -> bool:
        return bool((data if isinstance(data, dict) else {}).get("note_internal"))

    async def last_event(rid: int) -> dict:
        return await Event.select(Event.data, Event.note).where(Event.request == rid).order_by(
            Event.id, ascending=False).output(load_json=True).first()

    hidden, _ = await submit_at(LX_1_1, "garbage")
    await service.transition(hidden.id, "escalate", await staff("haixi"), hidden.version, note="居民情绪激动")
    assert flagged((await last_event(hidden.id))["data"])
    shown, _ = await submit_at(LX_1_1, "garbage")
    await service.transition(shown.id, "escalate", await staff("haixi"), shown.version, note="需街道协调",
                             note_public=True)
    assert not flagged((await last_event(shown.id))["data"])
    progress, _ = await submit_at(LX_1_1, "garbage")
    await service.transition(progress.id, "progress", await staff("wg_lx_1_1"), progress.version, note="已联系物业")
    assert not flagged((await last_event(progress.id))["data"])  # not an internal action: its note is public


async def test_a_note_may_be_exactly_as_long_as_the_limit() -> None:
    req, _ = await submit_at(LX_1_1, "garbage")
    worker = await staff("wg_lx_1_1")
    with pytest.raises(RequestError):
        await service.transition(req.id, "progress", worker, req.version, note="字" * (MAX_NOTE + 1))
    assert (await service.transition(req.id, "progress", worker, req.version, note="字" * MAX_NOTE)).version


async def test_a_withdrawal_closes_its_own_assignments_only() -> None:
    mine, reporter = await submit_at(LX_1_1, "garbage")
    other, _ = await submit_at(LX_1_1, "garbage")
    await service.transition(mine.id, "withdraw", reporter, mine.version)
    assert await open_leads(mine.id) == []
    assert len(await open_leads(other.id)) == 1  # another request of the same community keeps its lead
