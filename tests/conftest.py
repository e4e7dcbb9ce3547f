"""Test set-up: real services started before the backend is imported.

TEST_DB=sqlite (default) or postgres chooses the engine for the whole run (the README's test
command runs both). Redis is a real redis-server on a unix socket in a temp folder.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ENGINE = os.environ.get("TEST_DB", "sqlite")
_BASE = Path(tempfile.mkdtemp(prefix="qg-test-"))
os.environ["QG_DATA_DIR"] = str(_BASE / "data")
os.environ["QG_DEMO"] = "1"
os.environ["QG_DEMO_HISTORY"] = "0"  # `cli demo` in tests loads the organisation only (tests/demo loads a sample year)
os.environ["PICCOLO_CONF"] = "backend.piccolo_conf"
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.services import PostgresCluster, RedisServer  # noqa: E402

_redis = RedisServer(_BASE)
os.environ["REDIS_URL"] = _redis.url
_pg: PostgresCluster | None = None
if ENGINE == "postgres":
    try:
        _pg = PostgresCluster(_BASE)
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise RuntimeError(f"CI needs PostgreSQL: {exc}") from exc
        _redis.stop()
        print(f"\n*** PostgreSQL run not possible here: {exc} ***\n", file=sys.stderr)
        pytest.exit("PostgreSQL binaries missing (allowed outside CI)", returncode=0)
    os.environ["DATABASE_URL"] = _pg.create_database("qungong_test")


def _cleanup() -> None:
    if _pg is not None:
        _pg.stop()
    _redis.stop()
    shutil.rmtree(_BASE, ignore_errors=True)


atexit.register(_cleanup)

import httpx  # noqa: E402

from backend.settings import get_settings  # noqa: E402

TEST_SETTINGS = get_settings()
assert TEST_SETTINGS.is_postgres == (ENGINE == "postgres")


def pytest_report_header(config: pytest.Config) -> str:
    return f"qungong: engine={ENGINE} database={TEST_SETTINGS.database_url} redis={TEST_SETTINGS.redis_url}"


@pytest.fixture(scope="session", autouse=True)
async def database() -> AsyncIterator[None]:
    """Migrate from empty and load the demo district once per run."""
    from backend.cli import migrate
    from backend.db import engine
    from backend.demo import load_demo

    db = engine()
    if TEST_SETTINGS.is_postgres:
        await db.start_connection_pool(min_size=1, max_size=30)  # type: ignore[attr-defined]
    await migrate()
    await load_demo()
    yield
    from backend.jobs import close_arq_pool
    from backend.redis import close_redis

    await close_arq_pool()
    await close_redis()
    if TEST_SETTINGS.is_postgres:
        await db.close_connection_pool()  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
async def clean_redis() -> None:
    """Each test starts with an empty Redis: no leftover rate limits, codes or sessions."""
    from backend.redis import redis_client

    await redis_client().flushdb()


@pytest.fixture(scope="session")
def app():
    from backend.app import app as the_app

    return the_app


class Client(httpx.AsyncClient):
    """An httpx client on the real ASGI app that sends the CSRF header like htmx pages do."""

    async def csrf(self) -> str:
        if "csrftoken" not in self.cookies:
            await self.get("/")
        return self.cookies["csrftoken"]

    async def post(self, url: str, **kwargs):  # type: ignore[override]
        token = await self.csrf()
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault("x-csrftoken", token)
        return await super().post(url, headers=headers, **kwargs)

    async def login_staff(self, username: str, password: str = "demo1234") -> httpx.Response:
        r = await self.post("/staff/login", data={"username": username, "password": password})
        assert r.status_code == 303, r.text
        return r

    async def login_resident(self, phone: str) -> httpx.Response:
        r = await self.post("/login/code", data={"phone": phone})
        assert r.status_code == 200, r.text
        m = re.search(r'data-testid="demo-code">[^<]*<strong>(\d{6})</strong>', r.text)
        assert m, "demo mode shows the code"
        r = await self.post("/login/verify", data={"phone": phone, "code": m.group(1)})
        assert r.status_code == 303, r.text
        return r


def make_client(app) -> Client:
    return Client(transport=httpx.ASGITransport(app=app), base_url="http://testserver", follow_redirects=False)


@pytest.fixture
async def client(app) -> AsyncIterator[Client]:
    async with make_client(app) as c:
        yield c


@pytest.fixture
def new_client(app):
    """Factory for extra clients (two people at once)."""
    return lambda: make_client(app)
