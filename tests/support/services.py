"""Real throwaway services for the tests: a Redis server, and (for CI's second run) a PostgreSQL
cluster from Debian's binaries, separate from the embedded one.

PostgreSQL refuses to run as root: as root the cluster is owned by and run as the ``postgres``
system user (``runuser``), with its data folder in a temp dir that user owns.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60, path: str = "/healthz") -> None:
    """Until ``url + path`` answers 200; fails at once when the process exits, or after ``timeout``."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url}{path} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, base: Path) -> None:
        from backend.embedded import redis_server_args

        self.dir = base / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket = self.dir / "redis.sock"
        args = redis_server_args(self.dir, self.socket)
        # Tests do not need snapshots.
        i = args.index("--save")
        args[i + 1:i + 3] = [""]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        self.url = f"unix://{self.socket}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Create (or re-create) database ``name`` on the server of ``server_url`` (a copy of ``template`` when
    given); returns its URL."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        finally:
            await conn.close()

    # In a thread of its own: callers may be inside a running event loop (async tests).
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + name))


def drop_database(server_url: str, name: str) -> None:
    import asyncio

    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(run())


class PostgresCluster:
    """A separately started Debian PostgreSQL (CI's second run proves the ``DATABASE_URL`` path)."""

    def __init__(self, base: Path) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.pg_ctl = pg_ctl
        self.root = os.geteuid() == 0
        self.base = base / "pg"
        self.data = self.base / "data"
        self.base.mkdir(parents=True, exist_ok=True)
        if self.root:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
                pw = pwd.getpwnam("postgres")
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
            # the postgres user must be able to reach the folder
            p = self.base.parent
            while p != Path("/"):
                os.chmod(p, os.stat(p).st_mode | 0o011)
                p = p.parent
        self.port = free_port()
        self._run([initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                   "--locale=C", "--no-sync"])
        opts = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run([pg_ctl, "-D", str(self.data), "-o", opts, "-l", str(self.base / "log"), "-w", "start"])
        self.admin_url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str]) -> None:
        if self.root:
            args = ["runuser", "-u", "postgres", "--", *args]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def create_database(self, name: str) -> str:
        psql = pg_bin("psql")
        assert psql, "psql not found"
        subprocess.run([psql, self.admin_url, "-q", "-c", f'CREATE DATABASE "{name}"'], check=True,
                       stdout=subprocess.DEVNULL)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        except subprocess.CalledProcessError:
            pass


def main(argv: list[str]) -> None:
    """``python -m tests.support.services postgres start|stop DIR``: used by scripts/test."""
    action, folder = argv[2], Path(argv[3])
    if argv[1] != "postgres":
        raise SystemExit("usage: python -m tests.support.services postgres start|stop DIR")
    if action == "start":
        cluster = PostgresCluster(folder)
        (folder / "pg" / "url").write_text(cluster.admin_url)
        print(cluster.admin_url)
    else:
        cluster = PostgresCluster.__new__(PostgresCluster)
        cluster.pg_ctl, cluster.root = pg_bin("pg_ctl") or "pg_ctl", os.geteuid() == 0
        cluster.data = folder / "pg" / "data"
        cluster.stop()


if __name__ == "__main__":
    import sys

    main(sys.argv)
