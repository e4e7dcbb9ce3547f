"""Benchmark: the resident submission path against a bare one-INSERT handler, load from ``wrk``.

    scripts/bench submit [-- --connections 50 --seconds 10 --rounds 3 --rate 50]

Starts its own Redis and embedded PostgreSQL (tests/bench/services.py), migrates, loads the demo
district, then runs two uvicorn processes on loopback in this same run: the real app (POST /report as
a signed-in resident: session cookie, CSRF header, validation, request + assignment + first event,
light clocks and the handler's notice, timers queued after the commit; no photos) and a bare
Litestar app whose one handler does one INSERT of a similar request row on the same database.

Load comes from ``wrk`` (C; tests/bench/wrk.py, installed from Debian's packages when missing), each
request with a unique idempotency key. Saturation: ``connections`` connections back to back, real and
bare alternating for ``rounds`` rounds. Then a steady offered load of ``rate`` submissions a second
(each connection pauses connections/rate on average before its next request; the achieved rate is
printed) for the p95 goal. Every line: rate, p50/p95/p99, errors (any status but 303, socket errors),
CPU per request of the web process and of PostgreSQL (from /proc), wrk's own CPU, the load average.
The rows in the database are counted against the 303s (no lost submission). Goals (issue 22): real
≥ 35% of bare, p95 ≤ 100 ms at 50/s. BENCH_KEEP=1 keeps the servers' logs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BARE_APP = '''
import os, uuid
from litestar import Litestar, Request, post
from litestar.response import Response
from backend.db import engine, utcnow
from backend.requests.tables import Request as Req
async def start(app):
    await engine().start_connection_pool(min_size=2, max_size=20)

async def stop(app):
    await engine().close_connection_pool()

@post("/bare", status_code=303)
async def bare(request: Request) -> Response:
    form = await request.form()
    now = utcnow()
    await Req.insert(Req(code="B" + uuid.uuid4().hex[:15], kind=form.get("kind"), category=int(form.get("category")),
        description=form.get("description"), community=int(form.get("community")), address=form.get("address"),
        is_public=form.get("is_public") == "1", status="assigned", idempotency_key=form.get("idempotency_key"),
        created_at=now, updated_at=now))
    return Response("", status_code=303, headers={"Location": "/done"})

app = Litestar([bare], on_startup=[start], on_shutdown=[stop])
'''


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(env: dict[str, str], base: Path) -> None:
    """The bare app's module, then migrate and load the demo district in a child process with ``env``."""
    (base / "bench_bare_app.py").write_text(BARE_APP)
    code = "import asyncio; from backend.cli import migrate, demo; asyncio.run(migrate()); asyncio.run(demo())"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def serve(app: str, env: dict[str, str], port: int, workers: int = 1) -> subprocess.Popen:
    """uvicorn on loopback; ``workers`` > 1: that many processes sharing the port (the README's WEB_CONCURRENCY)."""
    log = open(Path(env["QG_DATA_DIR"]) / f"server-{port}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
         "--log-level", "warning", *(["--workers", str(workers)] if workers > 1 else [])], env=env, cwd=ROOT,
        stdout=log if os.environ.get("BENCH_KEEP") else subprocess.DEVNULL, stderr=log)
    import httpx

    deadline = time.monotonic() + 120  # a loaded shared machine starts a process slowly
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


async def resident_cookies(base_url: str, phone: str) -> dict[str, str]:
    import httpx

    async with httpx.AsyncClient(base_url=base_url) as c:
        await c.get("/")
        token = c.cookies["csrftoken"]
        r = await c.post("/login/code", data={"phone": phone}, headers={"x-csrftoken": token})
        code = re.search(r'data-testid="demo-code">[^<]*<strong>(\d{6})</strong>', r.text).group(1)
        r = await c.post("/login/verify", data={"phone": phone, "code": code}, headers={"x-csrftoken": token})
        assert r.status_code == 303, r.text
        return dict(c.cookies)


def ids(env: dict[str, str]) -> tuple[int, int]:
    code = ("import asyncio\nfrom backend.routing.tables import Category\n"
            "from backend.organisation.tables import Unit\n"
            "async def m():\n c = await Category.select(Category.id).where(Category.code == 'garbage').first()\n"
            " u = await Unit.select(Unit.id).where(Unit.code == 'LX-1').first()\n print(c['id'], u['id'])\n"
            "asyncio.run(m())")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    a, b = out.stdout.split()
    return int(a), int(b)


def start_profiler(pid: int, seconds: float, out: str) -> subprocess.Popen:
    """py-spy (installed in the venv by this bench's user: ``pip install py-spy``) sampling ``pid``."""
    return subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "-d",
                             f"{seconds:g}", "-r", "200", "-f", "raw", "-o", out, "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


DB_FIGURES = """
import asyncio, json
from backend.db import engine, fetch_tuples
async def m():
    db = engine()
    await db.start_connection_pool(min_size=1, max_size=1)
    (lsn,), = await fetch_tuples("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
    (size,), = await fetch_tuples(
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")
    (rows,), = await fetch_tuples("SELECT count(*) FROM request WHERE code NOT LIKE 'B%'")
    print(json.dumps({"wal": lsn, "size": size, "rows": rows}))
    await db.close_connection_pool()
asyncio.run(m())
"""


def db_figures(env: dict[str, str]) -> dict[str, int]:
    """WAL position, size of every table with its indexes and TOAST, and the real path's rows."""
    import json

    out = subprocess.run([sys.executable, "-c", DB_FIGURES], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def count_requests(env: dict[str, str]) -> int:
    code = ("import asyncio\nfrom backend.requests.tables import Request\n"
            "print(asyncio.run(Request.count().where(Request.code.not_like('B%')).run()))")
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


async def bench(connections: int, seconds: float, rounds: int, rate: float, profile: str) -> None:
    from tests.bench.services import bench_services

    with bench_services("qg-bench-submit-") as svc:
        svc.env["PYTHONPATH"] += f":{svc.base}"  # the bare app's module
        svc.env.setdefault("QG_DEMO_HISTORY", "0")  # the district without its year of history: 2 min less set-up
        prepare(svc.env, svc.base)
        await against(svc.env, svc.data_dir, connections, seconds, rounds, rate, profile)


async def against(env: dict[str, str], data_dir: Path, connections: int, seconds: float, rounds: int,
                  rate: float, profile: str = "") -> None:
    from tests.bench import wrk

    wrk.ensure_wrk()
    procs: list[subprocess.Popen] = []
    try:
        category, community = ids(env)
        form = {"kind": "help", "category": str(category), "description": "楼道里堆满了垃圾，已经一周没人清理",
                "community": str(community), "address": "柳巷南路 18 号", "is_public": "1"}
        body = urlencode(form)
        real_port, bare_port = free_port(), free_port()
        procs.append(serve("backend.app:app", env, real_port))
        procs.append(serve("bench_bare_app:app", env, bare_port))
        real_url, bare_url = f"http://127.0.0.1:{real_port}", f"http://127.0.0.1:{bare_port}"
        cookies = await resident_cookies(real_url, "13900000001")
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        db = wrk.postmaster_pid(data_dir)
        common = {"db_pid": db, "connections": connections, "method": "POST", "body": body, "expect": 303,
                  "unique_keys": True}
        real_args = {"server_pids": [procs[0].pid], "cookie": cookie, "csrf": cookies.get("csrftoken", "")}
        bare_args = {"server_pids": [procs[1].pid]}
        print(f"PostgreSQL (embedded), wrk -t2 -c{connections}, {seconds:g} s per run, {rounds} rounds, "
              f"{os.cpu_count()} CPUs, load average {wrk.load_average()} (1/5/15 min)")
        # warm-up (not counted): first connections, caches, the planner
        wrk.run("warm", real_url, paths=["/report"], seconds=2, **common, **real_args)
        wrk.run("warm", bare_url, paths=["/bare"], seconds=2, **common, **bare_args)
        if profile:  # py-spy's collapsed stacks of the real server under saturation (a run of its own)
            spy = start_profiler(procs[0].pid, seconds, profile)
            print(wrk.run("profiled", real_url, paths=["/report"], seconds=seconds, **common, **real_args).line())
            spy.wait(60)
            print(f" profile (py-spy, collapsed stacks) in {profile}")
        rows0 = count_requests(env)
        good = 0
        ratios: list[float] = []
        cpu_ratio: list[float] = []
        errors = 0
        wal: list[float] = []
        size: list[float] = []
        for n in range(1, rounds + 1):
            before = db_figures(env)
            real = wrk.run("submit", real_url, paths=["/report"], seconds=seconds, **common, **real_args)
            after = db_figures(env)
            wal.append((after["wal"] - before["wal"]) / max(1, after["rows"] - before["rows"]))
            size.append((after["size"] - before["size"]) / max(1, after["rows"] - before["rows"]))
            bare = wrk.run("bare", bare_url, paths=["/bare"], seconds=seconds, **common, **bare_args)
            good += real.requests - real.errors
            errors += real.errors
            ratios.append(real.rate / bare.rate if bare.rate else float("nan"))
            cpu_ratio.append((real.app_ms + real.db_ms) / (bare.app_ms + bare.db_ms))
            print(f" round {n}: saturation, {connections} connections")
            print(real.line())
            print(bare.line())
            print(f"  ratio {ratios[-1]:.0%} of bare")
        delay = connections / rate * 1000
        paced = wrk.run("submit@rate", real_url, paths=["/report"], seconds=seconds, delay_ms=delay, **common,
                        **real_args)
        paced_bare = wrk.run("bare@rate", bare_url, paths=["/bare"], seconds=seconds, delay_ms=delay, **common,
                             **bare_args)
        good += paced.requests - paced.errors
        errors += paced.errors
        rows = count_requests(env) - rows0
        print(f" steady load: {rate:g}/s offered ({connections} connections, a pause of {delay:.0f} ms on average)")
        print(paced.line())
        print(paced_bare.line())
        ratio = statistics.median(ratios)
        print(f" median ratio {ratio:.0%} of bare (goal ≥ 35%: {'met' if ratio >= 0.35 else 'NOT met'}); "
              f"p95 at {paced.rate:.0f}/s {paced.p95:.0f} ms (goal ≤ 100 ms: "
              f"{'met' if paced.p95 <= 100 else 'NOT met'}); errors {errors}; CPU (web + db) per submission "
              f"{statistics.median(cpu_ratio):.1f}× the bare insert's")
        print(f" per submission (saturation rounds, median): WAL {statistics.median(wal) / 1024:.1f} KiB, "
              f"database growth {statistics.median(size) / 1024:.1f} KiB (tables, indexes, TOAST; fsync off)")
        # wrk stops with up to one request per connection in flight: the server still completes those
        in_flight = (rounds + 1) * connections
        ok = good <= rows <= good + in_flight
        print(f" rows written by the real path: {rows}; answered 303: {good}; cut off in flight at wrk's stop: "
              f"{rows - good} (at most {in_flight}): {'no submission lost' if ok else 'MISMATCH'}")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rate", type=float, default=50.0, help="offered submissions per second of the steady run")
    ap.add_argument("--profile", default="", help="write a py-spy profile (collapsed stacks) of the real server here")
    args = ap.parse_args()
    asyncio.run(bench(args.connections, args.seconds, args.rounds, args.rate, args.profile))


if __name__ == "__main__":
    main()
