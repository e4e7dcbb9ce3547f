"""Load from ``wrk`` (C, Debian package ``wrk``), and the CPU the servers spent on it, read from /proc.

A Python load generator on the same two cores sets the rate it measures (issue 22): ``wrk`` does not,
and each run reports its own CPU so the reader can check. One Lua script (``SCRIPT``) serves every
benchmark; it is configured through environment variables:

    BENCH_PATHS    space-separated paths, taken in turn (one per request)
    BENCH_METHOD   GET or POST
    BENCH_BODY     form body (url-encoded) of a POST; several bodies, one per line, are taken in turn;
                   BENCH_KEY_PREFIX set: ``&idempotency_key=<unique>`` appended
    BENCH_COOKIE   Cookie header; BENCH_CSRF: x-csrftoken header
    BENCH_EXPECT   the statuses that count as success (303 for a submission, 200 for a page; "200,303" for
                   a mix); any other is an error
    BENCH_POST_EVERY, BENCH_POST_PATH  a mix: every Nth request of a thread is the POST to that path
    BENCH_DELAY_MS mean pause before each request of a connection (uniform ×0.5–1.5): a steady offered rate
                   of connections / pause (wrk's ``delay()`` hook; the figure printed is the achieved rate)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = r'''
local paths, n = {}, 0
good, bad, s303 = 0, 0, 0  -- globals: done() reads them from each thread with thread:get
local method = os.getenv("BENCH_METHOD") or "GET"
local bodies = {}
for line in string.gmatch(os.getenv("BENCH_BODY") or "", "[^\n]+") do table.insert(bodies, line) end
if #bodies == 0 then bodies = {""} end
local posts = 0
local prefix = os.getenv("BENCH_KEY_PREFIX")
local expect = {}
for x in string.gmatch(os.getenv("BENCH_EXPECT") or "200", "%d+") do expect[tonumber(x)] = true end
local post_every = tonumber(os.getenv("BENCH_POST_EVERY") or "0")
local post_path = os.getenv("BENCH_POST_PATH") or "/"
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local headers = {}
local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  for p in string.gmatch(os.getenv("BENCH_PATHS") or "/", "%S+") do table.insert(paths, p) end
  n = tid or 0
  math.randomseed(os.time() * 1000 + (tid or 0))
  if os.getenv("BENCH_COOKIE") then headers["Cookie"] = os.getenv("BENCH_COOKIE") end
  if os.getenv("BENCH_CSRF") then headers["x-csrftoken"] = os.getenv("BENCH_CSRF") end
  if method == "POST" or post_every > 0 then headers["Content-Type"] = "application/x-www-form-urlencoded" end
end

function request()
  n = n + 1
  local path = paths[(n % #paths) + 1]
  local b = nil
  local m = method
  if post_every > 0 and n % post_every == 0 then m = "POST"; path = post_path end
  if m == "POST" then
    posts = posts + 1
    b = bodies[(posts % #bodies) + 1]
    if prefix then b = b .. "&idempotency_key=" .. prefix .. string.format("-%d-%d", tid or 0, n) end
  end
  return wrk.format(m, path, headers, b)
end

if pause > 0 then
  function delay() return math.floor(pause * (0.5 + math.random())) end
end

function response(status, hdrs, b)
  if expect[status] then good = good + 1 else bad = bad + 1 end
  if status == 303 then s303 = s303 + 1 end
end

function done(summary, latency, requests)
  local g, e, r = 0, 0, 0
  for _, t in ipairs(threads) do
    g = g + (t:get("good") or 0); e = e + (t:get("bad") or 0); r = r + (t:get("s303") or 0)
  end
  io.write("BENCH_JSON " .. string.format(
    '{"requests": %d, "duration_us": %d, "good": %d, "bad": %d, "s303": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}',
    summary.requests, summary.duration, g, e, r,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max) .. "\n")
end
'''


def ensure_wrk() -> str:
    """The ``wrk`` binary; installed from Debian's packages when missing and we are root (as scripts/system-deps)."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run("(apt-get install -y -qq --no-install-recommends wrk || (apt-get update -qq && "
                       "apt-get install -y -qq --no-install-recommends wrk)) >/dev/null 2>&1", shell=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is missing: install the Debian package wrk (scripts/system-deps does as root)")
    return found


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user+system CPU seconds) of a live process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int, running: str = "") -> list[int]:
    """The live child processes of ``pid`` whose command line has ``running`` in it (uvicorn's workers under
    its supervisor: "spawn_main", not multiprocessing's resource tracker)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if st and st[0] == pid and running in cmdline:
                found.append(int(entry))
    return sorted(found)


def tree_cpu(root: int) -> float:
    """CPU seconds of ``root`` and every live descendant (uvicorn workers, PostgreSQL backends)."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                parents[int(entry)], cpu[int(entry)] = st
    total = 0.0
    for pid in cpu:
        p = pid
        while p and p != root:
            p = parents.get(p, 0)
        if p == root:
            total += cpu[pid]
    return total


def postmaster_pid(data_dir: Path) -> int:
    """The embedded PostgreSQL's postmaster (first line of postmaster.pid)."""
    for candidate in (data_dir / "postmaster.pid", *data_dir.glob("*/postmaster.pid")):
        if candidate.exists():
            return int(candidate.read_text().split()[0])
    raise RuntimeError(f"no postmaster.pid under {data_dir}")


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Result:
    name: str
    rate: float  # successful responses per second
    requests: int
    errors: int  # wrong status + socket errors
    p50: float  # ms
    p95: float
    p99: float
    app_ms: float  # server (web process tree) CPU per request
    db_ms: float  # PostgreSQL CPU per request (all its processes: the load of this run only)
    gen_cpu: float  # the generator's CPU, in cores (CPU seconds / wall seconds)
    load: str

    def line(self) -> str:
        return (f"  {self.name:<12} {self.rate:7.1f} req/s  p50 {self.p50:6.1f}  p95 {self.p95:6.1f}  "
                f"p99 {self.p99:6.1f} ms  errors {self.errors}  CPU/req: web {self.app_ms:5.2f} ms  "
                f"db {self.db_ms:5.2f} ms  wrk {self.gen_cpu:.2f} cores  load {self.load}")


def launch(url: str, *, connections: int = 50, threads: int = 2, seconds: float = 10,
           paths: list[str] | None = None, method: str = "GET", body: str = "", cookie: str = "", csrf: str = "",
           expect: int | str = 200, unique_keys: bool = False, delay_ms: float = 0, timeout: float = 10,
           post_every: int = 0, post_path: str = "") -> subprocess.Popen:
    """Start one wrk (its figures are read by ``collect``)."""
    wrk = ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="qg-wrk-"))
    script = tmp / "bench.lua"
    script.write_text(SCRIPT)
    env = dict(os.environ, BENCH_PATHS=" ".join(paths or ["/"]), BENCH_METHOD=method, BENCH_BODY=body,
               BENCH_EXPECT=str(expect), BENCH_DELAY_MS=str(int(delay_ms)), BENCH_POST_EVERY=str(post_every),
               BENCH_POST_PATH=post_path)
    for key in ("BENCH_COOKIE", "BENCH_CSRF", "BENCH_KEY_PREFIX"):
        env.pop(key, None)
    if cookie:
        env["BENCH_COOKIE"] = cookie
    if csrf:
        env["BENCH_CSRF"] = csrf
    if unique_keys:
        env["BENCH_KEY_PREFIX"] = f"k{time.time_ns():x}"
    cmd = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", f"{timeout:g}s",
           "-s", str(script), url]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.tmp = tmp  # type: ignore[attr-defined]
    return proc


def collect(proc: subprocess.Popen) -> dict:
    """Wait for a launched wrk; its figures (see SCRIPT's done())."""
    out, err = proc.communicate()
    shutil.rmtree(proc.tmp, ignore_errors=True)  # type: ignore[attr-defined]
    line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no figures: {out}\n{err}")
    return json.loads(line.removeprefix("BENCH_JSON "))


def run(name: str, url: str, *, server_pids: list[int], db_pid: int | None, **options: Any) -> Result:
    """One wrk run against ``url``; CPU of ``server_pids`` (with their children) and of PostgreSQL around it."""
    before = [tree_cpu(p) for p in server_pids], tree_cpu(db_pid) if db_pid else 0.0
    children_cpu_delta()  # children reaped before (migrations, the demo load) are not wrk
    t0 = time.monotonic()
    data = collect(launch(url, **options))
    wall = time.monotonic() - t0
    after = [tree_cpu(p) for p in server_pids], tree_cpu(db_pid) if db_pid else 0.0
    gen = children_cpu_delta()  # wrk's own CPU: the one child reaped since
    requests = max(1, data["requests"])
    app = sum(after[0]) - sum(before[0])
    db = after[1] - before[1]
    return Result(
        name, data["good"] / (data["duration_us"] / 1e6), data["requests"], data["bad"] + data["socket_errors"],
        data["p50_us"] / 1000, data["p95_us"] / 1000, data["p99_us"] / 1000, app / requests * 1000,
        db / requests * 1000, gen / wall, load_average())


_last_children = [0.0]


def children_cpu_delta() -> float:
    """CPU seconds of the children reaped since the last call (the wrk just run)."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = ru.ru_utime + ru.ru_stime
    delta, _last_children[0] = total - _last_children[0], total
    return delta

