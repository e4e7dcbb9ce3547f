"""The WeChat official account against a local fake of its API: signatures, replies, OAuth + binding, tokens."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from backend.accounts.service import resident_for_phone
from backend.redis import redis_client
from backend.wechat import service
from tests.support.factories import fresh_phone
from tests.support.fakes import FakeWechat

ROOT = Path(__file__).resolve().parents[2]


def signed(token: str = "tok", *extra: str, ts: int | None = None) -> dict[str, str]:
    """WeChat's query string: a fresh timestamp and nonce, signed (a nonce is accepted once: replay protection)."""
    stamp, nonce = str(ts if ts is not None else int(time.time())), secrets.token_hex(8)
    return {"timestamp": stamp, "nonce": nonce, "signature": service.signature(token, stamp, nonce, *extra)}


def text_message(content: str = "路灯坏了", sender: str = "oUser1", msg_id: int | None = None) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_yingze]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id or time.time_ns()}</MsgId></xml>")


TEXT = text_message()


async def test_without_configuration_the_paths_are_absent(client) -> None:
    for path in ("/wechat/callback", "/wechat/login", "/wechat/bind", "/wechat/oauth?code=x&state=y"):
        assert (await client.get(path)).status_code == 404, path
    r = await client.request("POST", "/wechat/callback", params=signed(), content=TEXT.encode())
    assert r.status_code == 404


async def test_server_check_echoes_only_with_our_signature(client, wechat) -> None:
    r = await client.get("/wechat/callback", params=signed() | {"echostr": "e123"})
    assert r.status_code == 200 and r.text == "e123"
    r = await client.get("/wechat/callback", params=signed("forged") | {"echostr": "e123"})
    assert r.status_code == 403 and "e123" not in r.text


async def test_text_message_gets_the_report_link(client, wechat) -> None:
    # No CSRF token: WeChat's server calls this, and its signature is the check.
    r = await client.request("POST", "/wechat/callback", params=signed(), content=text_message().encode())
    assert r.status_code == 200, r.text
    msg = service.parse_xml(r.content)
    assert msg["ToUserName"] == "oUser1" and msg["FromUserName"] == "gh_yingze" and msg["MsgType"] == "text"
    assert '<a href="http://127.0.0.1:8000/report">我要反映</a>' in msg["Content"]


async def test_forged_or_malformed_messages_are_refused(client, wechat) -> None:
    r = await client.request("POST", "/wechat/callback", params=signed("forged"), content=TEXT.encode())
    assert r.status_code == 403
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>'
    assert (await client.request("POST", "/wechat/callback", params=signed(), content=bomb)).status_code == 400
    assert (await client.request("POST", "/wechat/callback", params=signed(), content=b"<xml>")).status_code == 400


async def test_safe_mode_decrypts_and_answers_encrypted(client, wechat) -> None:
    cfg = service.config()
    assert cfg is not None
    encrypted = service.encrypt(cfg, text_message())
    body = f"<xml><ToUserName><![CDATA[gh_yingze]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    params = signed() | {"encrypt_type": "aes"}
    params["msg_signature"] = service.signature("tok", params["timestamp"], params["nonce"], encrypted)
    r = await client.request("POST", "/wechat/callback", params=params, content=body.encode())
    assert r.status_code == 200, r.text
    outer = service.parse_xml(r.content)
    assert outer["MsgSignature"] == service.signature("tok", outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
    inner = service.parse_xml(service.decrypt(cfg, outer["Encrypt"]))
    assert "我要反映" in inner["Content"] and inner["ToUserName"] == "oUser1"
    params = signed() | {"encrypt_type": "aes", "msg_signature": "0" * 40}  # the message's signature is forged
    r = await client.request("POST", "/wechat/callback", params=params, content=body.encode())
    assert r.status_code == 403


async def _oauth(client, wechat: FakeWechat, openid: str, nxt: str = "/my"):
    r = await client.get("/wechat/login", params={"next": nxt})
    assert r.status_code == 302
    target = urlsplit(r.headers["location"])
    q = parse_qs(target.query)
    assert target.path == "/connect/oauth2/authorize" and q["scope"] == ["snsapi_base"] and q["appid"] == ["wxappid"]
    assert r.headers["location"].endswith("#wechat_redirect")
    code = f"code-{openid}-{time.time_ns()}"
    wechat.codes[code] = (openid, "snsapi_base")
    return await client.get("/wechat/oauth", params={"code": code, "state": q["state"][0]})


async def test_first_visit_binds_the_phone_once_then_wechat_alone_signs_in(client, new_client, wechat) -> None:
    phone, openid = fresh_phone(), f"oAlice{time.time_ns()}"
    r = await _oauth(client, wechat, openid)
    assert r.status_code == 303 and r.headers["location"] == "/wechat/bind"
    page = await client.get("/wechat/bind")
    assert "绑定手机号" in page.text
    r = await client.post("/wechat/bind/code", data={"phone": phone})
    code = re.search(r'data-testid="demo-code">[^<]*<strong>(\d{6})</strong>', r.text).group(1)  # type: ignore[union-attr]
    r = await client.post("/wechat/bind/verify", data={"phone": phone, "code": "000000" if code != "000000" else "1"})
    assert r.status_code == 400 and await service.account_for_openid(openid) is None  # a wrong code binds nothing
    r = await client.post("/wechat/bind/verify", data={"phone": phone, "code": code})
    assert r.status_code == 303 and r.headers["location"] == "/my"
    acc = await resident_for_phone(phone)
    assert await service.openid_of(acc.id) == openid
    # Next time, in another browser session: WeChat alone signs in.
    async with new_client() as other:
        r = await _oauth(other, wechat, openid, "/notifications")
        assert r.status_code == 303 and r.headers["location"] == "/notifications"
        home = await other.get("/")
        assert phone[-4:] in home.text


async def test_binding_is_one_to_one(client, new_client, wechat) -> None:
    phone = fresh_phone()
    acc = await resident_for_phone(phone)
    await service.bind(acc.id, "oFirst")
    async with new_client() as other:
        await _oauth(other, wechat, "oSecond")
        r = await other.post("/wechat/bind/code", data={"phone": phone})
        code = re.search(r"<strong>(\d{6})</strong>", r.text).group(1)  # type: ignore[union-attr]
        r = await other.post("/wechat/bind/verify", data={"phone": phone, "code": code})
        assert r.status_code == 409 and "已绑定其他微信" in r.text
    assert await service.openid_of(acc.id) == "oFirst"


async def test_oauth_refuses_a_foreign_state_or_a_bad_code(client, wechat) -> None:
    await client.get("/wechat/login")
    r = await client.get("/wechat/oauth", params={"code": "x", "state": "not-mine"})
    assert r.status_code == 400 and "授权已失效" in r.text
    r = await client.get("/wechat/login")
    state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
    r = await client.get("/wechat/oauth", params={"code": "unknown", "state": state})
    assert r.status_code == 400 and "微信授权失败" in r.text
    assert (await client.get("/wechat/bind")).status_code == 404  # nothing pending


async def test_unbind_from_the_account_page(client, wechat) -> None:
    phone = fresh_phone()
    await client.login_resident(phone)
    acc = await resident_for_phone(phone)
    await service.bind(acc.id, "oBob")
    page = await client.get("/account")
    assert "已绑定微信公众号" in page.text
    r = await client.post("/wechat/unbind")
    assert r.status_code == 303
    page = await client.get("/account?unbound=1")
    assert "已解除微信绑定" in page.text and "未绑定微信" in page.text
    assert await service.openid_of(acc.id) is None


async def test_access_token_is_fetched_once_and_shared(wechat) -> None:
    cfg = service.config()
    assert cfg is not None
    tokens = await asyncio.gather(*[service.access_token(cfg) for _ in range(5)])
    assert set(tokens) == {"TOKEN1"} and wechat.issued == 1
    assert 6000 < await redis_client().ttl(service.TOKEN_KEY) <= 6900  # refreshed before WeChat's 7200 s
    # Another process (a worker) reads the same token from Redis instead of fetching its own.
    code = "import asyncio\nfrom backend.wechat import service as s\nprint(asyncio.run(s.access_token(s.config())))"
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], env=dict(os.environ), cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "TOKEN1", out.stderr
    assert wechat.issued == 1


async def test_expired_token_is_replaced_and_the_message_sent(wechat) -> None:
    cfg = service.config()
    assert cfg is not None
    await service.access_token(cfg)
    wechat.expire_all()  # WeChat revoked it early (e.g. the secret was reset elsewhere)
    result = await service.send_template(cfg, "oCarol", "resolved", "您的诉求已办结，请评价", "YZ0001", "已办结",
                                         "http://x/r/YZ0001")
    assert result["errcode"] == 0 and wechat.issued == 2
    assert wechat.messages == [{"touser": "oCarol", "template_id": "TPL_RESOLVED", "url": "http://x/r/YZ0001",
                                "data": {"first": {"value": "您的诉求已办结，请评价"}, "keyword1": {"value": "YZ0001"},
                                         "keyword2": {"value": "已办结"}, "remark": {"value": "点击查看详情"}}}]
    assert await redis_client().get(service.TOKEN_KEY) == "TOKEN2"


async def test_menu_links_report_my_requests_and_the_wish_board(wechat) -> None:
    cfg = service.config()
    assert cfg is not None
    await service.push_menu(cfg, "https://qg.example.cn")
    assert [(b["name"], b["url"]) for b in wechat.menus[0]["button"]] == [
        ("我要反映", "https://qg.example.cn/report"), ("我的诉求", "https://qg.example.cn/my"),
        ("微心愿", "https://qg.example.cn/wishes")]
