"""Project commands: ``python -m backend.cli COMMAND``.

  setup              start the embedded PostgreSQL (unless DATABASE_URL), migrate, load the demo district
  migrate | demo     each step of setup alone
  db start|stop|status   the embedded PostgreSQL by hand
  postgres | redis   run the embedded server in the foreground until stopped (the Procfile's processes)
  web | worker       the web process (uvicorn) and the arq worker
  wechat-menu        push the WeChat official account's menu (needs QG_WECHAT_* and QG_PUBLIC_URL)
  backup FILE        pg_dump of the database (custom format)
  restore FILE --yes replace the database's contents with a backup
  banner             the URL and the demo logins
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from backend.settings import Settings, UnsafeConfiguration, check_startup, get_settings


async def migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    response = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not response.success:
        raise SystemExit(f"migration failed: {response.message}")


async def demo() -> dict[str, int]:
    from backend.db import engine
    from backend.demo import load_demo

    db = engine()
    await db.start_connection_pool(min_size=1, max_size=4)
    try:
        counts = await load_demo()
        from backend.demo_history import history_now, load_history

        # The newest part of the demo year now; the worker makes the rest after the site is up.
        return counts | {"history": await load_history(limit=history_now())}
    finally:
        await db.close_connection_pool()


def embedded_postgres():  # -> EmbeddedPostgres
    from backend.embedded import EmbeddedPostgres

    port = os.environ.get("QG_PG_PORT")  # TCP on loopback only when asked
    return EmbeddedPostgres(get_settings().data_dir, port=int(port) if port else None)


def ensure_database() -> None:
    """Start the embedded server if it is the configured database (idempotent), then wait until it answers."""
    if get_settings().embedded_postgres:
        embedded_postgres().start()
    wait_for_database()


def wait_for_database(timeout: float = 60.0) -> None:
    import asyncpg

    async def ping() -> None:
        conn = await asyncpg.connect(get_settings().database_url, timeout=5)
        await conn.close()

    deadline = time.monotonic() + timeout
    while True:
        try:
            asyncio.run(ping())
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"the database is not reachable: {exc}") from None
            time.sleep(0.3)


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


def run_postgres() -> None:
    """The Procfile's database process: adopt or start the embedded server, stop it when stopped."""
    s = get_settings()
    if not s.embedded_postgres:
        print("DATABASE_URL is set; using that server", flush=True)
        _idle_until_stopped()
        return
    pg = embedded_postgres()
    delay = 1.0
    while True:
        pg.start()
        print(f"PostgreSQL (embedded) on {pg.socket_dir}, data in {pg.pgdata}", flush=True)
        if _idle_until_stopped(alive=pg.running):
            break
        # The server died under us (killed, out of memory): start it again, as supervise() does for the others.
        print(f"[supervise] postgres exited; restarting in {delay:.0f} s (see {pg.log_file})", file=sys.stderr,
              flush=True)
        time.sleep(delay)
        delay = min(delay * 2, float(os.environ.get("QG_RESTART_MAX_DELAY", "10")))
    pg.stop("fast")


def _idle_until_stopped(alive=lambda: True) -> bool:
    """Sleep until SIGTERM/SIGINT (returns True) or until ``alive()`` turns false (returns False)."""
    stopped = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopped and alive():
        time.sleep(0.5)
    return stopped


def _client(name: str) -> str:
    """pg_dump/pg_restore: the server's own major version from Debian when present, else the shipped ones."""
    import asyncpg

    async def version() -> int:
        conn = await asyncpg.connect(get_settings().database_url, timeout=10)
        try:
            return int(conn.get_server_version().major)
        finally:
            await conn.close()

    debian = Path(f"/usr/lib/postgresql/{asyncio.run(version())}/bin/{name}")
    if debian.exists():
        return str(debian)
    from backend.embedded import pg_tool

    return pg_tool(name)


def backup(path: str) -> None:
    ensure_database()
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([_client("pg_dump"), "--format=custom", "--no-owner", "--file", str(target),
                    "--dbname", get_settings().database_url], check=True)
    print(f"backup written: {target} ({target.stat().st_size:,} bytes)")


def restore(path: str) -> None:
    source = Path(path).resolve()
    if not source.is_file():
        raise SystemExit(f"no backup at {source}")
    ensure_database()
    # One transaction: a failed restore leaves the database as it was.
    subprocess.run([_client("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
                    "--exit-on-error", "--dbname", get_settings().database_url, str(source)], check=True)
    print(f"restored from {source}")


def banner() -> None:
    from backend.demo import DEMO_LOGINS

    s = get_settings()
    print("\n群工 Qungong is running:", s.base_url)
    print("  database:", "embedded PostgreSQL in " + str(s.data_dir / "pg") if s.embedded_postgres else "DATABASE_URL")
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
    print("\nCtrl-C stops web, worker, Redis and PostgreSQL.\n", flush=True)


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
    args = argv[2:]
    s = get_settings()
    try:
        check_startup(s)
    except UnsafeConfiguration as exc:
        raise SystemExit(f"refusing to start: {exc}") from None
    if cmd == "migrate":
        ensure_database()
        asyncio.run(migrate())
    elif cmd == "demo":
        ensure_database()
        print(asyncio.run(demo()))
    elif cmd == "setup":
        ensure_database()
        asyncio.run(migrate())
        counts = asyncio.run(demo())
        print("database ready:", counts)
    elif cmd == "db":
        action = args[0] if args else "status"
        pg = embedded_postgres()
        if action == "start":
            print(pg.start())
        elif action == "stop":
            pg.stop()
        else:
            print("running" if pg.running() else "stopped", pg.pgdata)
    elif cmd == "postgres":
        run_postgres()
    elif cmd == "backup" and args:
        backup(args[0])
    elif cmd == "restore" and args:
        if "--yes" not in args:
            raise SystemExit("restore replaces every row of the database: add --yes to confirm")
        restore(args[0])
    elif cmd == "banner":
        banner()
    elif cmd == "redis":
        if not s.embedded_redis:
            # External Redis: nothing to start; stay alive so the process group keeps running.
            print("REDIS_URL is set; using", s.redis_url, flush=True)
            _idle_until_stopped()
            return
        from backend.embedded import redis_server_args

        sock = s.redis_url.removeprefix("unix://")
        server = redis_server_args(s.data_dir, Path(sock), maxmemory=os.environ.get("QG_REDIS_MAXMEMORY", "256mb"))
        supervise("redis", server)
    elif cmd == "web":
        wait_for_redis()
        wait_for_database()
        supervise("web", web_args(s))
    elif cmd == "worker":
        wait_for_redis()
        wait_for_database()
        supervise("worker", [sys.executable, "-m", "arq", "workers.settings.WorkerSettings"])
    elif cmd == "wechat-menu":  # push the official account's menu (report, my requests, wish board)
        from backend.wechat.service import config, push_menu

        cfg = config()
        if cfg is None:
            raise SystemExit("WeChat is not configured (QG_WECHAT_APP_ID, QG_WECHAT_APP_SECRET, QG_WECHAT_TOKEN)")
        wait_for_redis()
        asyncio.run(push_menu(cfg, s.base_url))
        print("menu pushed")
    else:
        print(__doc__ or "")
        raise SystemExit(2)


if __name__ == "__main__":
    main(sys.argv)
