"""The one transition service: states, permissions, versions, append-only events."""

from __future__ import annotations

import pytest

from backend.requests import service
from backend.requests.service import InvalidState, NewRequest, NotAllowed, RequestError, StaleVersion
from backend.requests.tables import Assignment, Event, Request
from backend.routing.tables import Category
from tests.support.people import resident, staff, unit


async def _new(code: str = "LX-1", category: str = "garbage", kind: str = "help", **kw):
    reporter = await resident()
    community = await unit(code)
    cat = await Category.objects().where(Category.code == category).first()
    req, created = await service.submit(
        NewRequest(kind=kind, category_id=cat.id, description="楼道里堆满垃圾", community_id=community.id, **kw),
        reporter,
    )
    assert created
    return req, reporter


async def test_submit_lands_at_community_with_grid_worker() -> None:
    req, _ = await _new()
    worker = await staff("wg_lx_1_1")
    community = await unit("LX-1")
    assert req.status == "assigned"
    assert req.current_unit == community.id and req.current_person == worker.id
    assert req.code.startswith("YZ") and len(req.code) == 12
    events = await Event.select().where(Event.request == req.id)
    assert [e["action"] for e in events] == ["submit"]
    leads = await Assignment.select().where(Assignment.request == req.id)
    assert len(leads) == 1 and leads[0]["is_open"] and leads[0]["person"] == worker.id


async def test_accept_resolve_and_version_check() -> None:
    req, _ = await _new()
    worker = await staff("wg_lx_1_1")
    r1 = await service.transition(req.id, "accept", worker, req.version)
    assert r1.to_status == "accepted" and r1.version == req.version + 1
    with pytest.raises(StaleVersion):
        await service.transition(req.id, "resolve", worker, req.version, note="已清理")
    r2 = await service.transition(req.id, "resolve", worker, r1.version, note="已清理")
    assert r2.to_status == "resolved"
    row = await Request.objects().where(Request.id == req.id).first()
    assert row.status == "resolved" and row.resolved_at is not None


async def test_refused_actions_change_nothing() -> None:
    req, _reporter = await _new()
    other_community = await staff("nanhaijie")
    before = await Request.select().where(Request.id == req.id).first()
    n_events = await Event.count().where(Event.request == req.id)
    with pytest.raises(NotAllowed):
        await service.transition(req.id, "accept", other_community, req.version)
    with pytest.raises(InvalidState):
        await service.transition(req.id, "resolve", await staff("wg_lx_1_1"), req.version, note="x")
    with pytest.raises(RequestError):
        await service.transition(req.id, "escalate", await staff("haixi"), req.version, note="")
    with pytest.raises(NotAllowed):
        await service.transition(req.id, "withdraw", await resident(), req.version)
    after = await Request.select().where(Request.id == req.id).first()
    assert before == after
    assert await Event.count().where(Event.request == req.id) == n_events


async def test_events_cannot_be_updated_or_deleted() -> None:
    req, _ = await _new()
    with pytest.raises(Exception, match="append-only"):
        await Event.update({Event.note: "forged"}).where(Event.request == req.id)
    with pytest.raises(Exception, match="append-only"):
        await Event.delete().where(Event.request == req.id)
    assert (await Event.select(Event.note).where(Event.request == req.id).first())["note"] == ""


async def test_idempotency_key_creates_once() -> None:
    reporter = await resident()
    community = await unit("LX-1")
    cat = await Category.objects().where(Category.code == "noise").first()
    data = NewRequest(kind="complaint", category_id=cat.id, description="夜间噪音", community_id=community.id,
                      idempotency_key="key-" + reporter.phone)
    a, created_a = await service.submit(data, reporter)
    b, created_b = await service.submit(data, reporter)
    assert created_a and not created_b and a.id == b.id
    assert await Request.count().where(Request.idempotency_key == data.idempotency_key) == 1


async def test_who_may_do_what_on_a_community_led_request() -> None:
    """RULES as a table (issue 24's mutants): the lead hands on and reports progress; the command center
    may not act as the lead (it dispatches); a duplicate is closed as such by the lead or the command center."""
    req, _ = await _new()
    worker, cc = await staff("wg_lx_1_1"), await staff("zhzx")
    for action in ("accept", "progress", "escalate"):
        with pytest.raises(NotAllowed):
            await service.transition(req.id, action, cc, req.version, note="指挥中心越级")
    r = await service.transition(req.id, "progress", worker, req.version, note="已到现场")
    assert (r.to_status, (await Request.objects().get(Request.id == req.id)).status) == ("assigned", "assigned")
    r = await service.transition(req.id, "escalate", worker, r.version, note="需街道协调")
    street = await unit("LX")
    row = await Request.select(Request.status, Request.current_unit).where(Request.id == req.id).first()
    assert (row["status"], row["current_unit"]) == ("assigned", street.id)
    twin, _ = await _new()
    r = await service.transition(twin.id, "mark_duplicate", worker, twin.version, note="同一问题",
                                 data={"duplicate_of": req.id, "original_code": req.code})
    assert r.to_status == "duplicate"
    third, _ = await _new()
    r = await service.transition(third.id, "mark_duplicate", cc, third.version, note="同一问题",
                                 data={"duplicate_of": req.id, "original_code": req.code})
    assert r.to_status == "duplicate"


async def test_close_assist_closes_an_assist_only() -> None:
    """The command center ends assists; pointed at the lead's assignment it ends nothing."""
    req, _ = await _new()
    lead = await Assignment.select().where((Assignment.request == req.id) & (Assignment.role == "lead")).first()
    with pytest.raises(InvalidState, match="没有可结束的协办任务"):
        await service.transition(req.id, "close_assist", await staff("zhzx"), req.version, assignment_id=lead["id"])
    assert (await Assignment.select(Assignment.is_open).where(Assignment.id == lead["id"]).first())["is_open"]


async def test_withdrawal_closes_the_open_assignment_and_stops_its_clocks() -> None:
    """A withdrawn request is nobody's task any more: its lead assignment closes and its lights' clocks stop
    (a withdrawn request must never light)."""
    from backend.lights.tables import LightClock

    req, reporter = await _new()
    await service.transition(req.id, "withdraw", reporter, req.version)
    rows = await Assignment.select(Assignment.is_open, Assignment.closed_at).where(Assignment.request == req.id)
    assert rows and all(not r["is_open"] and r["closed_at"] is not None for r in rows)
    clocks = await LightClock.select(LightClock.stopped_at).where(LightClock.request == req.id)
    assert len(clocks) == 2 and all(c["stopped_at"] is not None for c in clocks)
