"""Demo mode (issue 15, item 2): only with QG_DEMO=1, a banner on every page, refused on a public URL."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.settings import UnsafeConfiguration, check_startup, get_settings
from tests.support.factories import fresh_phone

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("QG_DEMO", "QG_PUBLIC_URL", "DATABASE_URL", "REDIS_URL")}
    return env | extra


def _python(code: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(**extra), capture_output=True, text=True,
                          timeout=60)


def test_embedded_setup_without_qg_demo_is_not_demo() -> None:
    # No DATABASE_URL, no REDIS_URL (the embedded default) and no QG_DEMO: codes stay off the page.
    out = _python("from backend.settings import get_settings; print(get_settings().demo_mode)")
    assert out.stdout.strip() == "False", out.stderr
    out = _python("from backend.settings import get_settings; print(get_settings().demo_mode)", QG_DEMO="1")
    assert out.stdout.strip() == "True", out.stderr


@pytest.mark.parametrize("url", ["https://qungong.example.gov.cn", "http://203.0.113.5:8000"])
def test_demo_mode_on_a_public_url_refuses_to_start(url: str) -> None:
    settings = dataclasses.replace(get_settings(), demo_mode=True, public_url=url)
    with pytest.raises(UnsafeConfiguration, match="QG_DEMO"):
        check_startup(settings)
    # The real start-up paths: the web app and the project command both refuse, with the reason.
    out = _python("import backend.app", QG_DEMO="1", QG_PUBLIC_URL=url)
    assert out.returncode != 0 and "QG_DEMO" in out.stderr
    cli = subprocess.run([sys.executable, "-m", "backend.cli", "web"], cwd=ROOT, timeout=60, capture_output=True,
                         text=True, env=_env(QG_DEMO="1", QG_PUBLIC_URL=url))
    assert cli.returncode != 0 and "refusing to start" in cli.stderr


def test_demo_mode_on_loopback_or_without_demo_is_allowed() -> None:
    base = get_settings()
    check_startup(dataclasses.replace(base, demo_mode=True, public_url="http://127.0.0.1:8000"))
    check_startup(dataclasses.replace(base, demo_mode=False, public_url="https://qungong.example.gov.cn"))


async def test_every_page_shows_the_demo_banner(client) -> None:
    for path in ["/", "/login", "/staff/login", "/wishes", "/public", "/no/such/page"]:
        r = await client.get(path)
        assert 'data-testid="demo-banner"' in r.text and "演示模式" in r.text, path
    client.cookies.set("lang", "en", domain="testserver.local")
    r = await client.get("/")
    assert "Demo mode" in r.text


async def test_without_demo_mode_no_code_and_no_banner(client, monkeypatch) -> None:
    off = dataclasses.replace(get_settings(), demo_mode=False)
    monkeypatch.setattr("backend.web.render.get_settings", lambda: off)
    monkeypatch.setattr("backend.accounts.controllers.get_settings", lambda: off)
    r = await client.get("/")
    assert "demo-banner" not in r.text and "演示模式" not in r.text
    r = await client.post("/login/code", data={"phone": fresh_phone()})
    assert r.status_code == 200 and "demo-code" not in r.text
