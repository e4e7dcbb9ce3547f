"""Lights exactly once: several real worker processes racing on the same due clocks, a stale reader, a stop
whose transition hook never ran, and a timer of an older schedule."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from arq.constants import default_queue_name, health_check_key_suffix

from backend.db import aware, utcnow, write_transaction
from backend.jobs import arq_pool
from backend.lights import flips as lights
from backend.lights.tables import Explanation, LightClock
from backend.requests import service as requests
from backend.requests.tables import Assignment
from tests.support.lights import clock, lead_of, light_events, new_request
from tests.support.people import staff

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 3
COPIES = 4  # copies of each light's job, under distinct ids, so that workers run them at the same moment


async def test_three_worker_processes_light_every_clock_exactly_once() -> None:
    reqs = [await new_request(timedelta(hours=50)) for _ in range(12)]  # yellow and red both due
    leads = [await lead_of(r.id) for r in reqs]
    pool = await arq_pool()
    race_ids = [f"race{i}:{lead['id']}:{color}" for lead in leads for color in ("yellow", "red") for i in range(COPIES)]
    version = {lead["id"]: lead["version"] for lead in leads}
    for job_id in race_ids:
        _copy, assignment, color = job_id.split(":")
        await pool.enqueue_job("light_fire", int(assignment), "accept", color, version[int(assignment)], _job_id=job_id)
    await pool.delete(default_queue_name + health_check_key_suffix)
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from arq.cli import cli; cli()", "workers.settings.WorkerSettings",
        cwd=ROOT, env=os.environ.copy(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(WORKERS)]  # each also runs the start-up sweep over the same clocks
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lit = await LightClock.count().where(LightClock.assignment.is_in([lead["id"] for lead in leads])
                                                 & LightClock.red_lit_at.is_not_null() & (LightClock.stage == "accept"))
            queued = [j for j in race_ids if await pool.zscore(default_queue_name, j) is not None]
            if lit == len(leads) and not queued:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError("the workers did not light every clock in time")
    finally:
        for p in procs:
            if p.returncode is None:
                p.terminate()
        for p in procs:
            try:
                await asyncio.wait_for(p.wait(), 15)
            except TimeoutError:
                p.kill()
    for req, lead in zip(reqs, leads, strict=True):
        assert await light_events(req.id) == [("accept", "yellow", lead["id"]), ("accept", "red", lead["id"])]
        assert await Explanation.count().where(Explanation.assignment == lead["id"]) == 1


async def test_a_reader_that_saw_the_clock_before_another_lit_it_lights_nothing() -> None:
    """Two flips that read the clock before either committed: the conditional UPDATE lets one win."""
    req = await new_request(timedelta(hours=25))
    lead = await lead_of(req.id)
    stale = await lights._clock_query().where(LightClock.key == f"{lead['id']}:accept").first()
    now = utcnow()
    async with write_transaction():
        first = await lights._flip(dict(stale), "yellow", None, now, events := [])
        await lights.record_many(events, now=now)
    async with write_transaction():
        second = await lights._flip(dict(stale), "yellow", None, now, events := [])  # still says "not lit"
        await lights.record_many(events, now=now)
    assert [f.color for f in first] == ["yellow"] and second == []
    assert await light_events(req.id) == [("accept", "yellow", lead["id"])]


async def test_a_stop_whose_hook_never_ran_still_prevents_the_light() -> None:
    """Accepted before the deadline, but the clock never heard of it (a crash between the two): the flip
    reads the assignment's own stop time, lights nothing and heals the clock."""
    req = await new_request(timedelta(hours=30))
    lead = await lead_of(req.id)
    due = aware((await clock(lead["id"]))["yellow_due_at"])
    accepted = due - timedelta(minutes=10)
    await requests.transition(req.id, "accept", await staff("wg_lx_1_1"), req.version, now=accepted)
    # Undo what the hook did, as if it had never run.
    await LightClock.update({LightClock.stopped_at: None, LightClock.stop_reason: "",
                             LightClock.next_due_at: due}).where(LightClock.assignment == lead["id"])
    assert aware((await Assignment.select(Assignment.accepted_at).where(
        Assignment.id == lead["id"]).first())["accepted_at"]) == accepted
    assert await lights.fire(lead["id"], "accept", "yellow", lead["version"]) == []
    assert await lights.sweep() >= 0
    assert await light_events(req.id) == []
    healed = await clock(lead["id"])
    assert aware(healed["stopped_at"]) == accepted


async def test_a_timer_of_the_old_schedule_does_nothing_while_the_new_one_lights() -> None:
    """Rescheduled (version bumped) while the old job is about to run: only the new schedule counts."""
    req = await new_request(timedelta(hours=25))
    lead = await lead_of(req.id)
    await LightClock.update({LightClock.version: LightClock.version + 1}).where(LightClock.assignment == lead["id"])
    assert await lights.fire(lead["id"], "accept", "yellow", lead["version"]) == []  # the old job
    assert await light_events(req.id) == []
    flips = await lights.fire(lead["id"], "accept", "yellow", lead["version"] + 1)  # the new one
    assert [f.color for f in flips] == ["yellow"]
    assert await light_events(req.id) == [("accept", "yellow", lead["id"])]
