"""Benchmark: server CPU per page for the pages people use most, load from ``wrk``.

    scripts/bench pages [-- --connections 20 --seconds 8 --rounds 2]

Starts its own Redis and embedded PostgreSQL, migrates and loads the demo district with its year of
history (``QG_DEMO_HISTORY``, as ``scripts/run``; about 1,000 requests by default), runs one uvicorn
process and drives each page with ``wrk`` (2 threads, ``connections`` connections, signed in as the page's
user): ``/healthz`` (the middleware floor), the resident's home ``/``, "my requests" ``/my``, one of
the resident's request pages ``/r/<code>``, the grid worker's inbox ``/staff/inbox`` and field mode
``/staff/field``. Rounds alternate over the pages. Per page: rate, p50/p95/p99, errors (any status but
200), web-process and PostgreSQL CPU per request from /proc, wrk's CPU, the load average.
Goal (issue 22): ≤ 3 ms of web-process CPU per page.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_submit import free_port, resident_cookies, serve  # noqa: E402

RESIDENT = "13800000001"  # the demo's resident; the pages use the one with most requests in the history


def db_script(body: str) -> str:
    """A script for ``run_code``/``start_code``: ``body`` runs inside a coroutine with a small pool open."""
    return ("import asyncio, collections, json, sys, time\nfrom datetime import datetime\n"
            "from backend.db import engine, fetch_tuples\nasync def m():\n    db = engine()\n"
            "    await db.start_connection_pool(min_size=1, max_size=2)\n    try:\n"
            + textwrap.indent(body.strip("\n"), "        ")
            + "\n    finally:\n        await db.close_connection_pool()\nasyncio.run(m())\n")


def run_code(env: dict[str, str], code: str, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return out.stdout


BUSIEST = db_script("""
rows = await fetch_tuples("SELECT a.phone, count(*) FROM request r JOIN account a ON a.id = r.reporter "
                          "WHERE a.phone <> '' GROUP BY 1 ORDER BY 2 DESC LIMIT 1")
print(rows[0][0] if rows else "13800000001", rows[0][1] if rows else 0)
""")


def busiest_resident(env: dict[str, str]) -> tuple[str, int]:
    phone, n = run_code(env, BUSIEST).split()
    return phone, int(n)


GRID_WORKER = "wg_lx_1_1"
# The demo year's open work waits at community level (its grid worker's inbox is nearly empty): the inbox is
# also measured for the community or street handler with the most open requests, a list with rows to render.
BUSIEST_HANDLER = db_script("""
rows = await fetch_tuples(
    "SELECT a.username, (SELECT count(*) FROM request r JOIN unit cu ON cu.id = r.current_unit WHERE cu.path "
    "LIKE u.path || '%' AND r.status IN ('submitted', 'assigned', 'accepted', 'returned')) AS n "
    "FROM membership m JOIN account a ON a.id = m.account JOIN unit u ON u.id = m.unit "
    "WHERE m.role IN ('community_staff', 'street_staff', 'unit_head') AND a.username <> '' "
    "ORDER BY n DESC, a.id LIMIT 1")
print(rows[0][0], rows[0][1])
""")


def busiest_handler(env: dict[str, str]) -> tuple[str, int]:
    name, n = run_code(env, BUSIEST_HANDLER).split()
    return name, int(n)


def prepare(env: dict[str, str]) -> None:
    """The demo district with its whole year of history made before the bench starts (setup alone makes the
    newest tenth and leaves the rest to the worker, whose fill would then compete with the load)."""
    code = "import asyncio; from backend.cli import migrate, demo; asyncio.run(migrate()); asyncio.run(demo())"
    whole_year = env | {"QG_DEMO_HISTORY_NOW": env.get("QG_DEMO_HISTORY", "3000")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=whole_year, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"demo district with its year of history ({whole_year['QG_DEMO_HISTORY_NOW']} requests) made in "
          f"{time.perf_counter() - started:.0f} s", flush=True)


async def staff_cookies(base_url: str, username: str) -> dict[str, str]:
    import httpx

    async with httpx.AsyncClient(base_url=base_url) as c:
        await c.get("/staff/login")
        token = c.cookies["csrftoken"]
        r = await c.post("/staff/login", data={"username": username, "password": "demo1234", "next": "/staff"},
                         headers={"x-csrftoken": token})
        assert r.status_code == 303, r.text[:500]
        return dict(c.cookies)


async def a_request_page(base_url: str, cookies: dict[str, str]) -> str:
    """The first request listed on the resident's "my requests" page."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, cookies=cookies) as c:
        r = await c.get("/my")
        found = re.search(r'href="(/r/[A-Za-z0-9]+)"', r.text)
        assert found, "the demo resident has no request"
        return found.group(1)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def bench(connections: int, seconds: float, rounds: int, profile: str = "") -> None:
    from tests.bench import wrk
    from tests.bench.services import bench_services

    wrk.ensure_wrk()
    with bench_services("qg-bench-pages-") as svc:
        prepare(svc.env)
        port = free_port()
        proc = serve("backend.app:app", svc.env, port)
        try:
            url = f"http://127.0.0.1:{port}"
            phone, mine = busiest_resident(svc.env)
            res_c = await resident_cookies(url, phone)  # one code a minute per phone: sign in once
            resident = cookie_header(res_c)
            worker = cookie_header(await staff_cookies(url, GRID_WORKER))
            handler, open_work = busiest_handler(svc.env)
            busy = cookie_header(await staff_cookies(url, handler))
            request_page = await a_request_page(url, res_c)
            # (label, path, cookie)
            pages = [("/healthz", "/healthz", ""), ("/", "/", resident), ("/my", "/my", resident),
                     (request_page, request_page, resident), ("/staff/inbox", "/staff/inbox", worker),
                     ("inbox (work)", "/staff/inbox", busy), ("/staff/field", "/staff/field", worker)]
            db = wrk.postmaster_pid(svc.data_dir)
            print(f"resident {phone} with {mine} requests in the history; grid worker {GRID_WORKER}; "
                  f"handler {handler} with {open_work} open requests in their units (\"inbox (work)\")")
            print(f"one uvicorn process, wrk -t2 -c{connections}, {seconds:g} s per page and round, {rounds} rounds, "
                  f"load average {wrk.load_average()}")
            for _label, path, cookie in pages:  # warm-up
                wrk.run("warm", url, server_pids=[proc.pid], db_pid=db, connections=connections, seconds=1,
                        paths=[path], cookie=cookie)
            results: dict[str, list[wrk.Result]] = {label: [] for label, _, _ in pages}
            for n in range(1, rounds + 1):
                print(f" round {n}")
                for label, path, cookie in pages:
                    spy = None
                    if profile and n == 1:  # py-spy's collapsed stacks of the server, one file per page
                        from tests.bench.bench_submit import start_profiler

                        name = (label.strip("/").replace("/", "_").replace(" ", "_").strip("()") or "home") + ".txt"
                        spy = start_profiler(proc.pid, seconds, str(Path(profile) / name))
                    r = wrk.run(label[:12], url, server_pids=[proc.pid], db_pid=db, connections=connections,
                                seconds=seconds, paths=[path], cookie=cookie)
                    if spy is not None:
                        spy.wait(60)
                    results[label].append(r)
                    print(r.line())
            print(" median web CPU per page (goal ≤ 3 ms):")
            for path, rs in results.items():
                ms = statistics.median(r.app_ms for r in rs)
                db_ms = statistics.median(r.db_ms for r in rs)
                verdict = "" if path == "/healthz" else ("met" if ms <= 3 else "NOT met")
                print(f"  {path:<16} web {ms:5.2f} ms  db {db_ms:5.2f} ms  {verdict}")
        finally:
            proc.terminate()
            proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", default="", help="a folder: py-spy profiles of each page's first round")
    args = ap.parse_args()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    asyncio.run(bench(args.connections, args.seconds, args.rounds, args.profile))


if __name__ == "__main__":
    main()
