"""One crash stops everything (issue 15, item 8), with real processes: the project commands restart a
crashed Redis, worker or web process; the worker comes back after Redis does; while Redis is down pages
answer 503 with Retry-After and /healthz says which service is down."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from backend.settings import get_settings
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class Stack:
    def __init__(self) -> None:
        self.data = Path(tempfile.mkdtemp(prefix="qg-c-"))
        self.socket = self.data / "redis.sock"
        base = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        base |= {"QG_DATA_DIR": str(self.data), "QG_RESTART_MAX_DELAY": "2", "QG_DEMO": "1",
                 # the run's database (its own data folder has no embedded server of its own)
                 "DATABASE_URL": get_settings().database_url}
        self.redis_env = base
        self.port = free_port()
        self.env = base | {"REDIS_URL": f"unix://{self.socket}", "QG_PORT": str(self.port)}
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> subprocess.Popen:
        env = self.redis_env if name == "redis" else self.env
        proc = subprocess.Popen([sys.executable, "-m", "backend.cli", name], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs[name] = proc
        return proc

    def redis_up(self) -> bool:
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def web_up(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def ping_job(self, timeout: float = 40) -> str:
        from arq import create_pool
        from arq.connections import RedisSettings

        async def run() -> str:
            pool = await create_pool(RedisSettings(unix_socket_path=str(self.socket)))
            try:
                job = await pool.enqueue_job("ping")
                assert job is not None
                return await job.result(timeout=timeout)
            finally:
                await pool.aclose()

        return asyncio.run(run())

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def stack() -> Iterator[Stack]:
    s = Stack()
    try:
        s.start("redis")
        _wait(s.redis_up, 20, "redis")
        s.start("worker")
        s.start("web")
        _wait(s.web_up, 60, "web")
        yield s
    finally:
        s.stop_all()


def test_crashed_processes_come_back_and_outages_are_503(stack: Stack) -> None:
    assert stack.ping_job() == "pong"

    # 1. Redis crashes (kill -9): its supervisor starts it again; nothing else stopped.
    [redis_pid] = _children(stack.procs["redis"].pid)
    os.kill(redis_pid, signal.SIGKILL)
    _wait(lambda: _children(stack.procs["redis"].pid) not in ([], [redis_pid]), 20, "redis restart")
    _wait(stack.redis_up, 20, "redis back")
    assert all(p.poll() is None for p in stack.procs.values())
    assert stack.ping_job() == "pong"  # the worker reconnected (restarted if it had to)

    # 2. Redis is down for a while: pages say 503 with Retry-After, /healthz names Redis.
    stack.procs["redis"].send_signal(signal.SIGTERM)
    stack.procs["redis"].wait(30)
    health = httpx.get(stack.url + "/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["redis"].startswith("error")
    assert health.json()["database"] == "ok" and health.headers["retry-after"]
    page = httpx.get(stack.url + "/my", cookies={"qg_session": "x" * 64}, timeout=10)
    assert page.status_code == 503 and int(page.headers["retry-after"]) > 0
    assert "服务暂时不可用" in page.text
    assert stack.procs["web"].poll() is None and stack.procs["worker"].poll() is None
    stack.start("redis")
    _wait(stack.redis_up, 20, "redis back")
    _wait(stack.web_up, 20, "web healthy")
    assert httpx.get(stack.url + "/", timeout=10).status_code == 200
    assert stack.ping_job() == "pong"  # the worker came back after the outage

    # 3. The worker crashes (kill -9): restarted, and consumes again.
    [arq_pid] = _children(stack.procs["worker"].pid)
    os.kill(arq_pid, signal.SIGKILL)
    _wait(lambda: _children(stack.procs["worker"].pid) not in ([], [arq_pid]), 20, "worker restart")
    assert stack.ping_job() == "pong"

    # 4. The web process crashes: restarted, answering again.
    [web_pid] = _children(stack.procs["web"].pid)
    os.kill(web_pid, signal.SIGKILL)
    _wait(lambda: _children(stack.procs["web"].pid) not in ([], [web_pid]), 20, "web restart")
    _wait(stack.web_up, 60, "web back")


@pytest.mark.parametrize("error", [ConnectionRefusedError(111, "Connection refused"), "cannot_connect_now"])
async def test_database_unavailable_is_a_503_page(client, monkeypatch, error) -> None:
    from asyncpg.exceptions import CannotConnectNowError

    from tests.support.factories import fresh_phone

    exc = CannotConnectNowError("the database system is starting up") if error == "cannot_connect_now" else error
    await client.login_resident(fresh_phone())

    async def down(*_a, **_k):
        raise exc

    monkeypatch.setattr("backend.requests.queries.my_requests", down)
    r = await client.get("/my")
    assert r.status_code == 503 and r.headers["retry-after"] == "30"
    assert "服务暂时不可用" in r.text and "系统正在恢复" in r.text
