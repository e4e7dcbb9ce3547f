"""What a resident sees of WeChat (issue 23): the one-time phone binding, then the binding on their account page.

The app runs under uvicorn with WeChat configured against a local fake of WeChat (its authorise page sends the
browser straight back with a code, as snsapi_base does inside WeChat).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import ARTIFACTS, PHONE, ROOT
from tests.support.factories import fresh_phone
from tests.support.fakes import FakeWechat
from tests.support.services import free_port

pytestmark = pytest.mark.e2e


def path(page) -> str:
    return urlsplit(page.url).path


@pytest.fixture(scope="module")
def wechat_server(database) -> Iterator[tuple[str, FakeWechat]]:
    with FakeWechat("wxappid", "wxsecret") as fake:
        port = free_port()
        env = dict(os.environ) | {
            "QG_PORT": str(port), "QG_WECHAT_APP_ID": "wxappid", "QG_WECHAT_APP_SECRET": "wxsecret",
            "QG_WECHAT_TOKEN": "tok", "QG_WECHAT_API_BASE": fake.url, "QG_WECHAT_OPEN_BASE": fake.url,
            "QG_WECHAT_TEMPLATE_RESOLVED": "TPL_RESOLVED"}
        log = ARTIFACTS.parent / "e2e-wechat-server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "backend.app:app", "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env, stdout=out,
                stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        yield url, fake
        proc.terminate()
        proc.wait(timeout=10)


async def test_bind_phone_once_then_see_and_remove_the_binding(browser, wechat_server, shot) -> None:
    url, fake = wechat_server
    fake.next_openid = f"oE2E{time.time_ns()}"
    ctx = await browser.new_context(base_url=url, **PHONE)
    ctx.set_default_timeout(15_000)
    page = await ctx.new_page()
    phone = fresh_phone()
    await page.goto("/wechat/login?next=/account")  # the menu link inside WeChat
    assert path(page) == "/wechat/bind"  # (the browser keeps WeChat's #wechat_redirect fragment)
    assert await page.locator("h1").inner_text() == "绑定手机号"
    await page.fill("#phone", "123")
    await page.click("button[type=submit]:has-text('获取验证码')")
    assert await page.locator("#phone-err").is_visible()  # a wrong number is marked, nothing sent
    await shot(page, "bad-phone")
    await page.fill("#phone", phone)
    await page.click("button[type=submit]:has-text('获取验证码')")
    code = (await page.locator("[data-testid=demo-code] strong").inner_text()).strip()
    await page.fill("#code", code)
    await shot(page, "code")
    async with page.expect_navigation():
        await page.click("button[type=submit]:has-text('绑定并登录')")
    assert path(page) == "/account"
    box = page.locator("[data-testid=wechat-binding]")
    assert "已绑定微信公众号" in await box.inner_text()
    assert phone[-4:] in await page.locator("[data-testid=who]").inner_text()
    wechat_choice = page.locator("label.choice", has=page.locator("input[value=wechat]"))
    assert "暂不可用" not in await wechat_choice.inner_text()  # bound: WeChat messages can reach them
    await shot(page, "account-bound")
    await ctx.close()

    # Another visit from WeChat: no phone, no code — WeChat alone signs in.
    ctx = await browser.new_context(base_url=url, **PHONE)
    page = await ctx.new_page()
    await page.goto("/wechat/login?next=/account")
    assert path(page) == "/account"
    assert phone[-4:] in await page.locator("[data-testid=who]").inner_text()
    async with page.expect_navigation():
        await page.click("button:has-text('解除微信绑定')")
    assert "已解除微信绑定" in await page.locator("[data-testid=wechat-binding]").inner_text()
    assert "未绑定微信" in await page.locator("[data-testid=wechat-binding]").inner_text()
    wechat_choice = page.locator("label.choice", has=page.locator("input[value=wechat]"))
    assert "暂不可用" in await wechat_choice.inner_text()  # unbound: no longer a way to reach them
    await shot(page, "account-unbound")
    # Choosing how to be told, on the same page.
    await page.check("input[name=channel][value=sms]")
    await page.check("input[name=sms_opt_out]")
    async with page.expect_navigation():
        await page.click("button:has-text('保存')")
    assert await page.locator("[data-testid=saved]").is_visible()
    assert await page.locator("input[name=sms_opt_out]").is_checked()
    await shot(page, "account-saved")
    await ctx.close()
