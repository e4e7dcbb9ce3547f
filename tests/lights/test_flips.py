"""The flip's edges, found untested by the mutation run of issue 24: a light due at this very instant, a stop
exactly at its deadline whose hook never ran, a stopped clock with a stale deadline, a job with a bad
payload, a busy flipper, a burst lit by one job, and repaired clocks' timers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from arq.constants import default_queue_name, job_key_prefix

from backend.db import aware, engine, utcnow
from backend.lights import flips
from backend.lights.tables import LightClock
from backend.redis import redis_client
from backend.requests import service as requests
from backend.requests.tables import Event
from tests.support.lights import clock, lead_of, light_events, new_request
from tests.support.people import staff


async def test_a_light_due_this_very_instant_lights_with_its_hours() -> None:
    req = await new_request(timedelta(hours=23))
    lead = await lead_of(req.id)
    due = aware((await clock(lead["id"]))["yellow_due_at"])
    assert await flips.fire(lead["id"], "accept", "yellow", lead["version"], now=due - timedelta(seconds=1)) == []
    lit = await flips.fire(lead["id"], "accept", "yellow", lead["version"], now=due)
    assert [(f.request_id, f.color) for f in lit if f.request_id == req.id] == [(req.id, "yellow")]
    event = await Event.select(Event.data).where((Event.request == req.id) & (Event.action == "light")).output(
        load_json=True).first()
    assert event["data"]["hours"] == 24  # "超过 24 小时未受理"


async def test_a_stop_exactly_at_the_deadline_never_lights_though_its_hook_never_ran() -> None:
    req = await new_request(timedelta(hours=30))
    lead = await lead_of(req.id)
    due = aware((await clock(lead["id"]))["yellow_due_at"])
    await requests.transition(req.id, "accept", await staff("wg_lx_1_1"), req.version, now=due)
    await LightClock.update({LightClock.stopped_at: None, LightClock.stop_reason: "",
                             LightClock.next_due_at: due}).where(LightClock.assignment == lead["id"])
    await flips.sweep(now=due + timedelta(hours=1))
    assert await light_events(req.id) == []
    healed = await clock(lead["id"])
    assert aware(healed["stopped_at"]) == due and healed["next_due_at"] is None


async def test_a_stopped_clock_with_a_stale_deadline_is_put_right_and_lights_nothing() -> None:
    req = await new_request(timedelta(hours=2))
    lead = await lead_of(req.id)
    await requests.transition(req.id, "accept", await staff("wg_lx_1_1"), req.version)
    stopped = await clock(lead["id"])
    stale = aware(stopped["yellow_due_at"])
    await LightClock.update({LightClock.next_due_at: stale}).where(LightClock.id == stopped["id"])
    await flips.sweep(now=stale + timedelta(hours=1))
    assert (await clock(lead["id"]))["next_due_at"] is None  # not picked up by every later sweep
    assert await light_events(req.id) == []


async def test_a_job_with_an_unknown_stage_or_colour_does_nothing() -> None:
    req = await new_request(timedelta(hours=25))
    lead = await lead_of(req.id)
    assert await flips.fire(lead["id"], "accept", "blue", lead["version"]) == []
    assert await flips.fire(lead["id"], "lunch", "yellow", lead["version"]) == []
    assert await light_events(req.id) == []


async def test_a_job_does_not_queue_behind_a_busy_flipper() -> None:
    """A job that finds another process flipping gives its pooled connection back (FlipBusy: arq retries)."""
    req = await new_request(timedelta(hours=25))
    lead = await lead_of(req.id)
    holder = await engine().get_new_connection()
    try:
        async with holder.transaction():
            await holder.execute("SELECT pg_advisory_xact_lock($1)", flips.FLIP_LOCK_KEY)
            with pytest.raises(flips.FlipBusy):  # at once, not after waiting for the lock
                await asyncio.wait_for(
                    flips.fire(lead["id"], "accept", "yellow", lead["version"], retry_when_busy=True), 10)
    finally:
        await holder.close()
    assert await light_events(req.id) == []
    assert [f.color for f in await flips.fire(lead["id"], "accept", "yellow", lead["version"], retry_when_busy=True)
            if f.request_id == req.id] == ["yellow"]


async def test_one_job_lights_the_whole_burst_due_with_it(monkeypatch) -> None:
    """Deadlines come in bursts: the first job lights everything due, batch after batch, in one run."""
    monkeypatch.setattr(flips, "BATCH", 2)
    reqs = [await new_request(timedelta(hours=25)) for _ in range(5)]  # yellow due an hour ago, red not yet
    first = await lead_of(reqs[0].id)
    lit = await flips.fire(first["id"], "accept", "yellow", first["version"])
    assert {r.id for r in reqs} <= {f.request_id for f in lit}
    for r in reqs:
        assert [(stage, color) for stage, color, _a in await light_events(r.id)] == [("accept", "yellow")]


async def test_the_sweep_schedules_the_timers_of_the_clocks_it_repairs() -> None:
    req = await new_request(timedelta(minutes=5))
    lead = await lead_of(req.id)
    jobs = [f"light:{lead['id']}:{stage}:{color}:{lead['version']}" for stage in ("accept", "resolve")
            for color in ("yellow", "red")]
    # as if made outside the service: no clocks, no timers
    await LightClock.delete().where(LightClock.assignment == lead["id"])
    await redis_client().delete(*(job_key_prefix + job for job in jobs))
    await redis_client().zrem(default_queue_name, *jobs)
    await flips.sweep(now=utcnow())
    assert (await clock(lead["id"]))["stopped_at"] is None  # repaired
    for job in jobs:
        assert await redis_client().exists(job_key_prefix + job), job
        assert await redis_client().zscore(default_queue_name, job) is not None, job
