"""Project commands: ``python -m backend.cli setup|migrate|demo|redis|web|worker|banner``."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from backend.settings import get_settings


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
        counts = await load_demo()
        from backend.demo_history import load_history  # a year of history (QG_DEMO_HISTORY=0 skips it)

        return counts | {"history": await load_history()}
    finally:
        if db is not None:
            await db.close_connection_pool()  # type: ignore[attr-defined]


def wait_for_redis(timeout: float = 30.0) -> None:
    import redis

    url = get_settings().redis_url
    deadline = time.monotonic() + timeout
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return
        except Exception:
            if time.monotonic() > deadline:
                raise SystemExit(f"Redis is not reachable at {url}") from None
            time.sleep(0.2)


def banner() -> None:
    from backend.demo import DEMO_LOGINS

    s = get_settings()
    print("\n群工 Qungong is running:", s.base_url)
    print("  database:", "PostgreSQL" if s.is_postgres else s.database_url)
    print("  redis:   ", s.redis_url, "(embedded)" if s.embedded_redis else "")
    print("  staff sign-in:", s.base_url + "/staff/login", "   residents:", s.base_url + "/login")
    print("\nDemo logins (role · login · password):")
    for role, login, password in DEMO_LOGINS:
        print(f"  {role:<45} {login:<22} {password}")
    print("\nCtrl-C stops web, worker and Redis.\n", flush=True)


def main(argv: list[str]) -> None:
    cmd = argv[1] if len(argv) > 1 else "help"
    s = get_settings()
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
        args = redis_server_args(s.data_dir, __import__("pathlib").Path(sock))
        os.execv(args[0], args)
    elif cmd == "web":
        wait_for_redis()
        workers = os.environ.get("WEB_CONCURRENCY", "1")
        args = [sys.executable, "-m", "uvicorn", "backend.app:app", "--host", s.host, "--port", str(s.port),
                "--workers", workers, "--no-access-log", "--proxy-headers"]
        os.execv(args[0], args)
    elif cmd == "worker":
        wait_for_redis()
        args = [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"]
        os.execv(args[0], args)
    else:
        print(__doc__ or "", "usage: python -m backend.cli setup|migrate|demo|redis|web|worker|banner")
        raise SystemExit(2)


if __name__ == "__main__":
    main(sys.argv)
