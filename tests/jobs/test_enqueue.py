"""Our enqueue writes arq's own job format: a stock arq worker runs it, and a job id is enqueued once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from arq.jobs import Job as ArqJob
from arq.jobs import JobStatus
from arq.worker import Worker, func

from backend.db import utcnow
from backend.jobs import Job, arq_pool, enqueue, enqueue_jobs, redis_settings, sent_together
from backend.stats.rollup import CATCH_UP_JOB, CATCH_UP_WINDOW_MS, queue_catch_up

ran: list[tuple[int, str]] = []


async def record(ctx: dict, n: int, text: str) -> str:
    ran.append((n, text))
    return f"{n}:{text}"


async def test_a_job_id_is_enqueued_once_and_an_arq_worker_runs_it() -> None:
    ran.clear()
    pool = await arq_pool()
    assert await enqueue_jobs([Job("record", (1, "一"), "job-a"), Job("record", (2, "二"), "job-a")]) == 1
    await enqueue("record", 1, "again", job_id="job-a")  # a duplicate id: refused
    await enqueue("record", 3, "三")  # no id: arq's own kind of id
    assert len(await pool.queued_jobs()) == 2
    worker = Worker(functions=[func(record, name="record")], redis_settings=redis_settings(), burst=True,
                    poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    assert sorted(ran) == [(1, "一"), (3, "三")]
    assert await ArqJob("job-a", pool).result(timeout=1) == "1:一"
    await enqueue("record", 1, "again", job_id="job-a")  # its result is kept: still refused
    assert await pool.queued_jobs() == []
    later = utcnow() + timedelta(hours=1)
    await enqueue("record", 4, "later", job_id="job-later", defer_until=later)
    info = await ArqJob("job-later", pool).info()
    assert info is not None and info.function == "record" and info.args == (4, "later")
    assert abs(info.score - later.timestamp() * 1000) < 2  # deferred to its time
    assert await ArqJob("job-later", pool).status() == JobStatus.deferred


async def test_jobs_sent_together_wait_for_the_end_of_the_block() -> None:
    """A response's held work (timers, the receipt, the rollup's nudge) goes to Redis in one round trip at the
    end: none of it is queued before, all of it after, and an id taken twice is still queued once."""
    pool = await arq_pool()
    before = {j.job_id for j in await pool.queued_jobs()}
    async with sent_together():
        await enqueue("record", 5, "五", job_id="together-a")
        await enqueue_jobs([Job("record", (6, "六"), "together-b"), Job("record", (7, "七"), "together-a")])
        assert {j.job_id for j in await pool.queued_jobs()} == before  # nothing sent yet
    queued = {j.job_id: j.args for j in await pool.queued_jobs()}
    assert set(queued) - before == {"together-a", "together-b"}
    assert queued["together-a"] == (5, "五")


async def test_the_rollup_is_nudged_once_per_window_of_changes() -> None:
    """Every change asks for a catch-up at the end of its window: one job per window, however many changes it
    saw."""
    pool = await arq_pool()
    window = timedelta(milliseconds=CATCH_UP_WINDOW_MS)
    start = datetime(2026, 12, 2, 8, 0, 0, tzinfo=UTC)  # a window's start (whole minutes divide the windows)
    for at in (start, start + window / 3, start + window * 0.99, start + window, start + window * 1.5):
        await queue_catch_up(at)
    jobs = sorted((j for j in await pool.queued_jobs() if j.job_id.startswith("stats-catch-up:")),
                  key=lambda j: j.score)
    assert [datetime.fromtimestamp(j.score / 1000, UTC) for j in jobs] == [start + window, start + 2 * window]
    assert {j.function for j in jobs} == {CATCH_UP_JOB}
