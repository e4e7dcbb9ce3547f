"""Test set-up: real services started before the backend is imported.

The database is the embedded PostgreSQL, started the way ``scripts/run`` starts it (from the pinned
wheel, in the run's data folder). With ``DATABASE_URL`` set (CI's second run: Debian's PostgreSQL),
the tests use a fresh database on that server instead. Redis is a real redis-server on a unix socket.
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
from hypothesis import settings as hypothesis_settings

# CI replays a fixed, recorded sequence of examples (a failure there reproduces anywhere with CI=1);
# elsewhere each run explores new ones. Either way the run prints what the examples covered.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("dev", print_blob=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

_BASE = Path(tempfile.mkdtemp(prefix="qg-test-"))
os.environ["QG_DATA_DIR"] = str(_BASE / "data")
os.environ["QG_DEMO"] = "1"
os.environ["QG_DEMO_HISTORY"] = "0"  # `cli demo` in tests loads the organisation only (tests/demo loads a sample year)
os.environ["PICCOLO_CONF"] = "backend.piccolo_conf"
os.environ["SECRET_KEY"] = "test-secret-key-not-for-production"
os.environ.pop("REDIS_URL", None)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.embedded import EmbeddedPostgres  # noqa: E402
from tests.support.services import RedisServer, create_database, drop_database  # noqa: E402

# Faster, not safer: a crash of a test run loses nothing of value.
TEST_PG_OPTIONS = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
EXTERNAL_URL = os.environ.pop("DATABASE_URL", None)
ENGINE = "external" if EXTERNAL_URL else "embedded"
# scripts/mutate: each mutant's run copies a migrated database with the demo organisation (a template on
# the server of DATABASE_URL) instead of migrating from empty, which would cost most of a short run.
TEMPLATE = os.environ.get("QG_TEST_TEMPLATE") if EXTERNAL_URL else None
_redis = RedisServer(_BASE)
os.environ["REDIS_URL"] = _redis.url
_pg: EmbeddedPostgres | None = None
if EXTERNAL_URL:
    os.environ["DATABASE_URL"] = create_database(EXTERNAL_URL, f"qungong_test_{os.getpid()}", template=TEMPLATE)
else:
    _pg = EmbeddedPostgres(_BASE / "data", options=TEST_PG_OPTIONS)
    _pg.start()


def fresh_database_url(name: str) -> str:
    """An empty database on the run's server (for tests that migrate from nothing)."""
    if EXTERNAL_URL:
        return create_database(EXTERNAL_URL, name)
    assert _pg is not None
    _pg.create_database(name)
    return _pg.url(name)


def _cleanup() -> None:
    if TEMPLATE and EXTERNAL_URL:  # the mutation run's copies would fill the disk
        drop_database(EXTERNAL_URL, f"qungong_test_{os.getpid()}")
    if _pg is not None:
        _pg.stop("immediate")
    _redis.stop()
    shutil.rmtree(_BASE, ignore_errors=True)


atexit.register(_cleanup)

import httpx  # noqa: E402

from backend.settings import get_settings  # noqa: E402

TEST_SETTINGS = get_settings()
assert TEST_SETTINGS.embedded_postgres == (ENGINE == "embedded")


def pytest_report_header(config: pytest.Config) -> str:
    return f"qungong: PostgreSQL {ENGINE} database={TEST_SETTINGS.database_url} redis={TEST_SETTINGS.redis_url}"


@pytest.fixture(scope="session", autouse=True)
async def database() -> AsyncIterator[None]:
    """Migrate from empty and load the demo district once per run."""
    from backend.cli import migrate
    from backend.db import engine
    from backend.demo import load_demo

    db = engine()
    await db.start_connection_pool(min_size=1, max_size=30)
    if not TEMPLATE:
        await migrate()
        await load_demo()
    yield
    from backend.jobs import close_arq_pool
    from backend.redis import close_redis

    await close_arq_pool()
    await close_redis()
    await db.close_connection_pool()


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
