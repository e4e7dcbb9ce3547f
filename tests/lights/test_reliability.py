"""Timers with a REAL Redis and a REAL arq worker: killed workers, flushed Redis, duplicate runs,
acceptance one second before the deadline and reassignment. Times are injected (assignments opened
in the past), so nothing sleeps for hours."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

from arq.constants import default_queue_name, health_check_key_suffix
from arq.worker import Worker

from backend.jobs import arq_pool, redis_settings
from backend.lights.tables import LightClock
from backend.redis import redis_client
from backend.requests import service as requests
from tests.support.lights import clock, lead_of, light_events, new_request
from tests.support.people import staff
from workers import lights as light_jobs

ROOT = Path(__file__).resolve().parents[2]


async def run_worker(*, with_sweep: bool = False) -> Worker | None:
    """An in-process arq worker (burst) that runs every job due now, and the sweep cron if asked."""
    from workers.settings import FUNCTIONS, LIGHT_CRONS

    pool = await arq_pool()
    ready = await pool.zcount(default_queue_name, "-inf", int(time.time() * 1000))
    budget = ready + (1 if with_sweep else 0)
    if budget == 0:
        return None
    worker = Worker(functions=FUNCTIONS, cron_jobs=LIGHT_CRONS if with_sweep else None,
                    redis_settings=redis_settings(), burst=True, max_burst_jobs=budget, poll_delay=0.05,
                    handle_signals=False, max_jobs=100, keep_result=60)
    try:
        await asyncio.wait_for(worker.main(), timeout=60)
    finally:
        await worker.close()
    return worker


async def test_worker_killed_between_scheduling_and_deadline_still_lights() -> None:
    pool = await arq_pool()
    health = default_queue_name + health_check_key_suffix
    await pool.delete(health)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from arq.cli import cli; cli()", "workers.settings.WorkerSettings",
        cwd=ROOT, env=os.environ.copy(), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        for _ in range(300):  # the worker is up once it records its health
            if await pool.exists(health):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("worker did not start")
        # Scheduled while the worker runs: yellow is due 1.5 s from now.
        req = await new_request(timedelta(hours=24) - timedelta(seconds=1.5))
        lead = await lead_of(req.id)
        job_id = f"light:{lead['id']}:accept:yellow:{lead['version']}"
        assert await pool.zscore(default_queue_name, job_id) is not None
        proc.send_signal(signal.SIGKILL)  # dies before the deadline
        await asyncio.wait_for(proc.wait(), 10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 10)
    await asyncio.sleep(1.6)  # the deadline passes with no worker alive
    assert await light_events(req.id) == []
    await run_worker()  # a worker comes back: the deferred job is still there and flips the light
    assert await light_events(req.id) == [("accept", "yellow", lead["id"])]


async def test_redis_flushed_the_sweep_lights_everything_due_exactly_once() -> None:
    reqs = [await new_request(timedelta(hours=30)) for _ in range(3)]
    await redis_client().flushdb()  # every scheduled job is gone
    await run_worker(with_sweep=True)
    await run_worker(with_sweep=True)
    for req in reqs:
        lead = await lead_of(req.id)
        assert await light_events(req.id) == [("accept", "yellow", lead["id"])]
        assert (await clock(lead["id"]))["next_due_at"] is not None  # red still to come


async def test_the_same_job_run_twice_writes_one_light_event() -> None:
    req = await new_request(timedelta(hours=25))
    lead = await lead_of(req.id)
    args = (lead["id"], "accept", "yellow", lead["version"])
    assert await light_jobs.light_fire({}, *args) == 1
    assert await light_jobs.light_fire({}, *args) == 0
    await run_worker()  # the queued copy of the same job runs too
    results = await asyncio.gather(*(light_jobs.light_fire({}, *args) for _ in range(5)))
    assert sum(results) == 0
    assert await light_events(req.id) == [("accept", "yellow", lead["id"])]


async def test_accepted_one_second_before_the_deadline_never_lights() -> None:
    req = await new_request(timedelta(hours=25))
    lead = await lead_of(req.id)
    deadline = (await clock(lead["id"]))["yellow_due_at"]
    from backend.db import aware

    await requests.transition(req.id, "accept", await staff("wg_lx_1_1"), req.version,
                              now=aware(deadline) - timedelta(seconds=1))
    await run_worker(with_sweep=True)
    await light_jobs.light_fire({}, lead["id"], "accept", "yellow", lead["version"])
    assert await light_events(req.id) == []


async def test_reassignment_makes_the_old_timers_do_nothing() -> None:
    req = await new_request(timedelta(hours=25))
    old = await lead_of(req.id)
    opened = (await clock(old["id"]))["started_at"]
    from backend.db import aware

    await requests.transition(req.id, "escalate", await staff("haixi"), req.version, note="需街道协调",
                              now=aware(opened) + timedelta(hours=23))
    new = await lead_of(req.id)
    await run_worker(with_sweep=True)  # the old yellow job is due now and runs
    for color in ("yellow", "red"):
        assert await light_jobs.light_fire({}, old["id"], "accept", color, old["version"]) == 0
    assert await light_events(req.id) == []
    # A stale version of the new assignment's own timer is also a no-op.
    await LightClock.update({LightClock.version: 2}).where(LightClock.assignment == new["id"])
    assert await light_jobs.light_fire({}, new["id"], "accept", "yellow", 1) == 0
