"""Our enqueue writes arq's own job format: a stock arq worker runs it, and a job id is enqueued once."""

from __future__ import annotations

from datetime import timedelta

from arq.jobs import Job as ArqJob
from arq.jobs import JobStatus
from arq.worker import Worker, func

from backend.db import utcnow
from backend.jobs import Job, arq_pool, enqueue, enqueue_jobs, redis_settings

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
