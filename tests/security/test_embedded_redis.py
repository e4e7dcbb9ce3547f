"""The embedded Redis keeps sessions and drafts over a restart (issue 15, item 3), with real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from backend.embedded import redis_server_args
from backend.settings import get_settings
from tests.support.services import free_port

ROOT = Path(__file__).resolve().parents[2]


def test_save_points_are_separate_arguments(tmp_path: Path) -> None:
    args = redis_server_args(tmp_path, tmp_path / "r.sock")
    i = args.index("--save")
    assert args[i + 1:i + 3] == ["60", "1"]
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"


class Embedded:
    """``python -m backend.cli redis`` (the embedded Redis exactly as scripts/run starts it) and a web process."""

    def __init__(self, data: Path) -> None:
        self.data = data
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        # the run's database: this data folder has no embedded PostgreSQL of its own
        self.env = env | {"QG_DATA_DIR": str(data), "QG_DEMO": "1", "DATABASE_URL": get_settings().database_url}
        self.socket = data / "redis.sock"
        self.redis: subprocess.Popen | None = None

    def start_redis(self) -> None:
        self.redis = subprocess.Popen([sys.executable, "-m", "backend.cli", "redis"], cwd=ROOT, env=self.env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.client().ping():
                    return
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline and self.redis.poll() is None, "embedded redis did not start"
            time.sleep(0.1)

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.send_signal(signal.SIGTERM)  # an ordinary stop (Ctrl-C, a reboot)
        self.redis.wait(20)

    def client(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=str(self.socket))


@pytest.fixture
def embedded() -> Iterator[Embedded]:
    # A short folder: a unix socket path is limited to about 100 bytes.
    data = Path(tempfile.mkdtemp(prefix="qg-r-"))
    emb = Embedded(data)
    emb.start_redis()
    port = free_port()
    web_env = emb.env | {"REDIS_URL": f"unix://{emb.socket}", "QG_PORT": str(port)}
    web = subprocess.Popen([sys.executable, "-m", "uvicorn", "backend.app:app", "--host", "127.0.0.1", "--port",
                            str(port), "--log-level", "warning"], cwd=ROOT, env=web_env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    emb.url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(emb.url + "/healthz", timeout=2).status_code == 200:  # type: ignore[attr-defined]
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline and web.poll() is None, "web did not start"
        time.sleep(0.2)
    yield emb
    web.terminate()
    web.wait(20)
    if emb.redis and emb.redis.poll() is None:
        emb.stop_redis()


async def test_a_restart_keeps_the_session_and_the_draft(embedded: Embedded) -> None:
    from backend.routing.tables import Category
    from tests.support.people import unit

    url = embedded.url  # type: ignore[attr-defined]
    assert embedded.client().config_get("save")["save"] == "60 1"
    cat = await Category.objects().where(Category.code == "garbage").first()
    community = await unit("LX-1")
    key = uuid.uuid4().hex
    async with httpx.AsyncClient(base_url=url) as staff, httpx.AsyncClient(base_url=url) as anon:
        await staff.get("/")
        r = await staff.post("/staff/login", data={"username": "zhzx", "password": "demo1234"},
                       headers={"x-csrftoken": staff.cookies["csrftoken"]})
        assert r.status_code == 303
        assert (await staff.get("/cc/queue")).status_code == 200
        await anon.get("/")
        r = await anon.post("/report", headers={"x-csrftoken": anon.cookies["csrftoken"]},
                      data={"kind": "help", "category": str(cat.id), "description": "重启前写的草稿",
                            "community": str(community.id), "is_public": "1", "idempotency_key": key})
        assert r.status_code == 303 and key in r.headers["location"]

        embedded.stop_redis()
        assert (embedded.data / "redis.rdb").exists()
        embedded.start_redis()

        r = await staff.get("/cc/queue")
        assert r.status_code == 200 and 'data-testid="who"' in r.text  # still signed in
        draft = embedded.client().get(f"qg:report-draft:{key}")
        assert draft is not None and "重启前写的草稿" in draft.decode()
