"""Benchmark: mixed load of 200 simulated users on two web processes and two workers, one PostgreSQL.

    scripts/bench mixed [-- --users 200 --seconds 30 --think 1000 --web 2 --workers 2 --layout shared
                            --lit-share 1.0 --warmup 5 --profile DIR]

The horizontal claim (issue 22): ``web`` web processes and ``workers`` arq workers against one embedded
PostgreSQL and one Redis. ``--layout shared`` (the default) runs them as the README recommends on one machine:
one uvicorn with ``WEB_CONCURRENCY`` = ``web`` worker processes sharing one port (the kernel hands each new
connection to a process waiting for one). ``--layout ports``: separate uvicorn processes, each its own port
(as on two machines behind a proxy), every generator's users split evenly over them.
Load from four ``wrk`` generators, after ``--warmup`` seconds of the same load that are not counted (the
pools' connections and their prepared statements; the warm-up's submissions are checked with the others).
Each user is a connection that pauses ``think`` ms on average, uniform ×0.5–1.5, before each request: three
generators of resident users on the pages ``/``, ``/my``, ``/r/<code>`` with every 5th request a submission
(unique idempotency key), one of grid workers on ``/staff/inbox`` and ``/staff/field``.

The garbage category's light rules are shortened to seconds (accept: yellow 6 s, red 12 s; resolve:
yellow 18 s, red 24 s), and ``--lit-share`` of the submissions (default: all) go to it, so that their four
lights fall due during or right after the run (the others go to a category with its usual rules: a real
district's lights are few, the default is a storm of them);
then the bench waits for the workers (deferred timers, the one-minute sweep) and checks in the
database: every light of every submitted request lit exactly once (one event each, none missing,
none twice) and every submission answered 303 has its row (the rows beyond are the requests cut off
in flight when wrk stopped). Prints per generator rate, p50/p95/p99 and errors; CPU per request of
the web processes, of the workers and of PostgreSQL; the generators' CPU; the load average.
Goal: p95 ≤ 250 ms, 0 errors. ``--profile DIR``: py-spy's collapsed stacks of every web process and worker
during the load (web-1.txt, …, worker-1.txt, …).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_pages import (  # noqa: E402
    GRID_WORKER,
    a_request_page,
    busiest_resident,
    cookie_header,
    db_script,
    run_code,
    staff_cookies,
)
from tests.bench.bench_submit import free_port, ids, resident_cookies, serve, start_profiler  # noqa: E402

SHORT_RULES = db_script("""
from backend.lights.tables import LightRule
from backend.routing.tables import Category
cat = await Category.select(Category.id).where(Category.code == 'garbage').first()
await LightRule.delete().where(LightRule.category == cat['id'])
for stage, y, r in (('accept', 6, 12), ('resolve', 18, 24)):
    await LightRule.insert(LightRule(category=cat['id'], stage=stage, yellow_hours=y / 3600, red_hours=r / 3600,
                                     clock='natural'))
""")

CHECK = db_script("""
since = datetime.fromisoformat(sys.argv[1])
rows = await fetch_tuples("SELECT count(*) FROM request WHERE created_at >= {}::timestamptz AND code NOT LIKE 'B%'",
                          since)
lights = await fetch_tuples(
    "SELECT e.request, e.data::jsonb->>'stage', e.data::jsonb->>'color', count(*) FROM event e "
    "JOIN request r ON r.id = e.request WHERE r.created_at >= {}::timestamptz AND e.action = 'light' "
    "GROUP BY 1, 2, 3", since)
short = await fetch_tuples("SELECT count(*) FROM request WHERE created_at >= {}::timestamptz AND category = {}",
                          since, int(sys.argv[2]))
print(json.dumps({"rows": rows[0][0], "short": short[0][0], "lights": [list(x) for x in lights]}))
""")


# What PostgreSQL's busy backends wait on during the load (pg_stat_activity every 0.2 s): where a request's time
# goes when the web processes are not busy (a lock, the WAL, the client, or nothing: running).
WAITS = db_script("""
waits, samples, end = collections.Counter(), 0, time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    for state, kind, event, n in await fetch_tuples(
            "SELECT state, coalesce(wait_event_type, 'CPU'), coalesce(wait_event, '-'), count(*) "
            "FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND state <> 'idle' GROUP BY 1, 2, 3"):
        waits[f"{state}: {kind}/{event}"] += n
    samples += 1
    await asyncio.sleep(0.2)
print(json.dumps({"samples": samples, "waits": waits.most_common(8)}))
""")


OTHER_CATEGORY = db_script("""
rows = await fetch_tuples("SELECT id FROM category WHERE active AND code <> 'garbage' ORDER BY sort, id LIMIT 1")
print(rows[0][0])
""")

STAFFED = db_script("""
rows = await fetch_tuples(
    "SELECT u.id FROM unit u WHERE u.kind = 'community' AND EXISTS (SELECT 1 FROM membership m JOIN unit g "
    "ON g.id = m.unit WHERE g.path LIKE u.path || '%') ORDER BY u.id")
print(" ".join(str(r[0]) for r in rows))
""")


class _Pid:
    """A process this bench did not start itself (a uvicorn worker under its supervisor): its pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid


def _merged(parts: list[dict]) -> dict:
    """One generator's figures from its wrk processes (one per port): counts added, percentiles of the
    slowest part (an upper bound; with one port there is one part)."""
    if len(parts) == 1:
        return parts[0]
    out = {k: sum(p[k] for p in parts) for k in ("requests", "good", "bad", "socket_errors", "s303")}
    out["duration_us"] = max(p["duration_us"] for p in parts)
    for k in ("p50_us", "p95_us", "p99_us"):
        out[k] = max(p[k] for p in parts)
    return out


def staffed_communities(env: dict[str, str]) -> list[int]:
    return [int(x) for x in run_code(env, STAFFED).split()]


def start_code(env: dict[str, str], code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def start_worker(env: dict[str, str], n: int, base: Path) -> subprocess.Popen:
    log = open(base / f"worker-{n}.log", "ab")
    return subprocess.Popen([sys.executable, "-m", "arq", "workers.settings.WorkerSettings"], env=env, cwd=ROOT,
                            stdout=log, stderr=log)


async def bench(users: int, seconds: float, think: float, webs: int, workers: int, layout: str = "shared",
                lit_share: float = 1.0, warmup: float = 5.0, profile: str = "") -> None:
    from tests.bench import wrk
    from tests.bench.bench_pages import prepare
    from tests.bench.services import bench_services

    wrk.ensure_wrk()
    with bench_services("qg-bench-mixed-") as svc:
        prepare(svc.env)
        run_code(svc.env, SHORT_RULES)
        category, community = ids(svc.env)
        procs: list[subprocess.Popen] = []
        try:
            if layout == "shared":
                ports = [free_port()]
                procs.append(serve("backend.app:app", svc.env, ports[0], workers=webs))
                for _ in range(100):  # the supervisor starts its workers one after the other
                    webp = [_Pid(pid) for pid in wrk.children(procs[-1].pid, 'spawn_main')]
                    if len(webp) >= webs:
                        break
                    await asyncio.sleep(0.1)
            else:
                ports = [free_port() for _ in range(webs)]
                webp = [serve("backend.app:app", svc.env, p) for p in ports]
                procs += webp
            workp = [start_worker(svc.env, n, svc.base) for n in range(workers)]
            procs += workp
            urls = [f"http://127.0.0.1:{p}" for p in ports]
            res_c = await resident_cookies(urls[0], busiest_resident(svc.env)[0])
            resident = cookie_header(res_c)
            worker = cookie_header(await staff_cookies(urls[0], GRID_WORKER))
            page = await a_request_page(urls[0], res_c)
            # one body per staffed community, taken in turn: a district's reports spread over its communities
            communities = staffed_communities(svc.env) or [community]
            # ``lit_share`` of the bodies (spread evenly) in the category whose lights fall due within seconds,
            # the others in a category with its usual rules (hours: nothing falls due during the run)
            other = int(run_code(svc.env, OTHER_CATEGORY))
            body = "\n".join(urlencode({"kind": "help", "category": str(category if int((i + 1) * lit_share) >
                                                                          int(i * lit_share) else other),
                                         "community": str(c), "description": "楼道灯坏了，晚上看不见",
                                         "address": "柳巷南路 18 号", "is_public": "1"})
                             for i, c in enumerate(communities))
            db = wrk.postmaster_pid(svc.data_dir)
            await asyncio.sleep(3)  # the workers' start-up sweeps
            since = run_code(svc.env, "from backend.db import utcnow; print(utcnow().isoformat())").strip()
            per = users // 4
            specs = [
                (f"residents-{i + 1}", dict(paths=["/", "/my", page], cookie=resident, csrf=res_c.get("csrftoken", ""),
                                            post_every=5, post_path="/report", body=body, unique_keys=True,
                                            expect="200,303"))
                for i in range(3)
            ] + [("grid-workers", dict(paths=["/staff/inbox", "/staff/field"], cookie=worker))]
            where = (f"one port, {len(webp)} uvicorn worker processes (WEB_CONCURRENCY={webs})" if layout == "shared"
                     else f"{webs} ports, each generator's users split evenly over them")
            print(f"{len(webp)} web processes ({where}), {workers} arq workers, one PostgreSQL; {users} users in "
                  f"4 wrk generators, think {think:g} ms, {seconds:g} s, submissions spread over {len(communities)} "
                  f"communities; load average {wrk.load_average()}")
            warm_posted = 0
            if warmup > 0:  # the same load, not counted: the pools' connections and their prepared statements
                warming = [wrk.launch(url, connections=per // len(urls), threads=1, seconds=warmup, delay_ms=think,
                                      **opts) for _name, opts in specs for url in urls]
                warm_posted = sum(wrk.collect(p)["s303"] for p in warming)
            cpu0 = ([wrk.tree_cpu(p.pid) for p in webp], [wrk.tree_cpu(p.pid) for p in workp], wrk.tree_cpu(db))
            wrk.children_cpu_delta()
            t0 = time.monotonic()
            sampler = start_code(svc.env, WAITS, str(seconds))
            spies = []
            if profile:
                spies = [start_profiler(p.pid, seconds, f"{profile}/{kind}-{n + 1}.txt")
                         for kind, group in (("web", webp), ("worker", workp)) for n, p in enumerate(group)]
            running = [(name, [wrk.launch(url, connections=per // len(urls), threads=1, seconds=seconds,
                                          delay_ms=think, **opts) for url in urls])
                       for name, opts in specs]
            results = [(name, _merged([wrk.collect(p) for p in ps])) for name, ps in running]
            for spy in spies:
                spy.wait(60)
            wall = time.monotonic() - t0
            cpu1 = ([wrk.tree_cpu(p.pid) for p in webp], [wrk.tree_cpu(p.pid) for p in workp], wrk.tree_cpu(db))
            gen = wrk.children_cpu_delta()
            load = wrk.load_average()
            total = sum(r["requests"] for _, r in results)
            errors = sum(r["bad"] + r["socket_errors"] for _, r in results)
            worst95 = max(r["p95_us"] for _, r in results) / 1000
            for name, r in results:
                print(f"  {name:<12} {r['good'] / (r['duration_us'] / 1e6):6.1f} req/s  p50 {r['p50_us'] / 1000:6.1f}"
                      f"  p95 {r['p95_us'] / 1000:6.1f}  p99 {r['p99_us'] / 1000:6.1f} ms  errors "
                      f"{r['bad'] + r['socket_errors']}")
            web_cpu = [b - a for a, b in zip(cpu0[0], cpu1[0], strict=True)]
            print(f"  all          {total / wall:6.1f} req/s, errors {errors}, worst generator's p95 {worst95:.1f} ms "
                  f"(goal ≤ 250 ms, 0 errors: {'met' if worst95 <= 250 and errors == 0 else 'NOT met'})")
            print(f"  CPU: web processes {' + '.join(f'{c / wall:.0%}' for c in web_cpu)} of a core "
                  f"({sum(web_cpu) / total * 1000:.2f} ms/request), workers "
                  f"{(sum(cpu1[1]) - sum(cpu0[1])) / wall:.0%}, PostgreSQL {(cpu1[2] - cpu0[2]) / wall:.0%} "
                  f"({(cpu1[2] - cpu0[2]) / total * 1000:.2f} ms/request), wrk {gen / wall:.0%}; load average {load}")
            waits = json.loads(sampler.communicate(timeout=60)[0])
            print(f"  PostgreSQL's non-idle client backends, average over {waits['samples']} samples: " + ", ".join(
                f"{name} {n / waits['samples']:.1f}" for name, n in waits["waits"]))
            # the pages answer 200: every 303 is a submission (the warm-up's too: its rows are checked as well)
            posted = sum(r["s303"] for _, r in results) + warm_posted
            # the lights: wait until every deadline (≤ 24 s after the last submission) and a sweep have passed
            deadline = time.monotonic() + 100
            while True:
                found = json.loads(run_code(svc.env, CHECK, since, str(category)))
                counts = [c for *_x, c in found["lights"]]
                complete = len(found["lights"]) == 4 * found["short"]
                if complete or time.monotonic() > deadline:
                    break
                await asyncio.sleep(5)
            twice = sum(1 for c in counts if c > 1)
            in_flight = found["rows"] - posted  # cut off when wrk stopped: written, never answered to wrk
            cut_max = users * (2 if warmup > 0 else 1)  # the warm-up's wrk stopped too
            print(f"  submissions (with the warm-up's): {posted} answered 303, {found['rows']} rows written "
                  f"({in_flight} cut off in flight at wrk's stops, at most {cut_max}): "
                  f"{'none lost' if 0 <= in_flight <= cut_max else 'MISMATCH'}")
            print(f"  lights: {len(found['lights'])} lit of {4 * found['short']} due (4 per request of the "
                  f"{found['short']} with second-long rules), "
                  f"{twice} lit more than once: {'exactly once' if complete and not twice else 'NOT exactly once'}")
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:  # a worker mid-job (the demo history's fill): stop it hard
                    p.kill()
                    p.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--think", type=float, default=1000.0, help="mean pause before each request, ms")
    ap.add_argument("--web", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--layout", choices=("shared", "ports"), default="shared",
                    help="shared: one port, WEB_CONCURRENCY processes (the README); ports: a port per process")
    ap.add_argument("--lit-share", type=float, default=1.0,
                    help="share of the submissions whose four lights fall due within 24 s (the rest: usual rules)")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of the same load before, not counted")
    ap.add_argument("--profile", default="", help="write py-spy profiles (collapsed stacks) of the processes here")
    args = ap.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    asyncio.run(bench(args.users, args.seconds, args.think, args.web, args.workers, args.layout, args.lit_share,
                      args.warmup, args.profile))


if __name__ == "__main__":
    main()
