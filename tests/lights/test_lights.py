"""Clocks start with an assignment, stop on accept/resolve/close, and flip each light exactly once."""

from __future__ import annotations

from datetime import timedelta

from backend.db import utcnow
from backend.lights import service
from backend.lights.tables import Explanation, LightClock, LightRule
from backend.notify.service import render
from backend.notify.tables import Notification
from backend.requests import service as requests
from backend.requests.tables import Assignment
from tests.support.lights import clock, lead_of, light_events, new_request
from tests.support.people import staff, unit


async def test_submit_starts_both_clocks_with_the_seed_deadlines() -> None:
    req = await new_request(timedelta(hours=1))
    lead = await lead_of(req.id)
    accept, resolve = await clock(lead["id"], "accept"), await clock(lead["id"], "resolve")
    opened = service.aware(lead["opened_at"])
    assert service.aware(accept["yellow_due_at"]) == opened + timedelta(hours=24)
    assert service.aware(accept["red_due_at"]) == opened + timedelta(hours=48)
    assert service.aware(resolve["yellow_due_at"]) == opened + timedelta(days=5)
    assert service.aware(resolve["red_due_at"]) == opened + timedelta(days=7)
    assert accept["version"] == lead["version"] and accept["stopped_at"] is None


async def test_sweep_lights_yellow_then_red_once_with_events_explanation_and_notices() -> None:
    req = await new_request(timedelta(hours=30))
    lead = await lead_of(req.id)
    await service.sweep()
    await service.sweep()
    assert await light_events(req.id) == [("accept", "yellow", lead["id"])]
    worker = await staff("wg_lx_1_1")
    assert any(req.code in render(n)["title"] for n in await Notification.select().where(
        (Notification.account == worker.id) & (Notification.kind == "light")))
    # Eighteen more hours pass (injected): red, an explanation task for the head, the command center told.
    later = utcnow() + timedelta(hours=18, minutes=1)
    await service.sweep(now=later)
    await service.sweep(now=later + timedelta(minutes=1))
    assert await light_events(req.id) == [("accept", "yellow", lead["id"]), ("accept", "red", lead["id"])]
    ex = await Explanation.select().where(Explanation.request == req.id).first()
    assert ex["unit"] == (await unit("LX-1")).id and ex["status"] == "open"
    assert service.aware(ex["due_at"]) == later + timedelta(hours=24)
    head, cc = await staff("haixi_head"), await staff("zhzx")
    assert await Notification.exists().where((Notification.account == head.id) & (Notification.kind == "explanation"))
    assert any(req.code in render(n)["title"] for n in await Notification.select().where(Notification.account == cc.id))


async def test_accept_stops_the_accept_clock_and_keeps_the_resolve_clock() -> None:
    req = await new_request(timedelta(hours=10))
    lead = await lead_of(req.id)
    await requests.transition(req.id, "accept", await staff("wg_lx_1_1"), req.version)
    accept, resolve = await clock(lead["id"], "accept"), await clock(lead["id"], "resolve")
    assert accept["stopped_at"] is not None and accept["stop_reason"] == "accepted" and accept["next_due_at"] is None
    assert resolve["stopped_at"] is None
    await service.sweep(now=utcnow() + timedelta(days=3))
    assert await light_events(req.id) == []
    await service.sweep(now=utcnow() + timedelta(days=5))
    assert await light_events(req.id) == [("resolve", "yellow", lead["id"])]


async def test_escalation_closes_old_clocks_and_starts_new_ones() -> None:
    req = await new_request(timedelta(hours=20))
    old = await lead_of(req.id)
    await requests.transition(req.id, "escalate", await staff("haixi"), req.version, note="需要街道协调")
    new = await lead_of(req.id)
    assert new["id"] != old["id"]
    assert (await clock(old["id"]))["stop_reason"] == "closed"
    new_clock = await clock(new["id"])
    assert new_clock["unit"] == (await unit("LX")).id and new_clock["stopped_at"] is None
    await service.sweep(now=utcnow() + timedelta(hours=5))  # old yellow would be due now, the new one is not
    assert await light_events(req.id) == []


async def test_late_acceptance_still_counts_the_missed_deadline() -> None:
    """Accepted after the deadline but before any job ran: the light is due, and it flips."""
    req = await new_request(timedelta(hours=25))
    lead = await lead_of(req.id)
    await requests.transition(req.id, "accept", await staff("wg_lx_1_1"), req.version)
    await service.sweep()
    assert await light_events(req.id) == [("accept", "yellow", lead["id"])]
    assert (await clock(lead["id"]))["next_due_at"] is None  # red can no longer light: accepted before it


async def test_missing_clocks_are_repaired_by_the_sweep() -> None:
    """A crash between the commit and the hook leaves an assignment without clocks: the sweep creates them."""
    req = await new_request(timedelta(hours=25))
    lead = await lead_of(req.id)
    await LightClock.delete().where(LightClock.assignment == lead["id"])
    await service.sweep()
    assert await light_events(req.id) == [("accept", "yellow", lead["id"])]


async def test_rules_per_category_and_refusals() -> None:
    admin, zhzx = await staff("admin"), await staff("zhzx")
    from backend.routing.tables import Category

    cat = await Category.objects().where(Category.code == "garbage").first()
    before = await LightRule.count()
    for kwargs, field in [({"yellow_hours": 10, "red_hours": 10}, "red_hours"),
                          ({"yellow_hours": 10, "red_hours": 5}, "red_hours"),
                          ({"yellow_hours": "abc", "red_hours": 5}, "yellow_hours"),
                          ({"yellow_hours": 1, "red_hours": 5, "office_hours": "9-5"}, "office_hours")]:
        args = {"category_id": cat.id, "stage": "accept", "clock": "working", "office_hours": ""} | kwargs
        try:
            await service.save_rule(admin, **args)
        except service.LightError as exc:
            assert exc.field == field
        else:
            raise AssertionError(f"accepted {kwargs}")
    try:
        await service.save_rule(zhzx, category_id=cat.id, stage="accept", yellow_hours=1, red_hours=2,
                                clock="natural", office_hours="")
    except service.LightError as exc:
        assert exc.status == 403
    assert await LightRule.count() == before
    rule_id = await service.save_rule(admin, category_id=cat.id, stage="accept", yellow_hours=2, red_hours=4,
                                      clock="natural", office_hours="")
    try:
        spec = await service.rule_for(cat.id, "accept")
        assert (spec.yellow_hours, spec.red_hours) == (2, 4)
        req = await new_request(timedelta(hours=3))
        assert await service.sweep() >= 1
        assert [c for _, c, _ in await light_events(req.id)] == ["yellow"]
    finally:
        await service.delete_rule(admin, rule_id)
    assert (await service.rule_for(cat.id, "accept")).yellow_hours == 24


async def test_a_sweep_counts_what_it_lit_and_lights_are_staff_only_events() -> None:
    """sweep() returns the lights it flipped (the worker logs it); a light event is internal: the public
    timeline of a request never shows the unit's lights."""
    from datetime import UTC, datetime

    from backend.requests.tables import Event
    from tests.support.history import History, fresh_category

    t0 = datetime(2018, 3, 1, 2, 0, tzinfo=UTC)  # a year no other test uses
    h = await History.submit((await fresh_category()).id, t0)
    await service.sweep(now=t0)  # whatever older clocks are due anywhere: lit now, before ours is due
    assert await service.sweep(now=t0 + timedelta(hours=30)) == 1
    assert await service.sweep(now=t0 + timedelta(hours=31)) == 0
    assert await service.sweep(now=t0 + timedelta(hours=49)) == 1
    rows = await Event.select(Event.is_public).where((Event.request == h.id) & (Event.action == "light"))
    assert len(rows) == 2 and not any(r["is_public"] for r in rows)


async def test_each_clock_records_what_stopped_it() -> None:
    """Resolving stops the resolve clock as "resolved"; a hand-on after acceptance stops it as "closed"."""
    resolved = await new_request(timedelta(hours=2))
    lead = await lead_of(resolved.id)
    worker = await staff("wg_lx_1_1")
    version = (await requests.transition(resolved.id, "accept", worker, resolved.version)).version
    # as if the acceptance's hook never ran: the accept clock still runs when the request is resolved
    await LightClock.update({LightClock.stopped_at: None, LightClock.stop_reason: ""}).where(
        LightClock.key == f"{lead['id']}:accept")
    await requests.transition(resolved.id, "resolve", worker, version, note="已修好")
    done = await clock(lead["id"], "resolve")
    assert done["stop_reason"] == "resolved" and done["next_due_at"] is None
    healed = await clock(lead["id"], "accept")  # stopped when it was accepted, not when it was resolved
    accepted_at = (await Assignment.select(Assignment.accepted_at).where(Assignment.id == lead["id"]).first())[
        "accepted_at"]
    assert healed["stop_reason"] == "accepted" and healed["stopped_at"] == accepted_at

    handed_on = await new_request(timedelta(hours=2))
    old = await lead_of(handed_on.id)
    version = (await requests.transition(handed_on.id, "accept", worker, handed_on.version)).version
    await requests.transition(handed_on.id, "escalate", await staff("haixi"), version, note="需要街道协调")
    assert (await clock(old["id"], "resolve"))["stop_reason"] == "closed"


def test_a_clock_stopped_exactly_at_its_deadline_lights_nothing_more() -> None:
    from backend.lights.clocks import next_due

    due = utcnow()
    clock_row = {"yellow_due_at": due, "red_due_at": due + timedelta(hours=24), "yellow_lit_at": None,
                 "red_lit_at": None}
    assert next_due(clock_row, None) == due  # running: its yellow is next
    assert next_due(clock_row, due) is None  # stopped at the instant: in time
    assert next_due(clock_row, due + timedelta(microseconds=1)) == due  # a moment late: yellow still lights
    lit = clock_row | {"yellow_lit_at": due}
    assert next_due(lit, None) == due + timedelta(hours=24)  # then red
    assert next_due(lit, due + timedelta(hours=1)) is None  # unless it stopped before that
