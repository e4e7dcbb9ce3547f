"""Security headers (issue 15, item 13) and forwarded client IPs (item 12)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import httpx

from backend.cli import web_args
from backend.settings import get_settings
from tests.support.factories import fresh_phone
from tests.support.services import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


async def test_every_response_carries_the_security_headers(client) -> None:
    for path in ["/", "/report", "/no/such/page", "/static/css/app.css", "/healthz", "/staff"]:
        r = await client.get(path)
        for name, value in EXPECTED.items():
            assert r.headers.get(name) == value, (path, name)
        csp = r.headers["content-security-policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert script_src.strip() == "script-src 'self'", path  # no unsafe-inline, no unsafe-eval
        assert "frame-ancestors 'none'" in csp
        assert "camera=(self)" in r.headers["permissions-policy"]
        assert "geolocation=(self)" in r.headers["permissions-policy"]
        assert "strict-transport-security" not in r.headers  # plain http here


async def test_every_429_says_when_to_retry(client) -> None:
    phone = fresh_phone()
    assert (await client.post("/login/code", data={"phone": phone})).status_code == 200
    r = await client.post("/login/code", data={"phone": phone})  # within the cooldown
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_https_site_gets_hsts_and_secure_cookies() -> None:
    code = """
import asyncio, httpx
from backend.app import app
async def main():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
        r = await c.get("/staff/login")
        print(r.headers.get("strict-transport-security"))
        print(r.headers.get("set-cookie"))
asyncio.run(main())
"""
    env = {k: v for k, v in os.environ.items() if k != "QG_DEMO"} | {"QG_PUBLIC_URL": "https://qg.example.gov.cn"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    hsts, cookie = out.stdout.strip().splitlines()[-2:]
    assert hsts.startswith("max-age=31536000"), out.stderr[-2000:]
    assert "csrftoken=" in cookie and "Secure" in cookie


def test_forwarding_headers_only_from_configured_proxies() -> None:
    s = get_settings()
    plain = web_args(dataclasses.replace(s, trusted_proxies=()))
    assert "--no-proxy-headers" in plain and "--proxy-headers" not in plain
    proxied = web_args(dataclasses.replace(s, trusted_proxies=("10.0.0.5",)))
    assert proxied[proxied.index("--forwarded-allow-ips") + 1] == "10.0.0.5"


def test_a_forged_x_forwarded_for_does_not_escape_the_ip_limit() -> None:
    """The real web command: 31 code requests, each claiming another IP, still count against the one peer."""
    port = free_port()
    env = dict(os.environ) | {"QG_PORT": str(port)}
    env.pop("QG_TRUSTED_PROXIES", None)
    proc = subprocess.Popen([sys.executable, "-m", "backend.cli", "web"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, proc)
        with httpx.Client(base_url=url) as c:
            c.get("/")
            statuses = []
            for i in range(get_settings().otp_per_ip_per_hour + 1):
                r = c.post("/login/code", data={"phone": fresh_phone()},
                           headers={"x-csrftoken": c.cookies["csrftoken"], "x-forwarded-for": f"198.18.0.{i}"})
                statuses.append(r.status_code)
        assert statuses[:-1] == [200] * get_settings().otp_per_ip_per_hour
        assert statuses[-1] == 429
    finally:
        proc.terminate()
        proc.wait(20)
