"""Real-browser tests: the app under uvicorn in a subprocess (same database and Redis as the run),
Debian's chromium driven by Playwright, phone viewport. Screenshots go to test-artifacts/e2e/."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.services import free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2148A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MMWEBID/2247 "
             "MicroMessenger/8.0.47.2560(0x28002F30) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_server(database) -> Iterator[str]:
    """The real app (uvicorn) on a free loopback port, after the run's database is migrated."""
    port = free_port()
    env = dict(os.environ)
    env["QG_PORT"] = str(port)
    log = (ARTIFACTS.parent / "e2e-server.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "backend.app:app", "--host", "127.0.0.1", "--port", str(port),
             "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, proc)
    except RuntimeError as exc:
        proc.kill()
        raise RuntimeError(f"the app did not start ({exc}):\n" + log.read_text(errors="replace")[-3000:]) from exc
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator:
    if not HAVE_CHROMIUM:
        raise RuntimeError("Debian's chromium is missing: run scripts/system-deps (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        await b.close()


@pytest.fixture
async def phone(browser, live_server) -> AsyncIterator:
    """A fresh phone-sized browser context on the live app."""
    ctx = await browser.new_context(base_url=live_server, **PHONE)
    ctx.set_default_timeout(15_000)
    yield ctx
    await ctx.close()


class Shots:
    """Numbered screenshots per test: test-artifacts/e2e/<test>/<nn>-<step>.png."""

    def __init__(self, name: str) -> None:
        self.dir = ARTIFACTS / re.sub(r"[^\w-]+", "_", name)
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    async def __call__(self, page, step: str) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{step}.png"
        await page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(request) -> Shots:
    return Shots(request.node.name)


async def login_resident(page, phone_number: str) -> None:
    await page.goto("/login")
    await page.fill("#phone", phone_number)
    await page.click("button[type=submit]:has-text('获取验证码')")
    code = (await page.locator("[data-testid=demo-code] strong").inner_text()).strip()
    await page.fill("#code", code)
    async with page.expect_navigation():
        await page.click("form[action='/login/verify'] button[type=submit]")


async def login_staff(page, username: str, password: str = "demo1234") -> None:
    await page.goto("/staff/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    async with page.expect_navigation():
        await page.click("form[action='/staff/login'] button[type=submit]")


async def sw_ready(page) -> None:
    """Wait until the service worker controls the page (installed, activated, claimed)."""
    await page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null",
                                 timeout=15_000)


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


async def axe_violations(page) -> list[dict]:
    """Serious and critical WCAG 2.2 A/AA violations on the page as it is now."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                             "resultTypes": ["violations"]})
    bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"][:5]]} for v in bad]


def photo_file(tmp_path: Path, width: int = 4000, height: int = 3000) -> Path:
    """A 12-megapixel camera-like JPEG (detail everywhere, so it is several MB)."""
    from PIL import Image, ImageDraw

    img = Image.effect_noise((width // 4, height // 4), 60).convert("RGB").resize((width, height))
    draw = ImageDraw.Draw(img)
    for i in range(0, width, 40):
        draw.line([(i, 0), (width - i, height)], fill=(i % 255, 120, 200 - i % 200), width=3)
    path = tmp_path / "IMG_0001.jpg"
    img.save(path, "JPEG", quality=95)
    return path
