"""Benchmark: the resident submission path under 50 concurrent clients, against a bare INSERT handler.

    .venv/bin/python tests/bench/bench_submit.py [--clients 50] [--seconds 6] [--rounds 3] [--paced-rate 1.0]

Starts its own Redis and embedded PostgreSQL (tests/bench/services.py), migrates, loads the demo
district, then runs uvicorn twice on loopback in this same run, both at once: the real app (POST
/report as a signed-in resident: session, CSRF, validation, request + assignment + first event,
light clocks and the handler's notice in one transaction, timers queued after the commit; no
photos) and a bare Litestar app whose one handler does one INSERT of a similar request row on the
same database.

Saturation: ``clients`` closed-loop clients, real and bare alternating for ``rounds`` rounds (the
machine's other load drifts; alternating spreads it over both). Prints requests/s, p50/p95 and the
ratio of each round and the median ratio. Under saturation a closed loop's latency is
clients / throughput (Little's law), so the p95 goal is measured at a steady offered load instead:
``clients`` clients each submitting ``paced-rate`` times a second (jittered), for both apps.
Goal: real ≥ 50% of bare, p95 ≤ 100 ms. BENCH_KEEP=1 keeps the servers' logs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

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


def serve(app: str, env: dict[str, str], port: int) -> subprocess.Popen:
    log = open(Path(env["QG_DATA_DIR"]) / f"server-{port}.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
         "--log-level", "warning"], env=env, cwd=ROOT,
        stdout=log if os.environ.get("BENCH_KEEP") else subprocess.DEVNULL, stderr=log)
    import httpx

    deadline = time.monotonic() + 30
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc): a figure the machine's other load does not inflate."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(base_url: str, path: str, cookies: dict[str, str], form: dict[str, str], clients: int,
               seconds: float, pid: int, *, paced_rate: float = 0.0,
               warm_up: float = 1.0) -> tuple[float, list[float], int, float]:
    """``clients`` concurrent loops of POSTs for ``seconds``: back to back, or ``paced_rate`` per second each.

    Returns (rate, latencies in s, errors, server CPU ms per request)."""
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies, limits=limits, timeout=30) as c:
        headers = {"x-csrftoken": cookies.get("csrftoken", "")}
        stop_at = 0.0

        async def worker() -> None:
            nonlocal errors
            if paced_rate:
                await asyncio.sleep(random.uniform(0, 1 / paced_rate))
            while time.perf_counter() < stop_at:
                data = form | {"idempotency_key": uuid.uuid4().hex}
                t0 = time.perf_counter()
                try:
                    r = await c.post(path, data=data, headers=headers)
                    status = r.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                dt = time.perf_counter() - t0
                if status == 303:
                    latencies.append(dt)
                else:
                    errors += 1
                    if errors <= 3:
                        print(f"    ! {path} answered {status}", file=sys.stderr)
                if paced_rate:  # jittered pacing: on average paced_rate requests per second per client
                    await asyncio.sleep(max(0.0, random.uniform(0.5, 1.5) / paced_rate - dt))

        stop_at = time.perf_counter() + warm_up
        await asyncio.gather(*(worker() for _ in range(clients)))
        latencies.clear()
        errors = 0
        cpu0 = cpu_seconds(pid)
        start = time.perf_counter()
        stop_at = start + seconds
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(pid) - cpu0
    done = len(latencies) + errors
    return len(latencies) / elapsed, latencies, errors, (cpu / done * 1000 if done else float("nan"))


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p * len(s)))] * 1000


def line(name: str, rate: float, lat: list[float], err: int, cpu: float) -> str:
    return (f"  {name:<8}: {rate:7.1f} req/s  p50 {pct(lat, .5):6.1f} ms  p95 {pct(lat, .95):6.1f} ms"
            f"  errors {err}  server CPU {cpu:.1f} ms/req")


async def bench(clients: int, seconds: float, rounds: int, paced_rate: float) -> None:
    from tests.bench.services import bench_services

    with bench_services("qg-bench-submit-") as svc:
        svc.env["PYTHONPATH"] += f":{svc.base}"  # the bare app's module
        prepare(svc.env, svc.base)
        await against(svc.env, clients, seconds, rounds, paced_rate)


async def against(env: dict[str, str], clients: int, seconds: float, rounds: int, paced_rate: float) -> None:
    procs: list[subprocess.Popen] = []
    try:
        category, community = ids(env)
        form = {"kind": "help", "category": str(category), "description": "楼道里堆满了垃圾，已经一周没人清理",
                "community": str(community), "address": "柳巷南路 18 号", "is_public": "1"}
        real_port, bare_port = free_port(), free_port()
        procs.append(serve("backend.app:app", env, real_port))
        procs.append(serve("bench_bare_app:app", env, bare_port))
        real_url, bare_url = f"http://127.0.0.1:{real_port}", f"http://127.0.0.1:{bare_port}"
        cookies = await resident_cookies(real_url, "13900000001")
        print(f"PostgreSQL (embedded) clients={clients} seconds={seconds} rounds={rounds} on {os.cpu_count()} CPUs")
        ratios: list[float] = []
        real_cpus: list[float] = []
        bare_cpus: list[float] = []
        all_err = 0
        for n in range(1, rounds + 1):
            real = await load(real_url, "/report", cookies, form, clients, seconds, procs[0].pid)
            bare = await load(bare_url, "/bare", {}, form, clients, seconds, procs[1].pid)
            ratios.append(real[0] / bare[0] if bare[0] else float("nan"))
            real_cpus.append(real[3])
            bare_cpus.append(bare[3])
            all_err += real[2]
            print(f" round {n} (load average {os.getloadavg()[0]:.1f})")
            print(line("submit", *real))
            print(line("bare", *bare))
            print(f"  ratio   : {ratios[-1]:.0%} of bare")
        paced_real = await load(real_url, "/report", cookies, form, clients, seconds, procs[0].pid,
                                paced_rate=paced_rate, warm_up=2.0)
        paced_bare = await load(bare_url, "/bare", {}, form, clients, seconds, procs[1].pid,
                                paced_rate=paced_rate, warm_up=2.0)
        print(f" steady load: {clients} clients × {paced_rate:g} submissions/s each")
        print(line("submit", *paced_real))
        print(line("bare", *paced_bare))
        ratio = statistics.median(ratios)
        p95 = pct(paced_real[1], .95)
        all_err += paced_real[2]
        print(f"  median ratio {ratio:.0%} of bare (goal ≥ 50%: {'met' if ratio >= 0.5 else 'NOT met'}); "
              f"p95 at steady load {p95:.0f} ms (goal ≤ 100 ms: {'met' if p95 <= 100 else 'NOT met'}); "
              f"errors {all_err}")
        print(f"  CPU cost: submit {statistics.median(real_cpus) / statistics.median(bare_cpus):.1f}× the bare "
              f"insert per request (load-independent)")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--paced-rate", type=float, default=1.0)
    args = ap.parse_args()
    asyncio.run(bench(args.clients, args.seconds, args.rounds, args.paced_rate))


if __name__ == "__main__":
    main()
