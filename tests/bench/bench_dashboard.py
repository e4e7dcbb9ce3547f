"""Benchmark: the command-center dashboard over generated, realistic histories.

    .venv/bin/python tests/bench/bench_dashboard.py [--requests 1000000] [--days 365] [--samples 20]
        [--copies 10] [--growth]

Starts its own Redis and embedded PostgreSQL (tests/bench/services.py), migrates, loads the demo
district, then bulk-inserts requests, assignments and their append-only events straight into the
tables (asyncpg COPY; the triggers only refuse UPDATE and DELETE), spread over ``--days``
days: submit, some escalations to the street, acceptance (lognormal delays, yellow/red light
events past 24 h/48 h), resolution, ratings (satisfied/basic/dissatisfied → reopen → resolved
again), "not rated" closes after 7 days, withdrawals, and a recent open backlog.

The worker's rollup catch-up then derives one fact row per request from the events, and the day
cube (per-day sums and duration histograms) with them (timed), and
50 requests get a new event afterwards, so every view also reads a live delta from the event log.
Then it measures, through the real ASGI app signed in as the command-center dispatcher:
GET /dashboard for the default 30 days, for one street, for a whole year (month grain), the
htmx poll of the live block, and GET /public/stats. Prints generation time, p50/p95 and the figures.

``--copies 10`` then makes the history ten times larger by copying it in SQL (tests/bench/growth.py: 10 M
requests and 50 M events from 1 M; a sample of the copies is re-derived by the worker's code and compared)
and measures again; ``--growth`` also runs, at each size, the submission bench (wrk, real against bare) and
wrk on the staff request page of random generated requests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BATCH = 20_000


def lognormal_hours(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0, sigma))


def history(rng: random.Random, rid: int, t: datetime, now: datetime, comm: int, street: int, cc: int):
    """Yield (events, assignments, request-columns) of one realistic request."""
    ev: list[tuple] = []  # (action, from, to, unit, data, at)
    status = "assigned"
    unit = comm
    level = "community"

    def add(action: str, to: str, at: datetime, data: dict | None = None) -> None:
        nonlocal status
        ev.append((action, status, to, unit, data or {}, at))
        status = to

    add("submit", "assigned", t, {"source": "resident", "level": "community"})
    assigns = [(comm, "community", t)]
    if rng.random() < 0.01:
        add("withdraw", "withdrawn", t + timedelta(minutes=30))
        return ev, assigns, status, level
    at = t
    if rng.random() < 0.08:  # the community cannot solve it alone: escalate to the street
        at = t + timedelta(hours=rng.uniform(0.5, 6))
        if at > now:
            return ev, assigns, status, level
        unit, level = street, "street"
        add("escalate", "assigned", at)
        assigns.append((street, "street", at))
    delay = lognormal_hours(rng, 3, 1.2)
    for hours, color in ((24, "yellow"), (48, "red")):
        if delay > hours and t + timedelta(hours=hours) <= now:
            add("light", status, t + timedelta(hours=hours), {"stage": "accept", "color": color})
    at = at + timedelta(hours=delay)
    if at > now:
        return ev, assigns, status, level
    add("accept", "accepted", at)
    rounds = 0
    while True:
        at = at + timedelta(hours=lognormal_hours(rng, 20, 1.0))
        if at > now:
            return ev, assigns, status, level
        add("resolve", "resolved", at)
        rated_at = at + timedelta(hours=rng.uniform(1, 72))
        if rng.random() < 0.9 and rated_at <= now:
            score = "dissatisfied" if rounds == 0 and rng.random() < 0.03 else (
                "basic" if rng.random() < 0.06 else "satisfied")
            add("rate", "resolved", rated_at, {"score": score})
            if score == "dissatisfied":
                add("reopen", "assigned", rated_at, {"reason": "dissatisfied", "score": score})
                assigns.append((unit, level, rated_at))
                at = rated_at + timedelta(hours=lognormal_hours(rng, 2, 0.8))
                if at > now:
                    return ev, assigns, status, level
                add("accept", "accepted", at)
                rounds += 1
                continue
            add("close", "closed", rated_at, {"reason": "rated", "score": score})
        elif at + timedelta(days=7) <= now:
            add("close", "closed", at + timedelta(days=7), {"reason": "not_rated"})
        return ev, assigns, status, level


async def generate(n: int, days: int, seed: int = 6) -> tuple[float, int, int]:
    """Returns (seconds, events, the first generated request's id)."""
    from backend.db import utcnow
    from backend.organisation.tables import Unit
    from backend.routing.tables import Category
    from backend.settings import get_settings

    rng = random.Random(seed)
    now = utcnow()
    start = now - timedelta(days=days)
    comms = await Unit.select(Unit.id, Unit.parent).where(Unit.kind == "community")
    cc = (await Unit.select(Unit.id).where(Unit.kind == "command_center").first())["id"]
    cats = [c["id"] for c in await Category.select(Category.id)]
    t0 = time.perf_counter()
    n_events = 0
    import asyncpg

    db = await asyncpg.connect(get_settings().database_url)
    base_req = await db.fetchval("SELECT COALESCE(MAX(id), 0) FROM request")
    base_asg = await db.fetchval("SELECT COALESCE(MAX(id), 0) FROM assignment")
    req_cols = ["id", "code", "kind", "category", "description", "is_public", "source", "contact_name",
                "contact_phone", "address", "street", "community", "status", "current_unit", "level", "urgent",
                "answer", "close_reason", "version", "created_at", "updated_at"]
    asg_cols = ["id", "request", "unit", "role", "level", "is_open", "opened_at", "close_reason", "version"]
    ev_cols = ["request", "actor_role", "action", "from_status", "to_status", "unit", "note", "is_public", "data",
               "created_at"]
    kinds = ["help"] * 6 + ["suggestion"] * 2 + ["consultation"] * 2 + ["complaint"]
    rid, aid = base_req, base_asg
    span = (now - start).total_seconds()
    done = 0
    while done < n:
        reqs, asgs, evs = [], [], []
        for _ in range(min(BATCH, n - done)):
            rid += 1
            c = rng.choice(comms)
            # more requests recently (a growing system), uniform-ish otherwise
            t = start + timedelta(seconds=span * (rng.random() ** 0.8))
            events, assigns, status, level = history(rng, rid, t, now, c["id"], c["parent"], cc)
            reqs.append((rid, f"B{rid:011d}", rng.choice(kinds), rng.choice(cats), "", True, "resident", "", "", "",
                         c["parent"], c["id"], status, events[-1][3], level, False, "", "", len(events),
                         t, events[-1][5]))
            for i, (unit, lvl, opened) in enumerate(assigns):
                aid += 1
                is_open = i == len(assigns) - 1 and status not in ("closed", "withdrawn")
                asgs.append((aid, rid, unit, "lead", lvl, is_open, opened, "", 1))
            for action, frm, to, unit, data, at in events:
                evs.append((rid, "", action, frm, to, unit, "", True, json.dumps(data), at))
        done += len(reqs)
        n_events += len(evs)
        await db.copy_records_to_table("request", records=reqs, columns=req_cols)
        await db.copy_records_to_table("assignment", records=asgs, columns=asg_cols)
        await db.copy_records_to_table("event", records=evs, columns=ev_cols)
        print(f"\r  generated {done:,}/{n:,} requests, {n_events:,} events", end="", flush=True)
    print()
    await db.execute("SELECT setval(pg_get_serial_sequence('request', 'id'), (SELECT MAX(id) FROM request))")
    await db.execute("SELECT setval(pg_get_serial_sequence('assignment', 'id'), (SELECT MAX(id) FROM assignment))")
    await db.execute("ANALYZE")
    await db.close()
    return time.perf_counter() - t0, n_events, base_req + 1


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, math.ceil(p * len(s)) - 1)]


async def measure(samples: int, year_samples: int) -> None:
    import re

    import httpx

    from backend.app import app
    from backend.organisation.tables import Unit

    street = await Unit.select(Unit.id).where(Unit.code == "LX").first()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as c:
        await c.get("/")
        r = await c.post("/staff/login", data={"username": "zhzx", "password": "demo1234"},
                         headers={"x-csrftoken": c.cookies["csrftoken"]})
        assert r.status_code == 303, r.text[:300]
        cases = [
            ("dashboard, last 30 days", "/dashboard", {}, samples),
            ("dashboard, 30 days, one street", f"/dashboard?unit={street['id']}", {}, samples),
            ("dashboard htmx poll (live block)", "/dashboard", {"HX-Request": "true"}, samples),
            ("dashboard, 365 days by month", "/dashboard?grain=month&start="
             + (datetime.now(UTC) - timedelta(days=364)).date().isoformat(), {}, year_samples),
            ("public statistics (this year)", "/public/stats", {}, year_samples),
        ]
        from backend.redis import redis_client

        async def drop_cache() -> None:
            keys = [k async for k in redis_client().scan_iter("qg:stats:*")]
            if keys:
                await redis_client().delete(*keys)

        for (label, url, headers, n), cold in [(case, cold) for case in cases for cold in (True, False)]:
            times = []
            body = ""
            for _ in range(n):
                if cold:
                    await drop_cache()
                t = time.perf_counter()
                r = await c.get(url, headers=headers)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, (url, r.status_code, r.text[:300])
                body = r.text
            label = f"{label} ({'cold' if cold else 'cached'})"
            figures = ""
            m = {k: re.search(rf'data-key="{k}">.*?data-value="([^"]*)"', body, re.S)
                 for k in ("accepted", "completed", "completion_rate", "satisfaction_rate", "community_share", "red")}
            if all(m.values()):
                figures = " ".join(f"{k}={v.group(1)[:8]}" for k, v in m.items())
            print(f"  {label:45s} n={n:3d} p50 {pct(times, .5):8.1f} ms  p95 {pct(times, .95):8.1f} ms  {figures}")


async def run(svc: Any, n: int, days: int, samples: int, year_samples: int, copies: int, growth: bool,
              live_edits: int = 50) -> None:
    import logging

    logging.disable(logging.INFO)
    from backend.cli import migrate
    from backend.db import engine as db_engine
    from backend.demo import load_demo

    await db_engine().start_connection_pool(min_size=2, max_size=20)
    try:
        await migrate()
        await load_demo()
        await measure_all(svc, n, days, samples, year_samples, copies, growth, live_edits)
    finally:
        from backend.jobs import close_arq_pool
        from backend.redis import close_redis

        await close_arq_pool()
        await close_redis()
        await db_engine().close_connection_pool()


async def edit_live(live_edits: int) -> None:
    """Changes the worker has not folded in yet: the dashboard reads them live from the events."""
    from backend.requests.service import record
    from backend.stats import rollup

    sample = await rollup.StatsFact.select(rollup.StatsFact.request).order_by(
        rollup.StatsFact.request, ascending=False).limit(live_edits)
    for r in sample:
        await record(r["request"], "comment_internal", note="bench", is_public=False)
    print(f"  {live_edits} requests changed after the catch-up (read live on every dashboard view)")


async def sizes() -> str:
    from backend.db import fetch_tuples

    rows = await fetch_tuples(
        "SELECT relname, reltuples::bigint, pg_total_relation_size(oid) FROM pg_class "
        "WHERE relname IN ('request', 'event', 'stats_fact') ORDER BY relname")
    return ", ".join(f"{name} {tuples:,} rows {size / 2**30:.1f} GiB" for name, tuples, size in rows)


async def measure_all(svc: Any, n: int, days: int, samples: int, year_samples: int, copies: int, growth: bool,
                      live_edits: int) -> None:
    from backend.settings import get_settings
    from backend.stats import rollup
    from tests.bench import growth as grow

    print(f"PostgreSQL (embedded) requests={n:,} days={days}")
    seconds, n_events, first = await generate(n, days)
    print(f"  generation: {seconds:.1f} s ({n / seconds:,.0f} requests/s, {n_events:,} events)")
    t = time.perf_counter()
    rows = await rollup.catch_up()  # what the worker does; afterwards it only folds in what changed
    print(f"  rollup built by the worker's catch-up from the events: {rows:,} rows in {time.perf_counter() - t:.1f} s")
    stages = [n] + ([n * copies] if copies > 1 else [])
    for stage, size in enumerate(stages):
        if stage:
            await rollup.catch_up()  # the live edits and the growth runs' submissions, as the worker would
            f = await grow.multiply(get_settings().database_url, first, n, copies)
            print(f"  copied ×{copies} in {f['copy_seconds']:.0f} s; every day and month summed again from the "
                  f"rollup rows in {f['rebuild_seconds']:.0f} s")
            t = time.perf_counter()
            from backend.db import fetch_tuples

            await fetch_tuples("VACUUM (ANALYZE)")
            print(f"  VACUUM (ANALYZE) in {time.perf_counter() - t:.0f} s")
            compared, differing = await grow.verify(f["first_copy"], f["first_copy"] + f["copied_requests"] - 1)
            print(f"  {compared} random copies re-derived by the worker's code: {differing} differ from their "
                  f"copied rollup rows")
            req, facts, cube = await grow.totals()
            print(f"  requests {req:,}, rollup rows {facts:,}, requests in the day cube {cube:,}")
        print(f"== {size:,} generated requests: {await sizes()}")
        if live_edits:
            await edit_live(live_edits)
        await measure(samples, year_samples)
        if growth:
            await measure_growth(svc)


async def measure_growth(svc: Any) -> None:
    """The submission (wrk, real against bare) and request pages of generated requests, on this database."""
    import httpx

    from tests.bench import wrk
    from tests.bench.bench_pages import staff_cookies
    from tests.bench.bench_submit import BARE_APP, against, free_port, serve

    (svc.base / "bench_bare_app.py").write_text(BARE_APP)
    env = dict(svc.env, PYTHONPATH=f"{svc.env['PYTHONPATH']}:{svc.base}")
    await against(env, svc.data_dir, connections=50, seconds=8, rounds=2, rate=50)
    port = free_port()
    proc = serve("backend.app:app", env, port)
    try:
        from backend.db import fetch_tuples

        rows = await fetch_tuples(
            "SELECT id, code FROM request WHERE code LIKE 'B%' AND length(code) = 12 ORDER BY random() LIMIT 500")
        paths = [f"/staff/requests/{r[0]}" for r in rows]
        url = f"http://127.0.0.1:{port}"
        cookies = await staff_cookies(url, "zhzx")  # the command center sees every request
        async with httpx.AsyncClient(cookies=cookies) as c:
            page = await c.get(url + paths[0])
        assert page.status_code == 200 and rows[0][1] in page.text, (page.status_code, page.text[:300])
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        db = wrk.postmaster_pid(svc.data_dir)
        wrk.run("warm", url, server_pids=[proc.pid], db_pid=db, connections=20, seconds=2, paths=paths, cookie=cookie)
        print(" request pages of 500 random generated requests (wrk -c20, the command center's dispatcher):")
        for _ in range(2):
            print(wrk.run("request page", url, server_pids=[proc.pid], db_pid=db, connections=20, seconds=8,
                          paths=paths, cookie=cookie).line())
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--year-samples", type=int, default=3, help="samples of the whole-year views (slow when cold)")
    ap.add_argument("--copies", type=int, default=1,
                    help="then copy the generated history this many times in all (tests/bench/growth.py) and "
                         "measure again")
    ap.add_argument("--growth", action="store_true",
                    help="at each size, also the submission (wrk, real against bare) and request pages")
    args = ap.parse_args()
    from tests.bench.services import bench_services

    with bench_services("qg-bench-dash-") as svc:
        svc.export()  # before the first backend import reads the settings
        asyncio.run(run(svc, args.requests, args.days, args.samples, args.year_samples, args.copies,
                        args.growth))

if __name__ == "__main__":
    main()
