"""Health, error pages, migrations from empty and an idempotent demo district."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend.accounts.tables import Account
from backend.organisation.tables import Unit
from backend.routing.tables import Category
from tests.conftest import ENGINE, fresh_database_url

ROOT = Path(__file__).resolve().parents[2]


async def test_healthz_reports_database_and_redis(client) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok"}


async def test_home_page_has_the_report_entry(client) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert "我要反映" in r.text
    assert "/static/vendor/htmx-2.0.11.min.js" in r.text


async def test_unknown_url_is_a_friendly_404(client) -> None:
    r = await client.get("/no/such/page")
    assert r.status_code == 404
    assert "页面不存在" in r.text and "返回首页" in r.text


async def test_malformed_form_is_a_400_not_a_500(client) -> None:
    r = await client.post("/staff/login", content=b"\xff\xfe%%%",
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code in (400, 422)


async def test_demo_district_is_complete() -> None:
    streets = await Unit.select(Unit.name).where(Unit.kind == "street")
    names = {r["name"] for r in streets}
    assert {"柳巷街道", "文庙街道", "庙前街道", "迎泽街道", "桥东街道", "老军营街道", "郝庄镇"} <= names
    named = ["南海街一社区", "文庙社区", "青年路南社区", "双塔寺街二社区", "桃南二社区", "海西社区", "桃北一社区"]
    for community in named:
        assert await Unit.exists().where((Unit.name == community) & (Unit.kind == "community"))
    assert await Unit.exists().where(Unit.name == "环卫科")
    assert await Category.exists().where(Category.name == "公厕")
    for username in ["admin", "zhzx", "zzb", "liuxiang", "haixi", "hwk", "haixi_head", "wg_lx_1_1"]:
        assert await Account.exists().where(Account.username == username)


def _run_cli(env: dict[str, str], *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "backend.cli", *args], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_migrations_from_empty_and_demo_is_idempotent(tmp_path) -> None:
    """A user's first and second ``setup``: on the embedded run, a new data folder gets its own embedded
    PostgreSQL (initialised, started, reused by the second run); on the external run, a fresh database."""
    env = dict(os.environ)
    env["QG_DATA_DIR"] = str(tmp_path)
    if ENGINE == "external":
        env["DATABASE_URL"] = fresh_database_url(f"fresh_{os.getpid()}_{tmp_path.name[-6:]}".lower())
    else:
        env.pop("DATABASE_URL", None)
    try:
        first = _run_cli(env, "setup")
        second = _run_cli(env, "setup")
        if ENGINE == "embedded":
            # A crash left a lock naming a pid that now belongs to another program: the next start still works.
            _run_cli(env, "db", "stop")
            lock = tmp_path / "pg" / "postmaster.pid"
            lock.write_text(f"{os.getpid()}\n{tmp_path / 'pg'}\n1764590000\n5432\n\n\n  0 0\nready\n")
            assert "stopped" in _run_cli(env, "db", "status")  # the pid is alive, but it is no postgres…
            _run_cli(env, "db", "start")  # …so the lock is removed and the server starts
            assert f"{os.getpid()}" != lock.read_text().split()[0]
    finally:
        if ENGINE == "embedded":
            _run_cli(env, "db", "stop")
    counts_first = first.strip().splitlines()[-1]
    counts_second = second.strip().splitlines()[-1]
    assert counts_first.startswith("database ready:")
    assert counts_first == counts_second
    if ENGINE == "embedded":
        assert (tmp_path / "pg" / "PG_VERSION").read_text().strip() == "18"


async def test_access_log_is_one_json_line_per_request(client) -> None:
    import json
    import logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logging.getLogger("qungong.access").addHandler(handler)
    try:
        await client.get("/no/such/page")
    finally:
        logging.getLogger("qungong.access").removeHandler(handler)
    lines = [json.loads(r.getMessage()) for r in records if "/no/such/page" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0]["status"] == 404 and lines[0]["method"] == "GET" and lines[0]["ms"] >= 0
