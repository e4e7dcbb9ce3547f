"""Ratings: only the reporter, one per resolution; satisfied closes, dissatisfied reopens, silence closes."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from arq.constants import default_queue_name
from arq.worker import Worker

from backend.db import utcnow
from backend.jobs import arq_pool, redis_settings
from backend.ratings import service as ratings
from backend.ratings.tables import Rating
from backend.requests.tables import Assignment, Event, Request
from backend.routing.tables import Category
from tests.support.factories import fresh_phone
from tests.support.history import History, hours
from tests.support.people import resident


async def _resolved(phone: str | None = None, at=None) -> History:
    at = at or utcnow() - hours(3)
    cat = await Category.objects().where(Category.code == "garbage").first()
    h = await History.submit(cat.id, at, reporter=await resident(phone))
    await h.do("accept", at + hours(1))
    await h.do("resolve", at + hours(2))
    return h


async def _state(h: History) -> tuple[dict, list[str], int]:
    req = await Request.select().where(Request.id == h.id).first()
    actions = [e["action"] for e in await Event.select(Event.action).where(Event.request == h.id).order_by(Event.id)]
    return req, actions, await Rating.count().where(Rating.request == h.id)


async def test_my_requests_asks_for_the_rating_until_it_is_given(client) -> None:
    phone = fresh_phone()
    h = await _resolved(phone)
    await client.login_resident(phone)
    listing = await client.get("/my")
    assert 'data-testid="rating-due"' in listing.text and "您有 1 件诉求已办结" in listing.text
    assert f'href="/r/{h.code}#rate" data-testid="rate-link"' in listing.text
    r = await client.post(f"/r/{h.code}/rate", data={"score": "basic"})
    assert r.status_code == 303
    listing = await client.get("/my")
    assert 'data-testid="rating-due"' not in listing.text and 'data-testid="rate-link"' not in listing.text


async def test_satisfied_closes_the_request_with_a_rate_event(client) -> None:
    phone = fresh_phone()
    h = await _resolved(phone)
    await client.login_resident(phone)
    page = await client.get(f"/r/{h.code}")
    assert page.status_code == 200 and 'data-testid="rating-prompt"' in page.text
    r = await client.post(f"/r/{h.code}/rate", data={"score": "satisfied", "comment": "很快就处理好了"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"/r/{h.code}")
    req, actions, n = await _state(h)
    assert req["status"] == "closed" and req["close_reason"] == "rated"
    assert actions[-2:] == ["rate", "close"] and n == 1  # the rating first, then the close it caused
    rate = await Event.select(Event.data, Event.actor).where((Event.request == h.id) & (Event.action == "rate")).first()
    data = json.loads(rate["data"]) if isinstance(rate["data"], str) else rate["data"]
    assert data["score"] == "satisfied"
    assert rate["actor"] == h.reporter.id
    # One rating per resolution: a second try is refused and changes nothing.
    again = await client.post(f"/r/{h.code}/rate", data={"score": "dissatisfied"})
    assert again.status_code == 409
    assert await _state(h) == (req, actions, 1)
    page = await client.get(f"/r/{h.code}")
    assert 'data-testid="rating-prompt"' not in page.text


async def test_dissatisfied_reopens_to_the_same_lead_with_new_clocks(client) -> None:
    phone = fresh_phone()
    h = await _resolved(phone)
    before = await Assignment.select().where(Assignment.request == h.id).order_by(Assignment.id)
    await client.login_resident(phone)
    r = await client.post(f"/r/{h.code}/rate", data={"score": "dissatisfied", "comment": "问题没有解决"})
    assert r.status_code == 303
    req, actions, n = await _state(h)
    assert req["status"] == "assigned" and actions[-2:] == ["rate", "reopen"] and n == 1
    after = await Assignment.select().where(Assignment.request == h.id).order_by(Assignment.id)
    assert len(after) == len(before) + 1
    new = after[-1]
    assert new["is_open"] and new["unit"] == before[-1]["unit"] and new["role"] == "lead"
    assert new["opened_at"] > before[-1]["opened_at"]
    # The new resolution can be rated once more.
    await h.do("accept", utcnow())
    await h.do("resolve", utcnow())
    r = await client.post(f"/r/{h.code}/rate", data={"score": "basic"})
    assert r.status_code == 303
    req, actions, n = await _state(h)
    assert req["status"] == "closed" and n == 2 and actions.count("rate") == 2


async def test_only_the_reporter_may_rate(client, new_client) -> None:
    h = await _resolved()
    snapshot = await _state(h)
    for username in ("wg_lx_1_1", "haixi", "zhzx", "admin"):
        async with new_client() as staff_client:
            await staff_client.login_staff(username)
            r = await staff_client.post(f"/r/{h.code}/rate", data={"score": "satisfied"})
            assert r.status_code == 403, username
            assert (await staff_client.get(f"/r/{h.code}/rate")).status_code == 403
    async with new_client() as other:
        await other.login_resident(fresh_phone())
        r = await other.post(f"/r/{h.code}/rate", data={"score": "satisfied"})
        assert r.status_code == 404
    r = await client.post(f"/r/{h.code}/rate", data={"score": "satisfied"})
    assert r.status_code in (303, 401) and "login" in r.headers.get("location", "/login")
    assert await _state(h) == snapshot
    # The service refuses staff too, whatever the caller.
    from backend.requests.service import NotAllowed
    from tests.support.people import staff

    try:
        await ratings.rate(h.id, await staff("wg_lx_1_1"), "satisfied")
        raise AssertionError("staff rated")
    except NotAllowed:
        pass
    assert await _state(h) == snapshot


async def test_bad_input_is_refused_with_the_form_kept(client) -> None:
    phone = fresh_phone()
    h = await _resolved(phone)
    snapshot = await _state(h)
    await client.login_resident(phone)
    r = await client.post(f"/r/{h.code}/rate", data={"score": "great", "comment": "保留这段话"})
    assert r.status_code == 400 and 'aria-invalid="true"' in r.text and "保留这段话" in r.text
    r = await client.post(f"/r/{h.code}/rate", data={"score": "satisfied", "comment": "长" * 501})
    assert r.status_code == 400 and "500" in r.text
    assert await _state(h) == snapshot
    # A request that is not resolved cannot be rated.
    cat = await Category.objects().where(Category.code == "garbage").first()
    open_one = await History.submit(cat.id, utcnow(), reporter=h.reporter)
    r = await client.post(f"/r/{open_one.code}/rate", data={"score": "satisfied"})
    assert r.status_code == 409
    assert (await client.get(f"/r/{open_one.code}/rate")).status_code == 200


async def _run_ready_jobs() -> None:
    """A real arq worker, in burst mode, for exactly the jobs already due."""
    from workers.settings import WorkerSettings

    pool = await arq_pool()
    ready = await pool.zcount(default_queue_name, 0, int(time.time() * 1000))
    worker = Worker(functions=WorkerSettings.functions, redis_settings=redis_settings(), burst=True,
                    max_burst_jobs=ready, poll_delay=0.05, handle_signals=False, keep_result=0)
    try:
        await worker.main()
    finally:
        await worker.close()


async def test_not_rated_closes_by_the_worker_and_never_counts_as_satisfied() -> None:
    days = ratings.rating_days()
    # Resolved 8 days ago (injected time): the hook's deferred job is already due.
    h = await _resolved(at=utcnow() - timedelta(days=days + 1))
    fresh = await _resolved()  # resolved just now: its job is deferred, the worker must leave it alone
    pool = await arq_pool()
    assert await pool.zscore(default_queue_name, f"rating-timeout:{(await ratings.latest_resolution(h.id))['id']}")
    await _run_ready_jobs()
    req, actions, n = await _state(h)
    assert req["status"] == "closed" and req["close_reason"] == "not_rated" and n == 0
    assert actions[-1] == "close" and "rate" not in actions
    close = await Event.select(Event.actor, Event.data).where(
        (Event.request == h.id) & (Event.action == "close")).first()
    assert close["actor"] is None
    assert (await Request.select(Request.status).where(Request.id == fresh.id).first())["status"] == "resolved"
    from backend.stats.kpis import compute
    from backend.stats.service import facts_for

    k = compute(await facts_for([h.id]))
    assert k.completed == 1 and k.not_rated == 1 and k.ratings == 0 and k.ratings_good == 0
    assert k.satisfaction_rate is None


async def test_sweep_repairs_a_lost_job_and_a_late_job_is_harmless() -> None:
    h = await _resolved(at=utcnow() - timedelta(days=ratings.rating_days() + 2))
    resolution = await ratings.latest_resolution(h.id)
    await (await arq_pool()).flushdb()  # the job is lost
    assert await ratings.sweep_unrated() >= 1
    req, _actions, _n = await _state(h)
    assert req["status"] == "closed" and req["close_reason"] == "not_rated"
    n_events = await Event.count().where(Event.request == h.id)
    assert await ratings.auto_close(h.id, resolution["id"]) is False  # the late job: a no-op
    assert await Event.count().where(Event.request == h.id) == n_events


async def test_rating_window_not_over_leaves_the_request_open_for_rating() -> None:
    h = await _resolved()
    resolution = await ratings.latest_resolution(h.id)
    assert await ratings.auto_close(h.id, resolution["id"]) is False
    assert await ratings.auto_close(h.id, resolution["id"], now=utcnow() + timedelta(days=8)) is True
