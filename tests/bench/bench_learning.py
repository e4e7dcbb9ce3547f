"""Benchmark: a learning competition with 2,000 party members answering 20 questions each.

    .venv/bin/python tests/bench/bench_learning.py [--members 2000] [--questions 20] [--window 600]
                                                   [--procs 3] [--workers 2] [--pollers 50]

Starts its own Redis and embedded PostgreSQL (tests/bench/services.py), migrates, loads the demo district
(with its question bank), adds the members (in the branches of the district's communities, each with a
session in the app's Redis session store) and a running competition of 20 questions, then runs the real
app under uvicorn (``--workers`` processes) and drives it from ``--procs`` generator processes (aiohttp),
so the generator is not the bottleneck. Each member answers as a person would: GET the question page,
POST the answer (303). Meanwhile ``--pollers`` viewers poll the live board fragment every 5 s (htmx's
request, served from the Redis copy shared by the web processes).

The issue's rate is 2,000 × 20 answers in 10 minutes: 67 answers/s, and as many question pages. Two shapes:

- ``--shape steady`` (the default, the issue's rate): the members start one after another within the first
  gap (window / (questions + 1) = 28.6 s), and each answers a question one gap after the last (its start or
  its previous answer); so every member sends two requests a gap (start or answer, then the page), and the
  answers arrive evenly from the first gap to the end, at members × (questions + 1) / window per second
  (70/s, a little over the issue's 66.7/s).
- ``--shape ramp``: each member starts at a random moment in the first half of the window and answers every
  window / 2 / questions seconds. The offered rate climbs to twice the issue's rate at mid-window and falls
  back (a stress view: the peak is 133 answers/s plus as many pages).

``--window 300`` compresses either to twice its rate. Goal (issue 20): answer submission
p95 ≤ 100 ms; live board p95 ≤ 200 ms; afterwards the database holds exactly members × questions answers
and every attempt is finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

QUESTION = re.compile(r'name="question" value="(\d+)"')
CHOICE = re.compile(r'name="choice" value="(\d+)"')
# Members still answering at window × CUTOFF stop (an overloaded server would otherwise stretch the run
# without end); the report says how many answers were left.
CUTOFF = 1.5


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


# ---------------------------------------------------------------- set-up (this process, with the backend)


async def seed(n_members: int, n_questions: int, window: float) -> dict:
    from datetime import timedelta

    from litestar.serialization import encode_json
    from litestar.stores.redis import RedisStore

    from backend.accounts.service import load_viewer
    from backend.accounts.tables import Account
    from backend.cli import migrate
    from backend.db import engine, fetch_tuples, utcnow
    from backend.demo import load_demo
    from backend.learning import competition
    from backend.learning.tables import MemberBranch
    from backend.organisation.tables import Unit
    from backend.redis import close_redis, redis_client
    from backend.web.auth import ROLES_KEY, SESSION_KEY, roles_signature
    from tests.support.people import staff

    db = engine()
    await db.start_connection_pool(min_size=2, max_size=10)
    try:
        await migrate()
        await load_demo()
        communities = [r["id"] for r in await Unit.select(Unit.id).where(Unit.kind == "community")]
        await Account.insert(*[Account(kind="resident", phone=f"150{i:08d}", name=f"党员{i}", is_party_member=True)
                               for i in range(n_members)])
        ids = [r[0] for r in await fetch_tuples("SELECT id FROM account WHERE phone LIKE '150%' ORDER BY id")]
        await MemberBranch.insert(*[MemberBranch(account=a, unit=communities[i % len(communities)])
                                    for i, a in enumerate(ids)])
        now = utcnow()
        cid = await competition.create(await staff("zzb"), competition.CompetitionInput(
            title="基准测试竞赛", starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(seconds=window + 600),
            seconds_per_question=60, rules=[competition.DrawRule(count=n_questions)]), now=now)
        store = RedisStore(redis=redis_client(), namespace="qg-sessions")
        sessions = []
        # A session as sign-in leaves it: with the roles it was issued for (else the first request rotates its id).
        roles = roles_signature(await load_viewer(ids[0]))
        for a in ids:
            sid = secrets.token_hex(16)
            await store.set(sid, encode_json({SESSION_KEY: a, ROLES_KEY: roles}), expires_in=24 * 3600)
            sessions.append(sid)
        return {"competition": cid, "sessions": sessions}
    finally:
        await close_redis()
        await db.close_connection_pool()


async def check(cid: int, n_members: int, n_questions: int) -> dict:
    from backend.db import engine, fetch_tuples

    db = engine()
    await db.start_connection_pool(min_size=1, max_size=2)
    try:
        answers = (await fetch_tuples("SELECT count(*) FROM attempt_answer aa JOIN attempt a ON a.id = aa.attempt "
                                      "WHERE a.competition = {}", cid))[0][0]
        att = (await fetch_tuples("SELECT count(*), count(finished_at), sum(answered), sum(score) FROM attempt "
                                  "WHERE competition = {}", cid))[0]
        points = (await fetch_tuples("SELECT coalesce(sum(aa.points), 0) FROM attempt_answer aa JOIN attempt a "
                                     "ON a.id = aa.attempt WHERE a.competition = {}", cid))[0][0]
        # Every accepted answer is stored once: answer rows = the attempts' counters, scores = points.
        return {"answers": answers, "attempts": att[0], "finished": att[1], "answered": att[2], "score": att[3],
                "points": points, "complete": answers == n_members * n_questions and att[1] == n_members,
                "ok": answers == att[2] and att[3] == points}
    finally:
        await db.close_connection_pool()


def serve(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    import httpx

    out = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--timeout-keep-alive", "75", "--no-access-log", "--log-level", "warning"],
        env=env, cwd=ROOT, stdout=out, stderr=out)  # stdout: the app's JSON request log (server-side ms)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the app did not start: " + log.read_text(errors="replace")[-2000:])


# ---------------------------------------------------------------- the generator (child processes, aiohttp only)


async def generate(spec: dict) -> dict:
    import aiohttp

    base, cid, window, n_q = spec["base"], spec["competition"], spec["window"], spec["questions"]
    t0 = spec["t0"]
    steady = spec["shape"] == "steady"
    gap = window / (n_q + 1) if steady else window / 2 / n_q
    rng = random.Random(spec["seed"])
    submit: list[float] = []
    pages: list[float] = []
    board: list[float] = []
    errors: list[str] = []
    unfinished: list[int] = []
    # Idle keep-alive connections are dropped by the client (30 s) before the server drops them (75 s):
    # otherwise a member thinking between questions could be handed a connection the server just closed.
    conn = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
    headers = {"x-csrftoken": spec["csrf"]}

    async def sleep_until(t: float) -> None:
        delay = t - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

    async def member(sid: str, offset: float) -> None:
        cookies = {"qg_session": sid, "csrftoken": spec["csrf"]}
        async with aiohttp.ClientSession(base, connector=conn, connector_owner=False, cookies=cookies) as s:
            start_at = t0 + (offset if steady else rng.uniform(0, window / 2))
            await sleep_until(start_at)
            async with s.post(f"/learning/competitions/{cid}/start", headers=headers, allow_redirects=False) as r:
                if r.status != 303:
                    errors.append(f"start {r.status}")
                    return
            for i in range(n_q):
                if time.time() > t0 + window * CUTOFF:
                    unfinished.append(n_q - i)  # the server fell behind: stop, and say how much was left
                    return
                t = time.perf_counter()
                async with s.get(f"/learning/competitions/{cid}/play") as r:
                    html = await r.text()
                pages.append((time.perf_counter() - t) * 1000)
                m = QUESTION.search(html)
                if not m:
                    errors.append(f"no question on page {i + 1} ({r.status})")
                    return
                choices = CHOICE.findall(html)
                form = {"question": m.group(1)}
                if choices:
                    form["choice"] = rng.choice(choices)
                else:
                    form["answer"] = rng.choice(["24", "党课", "不知道"])
                await sleep_until(start_at + (i + 1) * gap)
                t = time.perf_counter()
                async with s.post(f"/learning/competitions/{cid}/answer", data=form, headers=headers,
                                  allow_redirects=False) as r:
                    await r.read()
                    status = r.status
                submit.append((time.perf_counter() - t) * 1000)
                if status != 303:
                    errors.append(f"answer {status}")

    async def poller(sid: str) -> None:
        cookies = {"qg_session": sid, "csrftoken": spec["csrf"]}
        async with aiohttp.ClientSession(base, connector=conn, connector_owner=False, cookies=cookies) as s:
            await sleep_until(t0 + rng.uniform(0, 5))
            while time.time() < t0 + window:
                t = time.perf_counter()
                async with s.get(f"/learning/competitions/{cid}/board", headers={"hx-request": "true"}) as r:
                    await r.read()
                    if r.status != 200:
                        errors.append(f"board {r.status}")
                board.append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(5)

    async def guarded(job) -> None:
        try:
            await job
        except (TimeoutError, aiohttp.ClientError) as exc:  # counted, and the other members go on
            errors.append(f"{type(exc).__name__}: {exc}")

    await asyncio.gather(*[guarded(member(s, o)) for s, o in zip(spec["members"], spec["offsets"], strict=True)],
                         *[guarded(poller(s)) for s in spec["pollers"]])
    await conn.close()
    return {"submit": submit, "pages": pages, "board": board, "errors": errors, "unfinished": unfinished}


def child(path: str) -> None:
    spec = json.loads(Path(path).read_text())
    result = asyncio.run(generate(spec))
    Path(path + ".out").write_text(json.dumps(result))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (uvicorn's workers)."""
    total = cpu_seconds(pid)
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if (p / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                    total += cpu_seconds(int(p.name))
            except (OSError, IndexError):
                pass
    return total


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--questions", type=int, default=20)
    ap.add_argument("--window", type=float, default=600.0)
    ap.add_argument("--procs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--pollers", type=int, default=50)
    ap.add_argument("--shape", choices=("steady", "ramp"), default="steady")
    ap.add_argument("--profile", default="", help="a file: py-spy's collapsed stacks of the web processes")
    ap.add_argument("--child")
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return 0
    from tests.bench.services import bench_services
    from tests.support.services import free_port

    with bench_services("qg-bench-learning-") as svc:
        svc.export()
        import logging

        logging.disable(logging.INFO)
        print(f"load average at the start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        t = time.perf_counter()
        seeded = asyncio.run(seed(args.members, args.questions, args.window))
        print(f"seeded {args.members} members in branches, sessions and a {args.questions}-question competition "
              f"in {time.perf_counter() - t:.1f} s")
        port = free_port()
        server = serve(svc.env, port, args.workers, svc.base / "server.log")
        try:
            import httpx

            base = f"http://127.0.0.1:{port}"
            csrf = httpx.get(base + "/").cookies["csrftoken"]
            sessions = seeded["sessions"]
            t0 = time.time() + 3
            procs, files = [], []
            tmp = Path(tempfile.mkdtemp(prefix="qg-bench-gen-"))
            gap = args.window / (args.questions + 1)
            offsets = [j * gap / len(sessions) for j in range(len(sessions))]  # steady: one start after another
            for k in range(args.procs):
                spec = {"base": base, "competition": seeded["competition"], "window": args.window,
                        "questions": args.questions, "t0": t0, "csrf": csrf, "seed": k, "shape": args.shape,
                        "members": sessions[k::args.procs], "offsets": offsets[k::args.procs],
                        "pollers": sessions[:args.pollers][k::args.procs]}
                f = tmp / f"gen{k}.json"
                f.write_text(json.dumps(spec))
                files.append(f)
                procs.append(subprocess.Popen([sys.executable, __file__, "--child", str(f)], cwd=ROOT, env=svc.env))
            spy = None
            if args.profile:
                spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(server.pid),
                                        "--subprocesses", "-d", f"{args.window:g}", "-r", "100", "-f", "raw",
                                        "-o", args.profile, "--nonblocking"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            cpu0 = tree_cpu(server.pid)
            gen_cpu0 = 0.0
            wall0 = time.time()
            for p in procs:
                p.wait()
            if spy is not None:
                spy.wait()
            wall = time.time() - wall0
            server_cpu = tree_cpu(server.pid) - cpu0
            gen_cpu = gen_cpu0  # children have exited; their CPU is read from the resource usage below
            import resource

            gen_cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + \
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        results = [json.loads(Path(str(f) + ".out").read_text()) for f in files if Path(str(f) + ".out").exists()]
        shutil.rmtree(tmp, ignore_errors=True)
        submit = [v for r in results for v in r["submit"]]
        pages = [v for r in results for v in r["pages"]]
        board = [v for r in results for v in r["board"]]
        errors = [e for r in results for e in r["errors"]]
        state = asyncio.run(check(seeded["competition"], args.members, args.questions))
        rate = len(submit) / wall if wall else 0
        n_requests = len(submit) + len(pages) + len(board) + args.members
        print(f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared); "
              f"server CPU per request {server_cpu / max(n_requests, 1) * 1000:.1f} ms over {n_requests} requests")
        offered = args.members * (args.questions + 1) / args.window if args.shape == "steady" else \
            2 * args.members * args.questions / args.window
        print(f"shape {args.shape}: {args.members} members x {args.questions} questions in {args.window:.0f} s = "
              f"{args.members * args.questions / args.window:.1f} answers/s on average; offered "
              f"{'steadily' if args.shape == 'steady' else 'at the peak'} {offered:.1f} answers/s")
        print(f"window {args.window:.0f} s ({wall:.0f} s wall), {args.workers} web processes, {args.procs} generator "
              f"processes; server CPU {server_cpu:.0f} s, generators (and set-up) CPU {gen_cpu:.0f} s")
        ok_submit = pct(submit, 95) <= 100
        ok_board = pct(board, 95) <= 200
        print(f"answer POST      n={len(submit):6d}  {rate:5.1f}/s  p50 {pct(submit, 50):6.1f} ms  "
              f"p95 {pct(submit, 95):6.1f} ms  p99 {pct(submit, 99):6.1f} ms  {'ok' if ok_submit else 'SLOW'}")
        print(f"question GET     n={len(pages):6d}           p50 {pct(pages, 50):6.1f} ms  "
              f"p95 {pct(pages, 95):6.1f} ms  p99 {pct(pages, 99):6.1f} ms")
        print(f"live board GET   n={len(board):6d}           p50 {pct(board, 50):6.1f} ms  "
              f"p95 {pct(board, 95):6.1f} ms  p99 {pct(board, 99):6.1f} ms  {'ok' if ok_board else 'SLOW'}")
        left = sum(v for r in results for v in r.get("unfinished", []))
        print(f"database: {state['answers']} answer rows = attempts' answered {state['answered']}; {state['attempts']} "
              f"attempts ({state['finished']} finished); scores sum {state['score']} = points sum {state['points']}: "
              f"{'ok' if state['ok'] else 'MISMATCH'}; answers not sent (stopped at window x {CUTOFF}): {left}")
        server_ms: dict[str, list[float]] = {"answer": [], "board": []}
        for raw in (svc.base / "server.log").read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                entry = json.loads(raw)
                kind = "answer" if entry["path"].endswith("/answer") else \
                    "board" if entry["path"].endswith("/board") else None
                if kind:
                    server_ms[kind].append(entry["ms"])
        for kind, values in server_ms.items():
            print(f"server-side {kind:<6} (request log) p50 {pct(values, 50):6.1f} ms  p95 {pct(values, 95):6.1f} ms")
        print(f"errors: {len(errors)}" + (f" e.g. {errors[:5]}" if errors else ""))
        return 0 if ok_submit and ok_board and state["ok"] and state["complete"] and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
