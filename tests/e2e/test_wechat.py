"""What a resident sees of WeChat (issue 23): the one-time phone binding, the binding on their account page, the
consent step for their nickname and avatar, and the report form with WeChat's JS-SDK (inside WeChat) or without
it (any other browser, or no JavaScript).

The app runs under uvicorn with WeChat configured against a local fake of WeChat (its authorise page sends the
browser straight back with a code, as WeChat does after snsapi_base, or after the resident's "allow" for
snsapi_userinfo). Inside "WeChat", the page gets WeChat's user agent and a stand-in for the WeixinJSBridge that
WeChat's client injects: the vendored SDK talks to it exactly as it talks to WeChat's (config, location, photos).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from backend.requests.photos.tables import RequestPhoto as Photo
from backend.requests.tables import Request
from tests.e2e.conftest import ARTIFACTS, PHONE, ROOT, WECHAT_UA, login_resident
from tests.support.factories import fresh_phone, unique
from tests.support.fakes import FakeWechat, jpeg
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
            "QG_WECHAT_TEMPLATE_RESOLVED": "TPL_RESOLVED", "QG_WECHAT_AVATAR_HOSTS": "127.0.0.1",
            "QG_WECHAT_SUBSCRIBE_RESOLVED": "SUB_RESOLVED", "QG_WECHAT_SUBSCRIBE_REOPENED": "SUB_REOPENED"}
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


async def bind_in_wechat(browser, url: str, fake: FakeWechat, **ctx_args):
    """A new browser "in WeChat": the menu link, the one-time binding; returns (context, page) on /account."""
    fake.next_openid = f"oE2E{time.time_ns()}"
    ctx = await browser.new_context(base_url=url, **PHONE, **ctx_args)
    ctx.set_default_timeout(15_000)
    page = await ctx.new_page()
    await page.goto("/wechat/login?next=/account")
    await page.fill("#phone", fresh_phone())
    await page.click("button[type=submit]:has-text('获取验证码')")
    await page.fill("#code", (await page.locator("[data-testid=demo-code] strong").inner_text()).strip())
    async with page.expect_navigation():
        await page.click("button[type=submit]:has-text('绑定并登录')")
    assert path(page) == "/account"
    return ctx, page


async def test_nickname_and_avatar_only_after_the_consent_step(browser, wechat_server, shot) -> None:
    url, fake = wechat_server
    ctx, page = await bind_in_wechat(browser, url, fake)
    box = page.locator("[data-testid=wechat-binding]")
    assert await page.locator("[data-testid=wechat-nickname]").count() == 0  # nothing taken without consent
    await page.click("text=显示我的微信昵称和头像")
    # The consent step: what is taken, where it shows, how to take it back; nothing asked of WeChat yet.
    consent = page.locator("[data-testid=profile-consent]")
    assert "只显示在“我的账号”页" in await consent.inner_text()
    assert "随时可以在“我的账号”中删除" in await consent.inner_text()
    assert not [r for r in fake.requests if r["path"] == "/sns/userinfo"]
    await shot(page, "consent-step")
    await page.click("[data-testid=consent-yes]")  # WeChat asks; the resident allows (the fake sends them back)
    await page.wait_for_url(re.compile(r"/account(#wechat_redirect)?$"))  # (the browser keeps the fragment)
    assert await page.locator("[data-testid=wechat-nickname]").inner_text() == "张阿姨"
    avatar = page.locator("[data-testid=wechat-profile] img")
    await avatar.wait_for()
    assert await avatar.evaluate("img => img.complete && img.naturalWidth") == 132  # WeChat's small size
    await shot(page, "nickname-and-avatar")
    async with page.expect_navigation():
        await page.click("button:has-text('不再显示微信昵称和头像')")
    assert "已删除微信昵称和头像" in await box.inner_text()
    assert await page.locator("[data-testid=wechat-nickname]").count() == 0
    await ctx.close()


# WeChat's client injects WeixinJSBridge; this stand-in answers as it does and keeps what the page asked.
FAKE_BRIDGE = """
window.__wx = {calls: []};
window.WeixinJSBridge = {
  invoke: function (name, args, cb) {
    window.__wx.calls.push({name: name, args: JSON.parse(JSON.stringify(args))});
    var answers = {
      preVerifyJSAPI: {err_msg: "config:ok"},
      geoLocation: {err_msg: "geoLocation:ok", latitude: 37.8465, longitude: 112.5225, accuracy: 25},
      chooseImage: {err_msg: "chooseImage:ok", localIds: JSON.stringify(["wxLocalResource://photo1"])},
      uploadImage: {err_msg: "uploadImage:ok", serverId: "MEDIA_E2E_1"}
    };
    if (answers[name]) setTimeout(function () { cb(answers[name]); }, 10);
  },
  on: function () {}
};
"""


async def test_report_form_inside_wechat_uses_the_sdk_for_location_and_photos(browser, wechat_server, shot) -> None:
    url, fake = wechat_server
    fake.media["MEDIA_E2E_1"] = jpeg(800, 600)
    ctx = await browser.new_context(base_url=url, user_agent=WECHAT_UA, **PHONE)
    ctx.set_default_timeout(15_000)
    await ctx.add_init_script(FAKE_BRIDGE)
    page = await ctx.new_page()
    errors: list[str] = []
    # No script error, and nothing refused by the strict CSP (but the SDK's own report beacon to WeChat's host).
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text
            and "open.weixin" not in m.text else None)
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    locate = page.locator("[data-wx-locate]")
    await locate.wait_for()
    assert await locate.inner_text() == "📍 用微信定位"
    # The config the SDK handed to WeChat: our app id and a signature over the ticket and this page's address.
    config = await page.evaluate("window.__wx.calls.find(c => c.name === 'preVerifyJSAPI').args")
    assert config["appId"] == "wxappid" and config["verifyJsApiList"] == ["geoLocation", "chooseImage",
                                                                           "uploadImage"]
    raw = (f"jsapi_ticket={fake.ticket}&noncestr={config['verifyNonceStr']}&timestamp={config['verifyTimestamp']}"
           f"&url={url}/report")
    assert config["verifySignature"] == hashlib.sha1(raw.encode()).hexdigest()
    await shot(page, "report-in-wechat")
    await locate.click()
    preview = page.locator("[data-testid=route-community]")
    await preview.wait_for()
    assert "海西社区" in await preview.inner_text()  # located by WeChat, routed by the server
    assert await page.locator("input[name=lat]").input_value() == "37.846500"
    await page.click("[data-wx-photos]")
    status = page.locator("[data-wx-photos-status]")
    await page.wait_for_function("() => document.querySelectorAll('input[name=wx_media]').length === 1")
    assert "已添加 1 张微信照片" in await status.inner_text()
    await page.check("input[name=kind][value=help]")
    await page.locator("input[name=category]").first.check()
    description = unique("微信里拍照定位：井盖松了 ")
    await page.fill("#description", description)
    await page.fill("#address", "柳巷南路 1 号")
    await shot(page, "report-in-wechat-filled")
    await page.click("#report button[type=submit]")
    await page.wait_for_url(re.compile(r"/report/done/"))
    req = await Request.select(Request.id, Request.community.name).where(Request.description == description).first()
    assert req is not None and req["community.name"] == "海西社区"  # where WeChat located the resident
    assert await Photo.count().where(Photo.request == req["id"]) == 1  # fetched from WeChat by the server
    assert not errors, errors
    await ctx.close()


@pytest.mark.parametrize("where", ["other browser", "wechat without javascript"])
async def test_report_form_without_the_sdk_is_the_plain_form(browser, wechat_server, shot, tmp_path,
                                                             where: str) -> None:
    url, _fake = wechat_server
    args = {"user_agent": WECHAT_UA, "java_script_enabled": False} if where != "other browser" else {}
    ctx = await browser.new_context(base_url=url, **PHONE, **args)
    ctx.set_default_timeout(15_000)
    page = await ctx.new_page()
    await login_resident(page, fresh_phone())
    await page.goto("/report")
    assert await page.locator("[data-wx-locate], [data-wx-photos]").count() == 0
    assert await page.locator("#photos-camera").is_visible() and await page.locator("#community").is_visible()
    assert (await page.locator("#wx-config").count() == 1) == (where != "other browser")  # signed, unused
    await page.check("input[name=kind][value=help]")
    await page.locator("input[name=category]").first.check()
    description = unique(f"普通表单（{where}） ")
    await page.fill("#description", description)
    await page.select_option("#community", label="海西社区")
    photo = tmp_path / "p.jpg"
    photo.write_bytes(jpeg(640, 480))
    await page.set_input_files("#photos", str(photo))
    await shot(page, "plain-form")
    async with page.expect_navigation():
        await page.click("#report button[type=submit]")
    await page.wait_for_url(re.compile(r"/report/done/"))
    req = await Request.select(Request.id).where(Request.description == description).first()
    assert await Photo.count().where(Photo.request == req["id"]) == 1
    await ctx.close()


async def test_subscribing_in_wechat_shows_on_my_account(browser, wechat_server, shot) -> None:
    url, fake = wechat_server
    ctx, page = await bind_in_wechat(browser, url, fake, user_agent=WECHAT_UA)
    await ctx.add_init_script(FAKE_BRIDGE)
    refused: list[str] = []  # WeChat's button template (a non-script <script> type) runs into no CSP refusal
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text
            and "open.weixin" not in m.text else None)
    await page.reload()
    subs = page.locator("[data-testid=subscriptions]")
    assert "诉求已办结，请评价：未订阅" in await subs.inner_text()
    assert "诉求重新办理：未订阅" in await subs.inner_text()
    # WeChat's subscribe button (an open tag drawn by WeChat's client) with the templates, and the SDK config
    # that enables it.
    tag = page.locator("wx-open-subscribe")
    assert await tag.get_attribute("template") == "SUB_RESOLVED,SUB_REOPENED"
    await page.wait_for_function("() => window.__wx.calls.some(c => c.name === 'preVerifyJSAPI')")
    config = await page.evaluate("window.__wx.calls.find(c => c.name === 'preVerifyJSAPI').args")
    assert config["verifyOpenTagList"] == ["wx-open-subscribe"]
    # The resident accepts "resolved" and declines "reopened" in WeChat's popup; WeChat tells our server.
    ts, nonce = str(int(time.time())), f"n{time.time_ns()}"
    sig = hashlib.sha1("".join(sorted(["tok", ts, nonce])).encode()).hexdigest()
    event = (f"<xml><ToUserName><![CDATA[gh_yingze]]></ToUserName><FromUserName><![CDATA[{fake.next_openid}]]>"
             f"</FromUserName><CreateTime>{ts}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
             "<Event><![CDATA[subscribe_msg_popup_event]]></Event><SubscribeMsgPopupEvent>"
             "<List><TemplateId><![CDATA[SUB_RESOLVED]]></TemplateId><SubscribeStatusString><![CDATA[accept]]>"
             "</SubscribeStatusString><PopupScene>2</PopupScene></List>"
             "<List><TemplateId><![CDATA[SUB_REOPENED]]></TemplateId><SubscribeStatusString><![CDATA[reject]]>"
             "</SubscribeStatusString><PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent></xml>")
    async with httpx.AsyncClient(timeout=10) as wechat_server_side:
        r = await wechat_server_side.post(f"{url}/wechat/callback", content=event.encode(),
                                          params={"signature": sig, "timestamp": ts, "nonce": nonce})
    assert r.status_code == 200 and r.text == "success"
    await page.reload()
    assert "诉求已办结，请评价：已订阅" in await subs.inner_text()
    assert "诉求重新办理：已拒绝" in await subs.inner_text()
    await shot(page, "subscriptions")
    assert not refused, refused
    await ctx.close()
