"""Project commands: ``python -m backend.cli setup|migrate|demo|redis|web|worker|banner``."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from backend.settings import Settings, UnsafeConfiguration, check_startup, get_settings


async def migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    response = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not response.success:
        raise SystemExit(f"migration failed: {response.message}")


async def demo() -> dict[str, int]:
    from backend.demo import load_demo

    db = None
    if get_settings().is_postgres:
        from backend.db import engine

        db = engine()
        await db.start_connection_pool(min_size=1, max_size=4)  # type: ignore[attr-defined]
    try:
        return await load_demo()
    finally:
        if db is not None:
            await db.close_connection_pool()  # type: ignore[attr-defined]


def supervise(name: str, args: list[str]) -> None:
    """Run ``args`` and restart it whenever it exits on its own (a crash, Redis gone for the worker), after
    a delay doubling from 1 s to ``QG_RESTART_MAX_DELAY`` (10 s); SIGTERM/SIGINT stop it and return.

    So under the run command one dead process no longer makes honcho stop the others, and a worker
    started alone comes back once Redis does. ``QG_SUPERVISE=0`` execs the process directly instead
    (for systemd or another supervisor that restarts it).
    """
    if os.environ.get("QG_SUPERVISE", "1") == "0":
        os.execv(args[0], args)
    max_delay = float(os.environ.get("QG_RESTART_MAX_DELAY", "10"))
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = 1.0
    while not stopping:
        started = time.monotonic()
        child = subprocess.Popen(args)
        rc = child.wait()
        if stopping:
            break
        if time.monotonic() - started > 60:
            delay = 1.0  # it ran a good while: this is a new failure, not a crash loop
        print(f"[supervise] {name} exited ({rc}); restarting in {delay:.0f} s", file=sys.stderr, flush=True)
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        delay = min(delay * 2, max_delay)
    if child is not None and child.poll() is None:
        try:
            child.wait(20)
        except subprocess.TimeoutExpired:
            child.kill()


def wait_for_redis(timeout: float = 30.0) -> None:
    import redis

    url = get_settings().redis_url
    deadline = time.monotonic() + timeout
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return
        except Exception:
            if time.monotonic() > deadline:  # start anyway: pages answer 503 and the worker is restarted
                print(f"Redis is not reachable at {url}; starting anyway", file=sys.stderr, flush=True)
                return
            time.sleep(0.2)


def banner() -> None:
    from backend.demo import DEMO_LOGINS

    s = get_settings()
    print("\n群工 Qungong is running:", s.base_url)
    print("  database:", "PostgreSQL" if s.is_postgres else s.database_url)
    print("  redis:   ", s.redis_url, "(embedded)" if s.embedded_redis else "")
    print("  staff sign-in:", s.base_url + "/staff/login", "   residents:", s.base_url + "/login")
    if not s.demo_mode:
        print("\nDemo mode is off (QG_DEMO unset): one-time codes go to the SMS gateway (the log in this build),"
              " not onto the page.\n", flush=True)
        return
    print("  DEMO MODE (演示模式): one-time codes are shown on the page; never use it for real people.")
    print("\nDemo logins (role · login · password):")
    for role, login, password in DEMO_LOGINS:
        print(f"  {role:<45} {login:<22} {password}")
    print("\nCtrl-C stops web, worker and Redis.\n", flush=True)


def web_args(s: Settings) -> list[str]:
    """uvicorn's command line. Forwarding headers (X-Forwarded-For/-Proto) are believed only from the
    proxies in QG_TRUSTED_PROXIES; without it they are ignored (uvicorn would trust 127.0.0.1 by default)."""
    workers = os.environ.get("WEB_CONCURRENCY", "1")
    args = [sys.executable, "-m", "uvicorn", "backend.app:app", "--host", s.host, "--port", str(s.port),
            "--workers", workers, "--no-access-log"]
    if s.trusted_proxies:
        return [*args, "--proxy-headers", "--forwarded-allow-ips", ",".join(s.trusted_proxies)]
    return [*args, "--no-proxy-headers"]


def main(argv: list[str]) -> None:
    cmd = argv[1] if len(argv) > 1 else "help"
    s = get_settings()
    try:
        check_startup(s)
    except UnsafeConfiguration as exc:
        raise SystemExit(f"refusing to start: {exc}") from None
    if cmd == "migrate":
        asyncio.run(migrate())
    elif cmd == "demo":
        print(asyncio.run(demo()))
    elif cmd == "setup":
        asyncio.run(migrate())
        counts = asyncio.run(demo())
        print("database ready:", counts)
    elif cmd == "banner":
        banner()
    elif cmd == "redis":
        if not s.embedded_redis:
            # External Redis: nothing to start; stay alive so the process group keeps running.
            print("REDIS_URL is set; using", s.redis_url, flush=True)
            while True:
                time.sleep(3600)
        from backend.embedded import redis_server_args

        sock = s.redis_url.removeprefix("unix://")
        args = redis_server_args(s.data_dir, __import__("pathlib").Path(sock),
                                 maxmemory=os.environ.get("QG_REDIS_MAXMEMORY", "256mb"))
        supervise("redis", args)
    elif cmd == "web":
        wait_for_redis()
        supervise("web", web_args(s))
    elif cmd == "worker":
        wait_for_redis()
        supervise("worker", [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"])
    else:
        print(__doc__ or "", "usage: python -m backend.cli setup|migrate|demo|redis|web|worker|banner")
        raise SystemExit(2)


if __name__ == "__main__":
    main(sys.argv)
