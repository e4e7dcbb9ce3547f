"""Benchmark: start-up, from a fresh data folder and again with the existing data.

    .venv/bin/python tests/bench/bench_startup.py        (or: scripts/bench startup)

What ``scripts/run`` does after ``scripts/bootstrap`` (the .venv is in place; its install is not timed),
in a temporary data folder like a fresh clone's (no ``data/``, no ``DATABASE_URL``, no secret key):

  (a) first start: ``python -m backend.cli setup`` (the embedded PostgreSQL: initdb, start, create the
      database; migrate; load the demo district), then ``python -m backend.cli web`` (QG_PORT on a free
      port) until GET / answers 200;
  (b) second start: web and PostgreSQL stopped first, then the same two commands on the existing data
      (the server starts, the migrations and the demo find nothing to do) until GET / answers 200.

Redis is a test redis-server (REDIS_URL), started before each clock starts: under ``scripts/run`` it
starts in parallel with the rest. The server runs with PostgreSQL's durable defaults, as in production.
Everything started here is stopped at the end, also on error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_home(url: str, web: subprocess.Popen, timeout: float = 180) -> None:
    from tests.support.services import wait_until_up

    wait_until_up(url, web, timeout, path="/")


def start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, float, float]:
    """setup, then web until / answers; returns (the web process, setup seconds, web seconds)."""
    t0 = time.perf_counter()
    setup = subprocess.run([sys.executable, "-m", "backend.cli", "setup"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=900)
    t1 = time.perf_counter()
    if setup.returncode != 0:
        raise RuntimeError("setup failed:\n" + setup.stdout[-2000:] + setup.stderr[-2000:])
    with log.open("ab") as out:
        web = subprocess.Popen([sys.executable, "-m", "backend.cli", "web"], cwd=ROOT, env=env,
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_home(f"http://127.0.0.1:{env['QG_PORT']}", web)
    except BaseException:
        stop(web)
        raise
    return web, t1 - t0, time.perf_counter() - t1


def main() -> int:
    from backend.embedded import EmbeddedPostgres
    from tests.support.services import RedisServer, free_port

    base = Path(tempfile.mkdtemp(prefix="qg-bench-startup-"))
    data = base / "data"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "QG_DATA_DIR")}
    env.update({"QG_DATA_DIR": str(data), "QG_PORT": str(free_port()), "QG_DEMO": "1",
                "PICCOLO_CONF": "backend.piccolo_conf", "PYTHONPATH": str(ROOT)})
    pg = EmbeddedPostgres(data)  # the server `cli setup` starts there; here only to stop it
    redis: RedisServer | None = None
    web: subprocess.Popen | None = None
    log = base / "web.log"
    try:
        for label in ("first start (fresh data folder)", "second start (existing data)"):
            redis = RedisServer(base)
            env["REDIS_URL"] = redis.url
            web, setup_s, web_s = start(env, log)
            print(f"{label:<34} {setup_s + web_s:6.1f} s to GET / = 200  "
                  f"(setup {setup_s:.1f} s + web {web_s:.1f} s)", flush=True)
            # Stop everything before the next start.
            stop(web)
            web = None
            pg.stop("fast")
            pg.wait_stopped()
            redis.stop()
            redis = None
            if pg.running():
                raise RuntimeError("PostgreSQL did not stop")
    except Exception as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        if log.exists():
            print(log.read_text(errors="replace")[-2000:], file=sys.stderr)
        return 1
    finally:
        stop(web)
        pg.stop("fast")
        pg.wait_stopped()
        if redis is not None:
            redis.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(f"on {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
