"""The WeChat official account (公众号), through its documented HTTP API with httpx.

Not ``wechatpy``: its last release is from 2021 (unmaintained), and the few calls needed here are small.
Configured by env (``QG_WECHAT_APP_ID``, ``QG_WECHAT_APP_SECRET``, ``QG_WECHAT_TOKEN``, optionally
``QG_WECHAT_AES_KEY`` for safe mode); without it every WeChat path answers 404.
``QG_WECHAT_API_BASE`` / ``QG_WECHAT_OPEN_BASE`` override the API hosts (tests use a local server).

- incoming messages: signature over (token, timestamp, nonce) — plain mode — or over the encrypted body too
  (safe mode, AES-256-CBC with the EncodingAESKey);
- the access token: one per app, shared by every process through Redis, refreshed under a Redis lock, and
  dropped and fetched again when an API call says it expired (errcode 40001/40014/42001);
- OAuth2 web authorisation (snsapi_base): code → openid; an openid is bound once to a resident's phone.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import struct
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from backend.errors import DomainError
from backend.i18n import gettext as _
from backend.redis import redis_client
from backend.wechat.tables import WechatBinding

log = logging.getLogger("qungong.wechat")
TOKEN_KEY = "wechat:access_token"
EXPIRED_TOKEN_CODES = {40001, 40014, 42001}


class WechatError(DomainError):
    status = 502  # WeChat refused or failed: not the person's input

    def __init__(self, message: str, code: int = -1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class WechatConfig:
    app_id: str
    secret: str
    token: str
    aes_key: str = ""
    api_base: str = "https://api.weixin.qq.com"
    open_base: str = "https://open.weixin.qq.com"
    templates: tuple[tuple[str, str], ...] = ()
    subscriptions: tuple[tuple[str, str], ...] = ()  # subscription-message (订阅通知) template per event
    avatar_hosts: tuple[str, ...] = ("thirdwx.qlogo.cn", "wx.qlogo.cn")

    def template(self, event: str) -> str:
        return dict(self.templates).get(event, "")

    def subscription(self, event: str) -> str:
        return dict(self.subscriptions).get(event, "")


NOTICE_EVENTS = ("received", "accepted", "resolved", "reopened")


def config() -> WechatConfig | None:
    """The account's settings, or None when WeChat is not configured (read from env each time: cheap)."""
    env = os.environ.get
    app_id, secret, token = env("QG_WECHAT_APP_ID", ""), env("QG_WECHAT_APP_SECRET", ""), env("QG_WECHAT_TOKEN", "")
    if not (app_id and secret and token):
        return None
    return WechatConfig(
        app_id=app_id, secret=secret, token=token, aes_key=env("QG_WECHAT_AES_KEY", ""),
        api_base=(env("QG_WECHAT_API_BASE") or "https://api.weixin.qq.com").rstrip("/"),
        open_base=(env("QG_WECHAT_OPEN_BASE") or "https://open.weixin.qq.com").rstrip("/"),
        templates=tuple((e, env(f"QG_WECHAT_TEMPLATE_{e.upper()}", "")) for e in NOTICE_EVENTS),
        subscriptions=tuple((e, env(f"QG_WECHAT_SUBSCRIBE_{e.upper()}", "")) for e in NOTICE_EVENTS),
        avatar_hosts=tuple(h.strip() for h in (env("QG_WECHAT_AVATAR_HOSTS") or "thirdwx.qlogo.cn,wx.qlogo.cn"
                                               ).split(",") if h.strip()),
    )


# ---------------------------------------------------------------- incoming messages


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(cfg: WechatConfig, sig: str, timestamp: str, nonce: str, *extra: str) -> bool:
    return bool(sig) and hmac.compare_digest(signature(cfg.token, timestamp, nonce, *extra), sig)


def parse_tree(body: bytes) -> ET.Element:
    """WeChat's XML message; a DOCTYPE (entity tricks) or anything malformed is refused."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise WechatError("DOCTYPE not allowed")
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise WechatError(f"bad xml: {exc}") from None


def parse_xml(body: bytes) -> dict[str, str]:
    """The message's top-level fields (all of a message but the lists of the subscription events)."""
    return {child.tag: (child.text or "") for child in parse_tree(body)}


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def text_reply(to_user: str, from_user: str, content: str) -> str:
    return (f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><FromUserName>{_cdata(from_user)}</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType>{_cdata('text')}</MsgType>"
            f"<Content>{_cdata(content)}</Content></xml>")


def _aes_key(cfg: WechatConfig) -> bytes:
    return base64.b64decode(cfg.aes_key + "=")


def decrypt(cfg: WechatConfig, encrypted: str) -> bytes:
    """Safe mode: AES-256-CBC, IV = key[:16], PKCS#7 to 32 bytes; random(16) + len(4) + xml + appid."""
    key = _aes_key(cfg)
    try:
        data = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        plain = data.update(base64.b64decode(encrypted)) + data.finalize()
        pad = plain[-1]
        if not 1 <= pad <= 32:
            raise ValueError("padding")
        plain = plain[:-pad]
        (length,) = struct.unpack(">I", plain[16:20])
        xml, app_id = plain[20:20 + length], plain[20 + length:]
    except (ValueError, struct.error) as exc:
        raise WechatError(f"cannot decrypt: {exc}") from None
    if app_id.decode(errors="replace") != cfg.app_id:
        raise WechatError("message for another app")
    return xml


def encrypt(cfg: WechatConfig, xml: str) -> str:
    key = _aes_key(cfg)
    raw = xml.encode()
    plain = secrets.token_bytes(16) + struct.pack(">I", len(raw)) + raw + cfg.app_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(enc.update(plain) + enc.finalize()).decode()


def encrypted_reply(cfg: WechatConfig, xml: str, nonce: str) -> str:
    ts = str(int(time.time()))
    body = encrypt(cfg, xml)
    return (f"<xml><Encrypt>{_cdata(body)}</Encrypt><MsgSignature>{_cdata(signature(cfg.token, ts, nonce, body))}"
            f"</MsgSignature><TimeStamp>{ts}</TimeStamp><Nonce>{_cdata(nonce)}</Nonce></xml>")


# ---------------------------------------------------------------- the API and its access token


async def _get_json(url: str, **kwargs: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await (client.post(url, **kwargs) if "content" in kwargs else client.get(url, **kwargs))
    data = response.json()
    if not isinstance(data, dict):
        raise WechatError("unexpected answer")
    return data


async def shared_secret(key: str, fetch: Callable[[], Awaitable[tuple[str, int]]]) -> str:
    """A credential kept in Redis for every process (the access token, the JS-SDK ticket): read it, or fetch it
    once under a Redis lock while the other processes wait for it. ``fetch`` returns (value, expires_in)."""
    r = redis_client()
    lock = f"{key}:lock"
    for _attempt in range(50):
        value = await r.get(key)
        if value:
            return str(value)
        if await r.set(lock, "1", nx=True, ex=15):
            try:
                value = await r.get(key)  # stored by the holder before us, between our read and our lock
                if value:
                    return str(value)
                value, expires_in = await fetch()
                # Refresh well before WeChat's expiry (7200 s), so no call carries a credential about to lapse.
                await r.set(key, value, ex=max(expires_in - 300, 60))
                return value
            finally:
                await r.delete(lock)
        await asyncio.sleep(0.1)
    raise WechatError(f"{key} not available")


async def access_token(cfg: WechatConfig) -> str:
    """The app's access token from Redis, or a fresh one (one process fetches; the others wait for it)."""

    async def fetch() -> tuple[str, int]:
        data = await _get_json(f"{cfg.api_base}/cgi-bin/token", params={
            "grant_type": "client_credential", "appid": cfg.app_id, "secret": cfg.secret})
        if "access_token" not in data:
            raise WechatError(str(data.get("errmsg")), int(data.get("errcode", -1)))
        return str(data["access_token"]), int(data.get("expires_in", 7200))

    return await shared_secret(TOKEN_KEY, fetch)


async def drop_token(stale: str, key: str = TOKEN_KEY) -> None:
    """Forget a credential WeChat refused, unless another process already replaced it."""
    r = redis_client()
    if await r.get(key) == stale:
        await r.delete(key)


async def call_api(cfg: WechatConfig, path: str, payload: dict[str, Any] | None = None,
                   params: dict[str, str] | None = None) -> dict[str, Any]:
    """POST (or GET, without ``payload``) to an API taking ``access_token``; an expired token is replaced and the
    call made once more."""
    for attempt in (1, 2):
        token = await access_token(cfg)
        query = {"access_token": token} | (params or {})
        if payload is None:
            data = await _get_json(f"{cfg.api_base}{path}", params=query)
        else:
            data = await _get_json(f"{cfg.api_base}{path}", params=query,
                                   content=json.dumps(payload, ensure_ascii=False).encode())
        code = int(data.get("errcode", 0))
        if code in EXPIRED_TOKEN_CODES and attempt == 1:
            log.info("wechat access token refused (%s): fetching a new one", code)
            await drop_token(token)
            continue
        if code:
            raise WechatError(str(data.get("errmsg")), code)
        return data
    raise AssertionError("unreachable")


async def send_template(cfg: WechatConfig, openid: str, event: str, title: str, code: str, status: str,
                        url: str) -> dict[str, Any]:
    template_id = cfg.template(event)
    if not template_id:
        raise WechatError(f"no template configured for {event}")
    return await call_api(cfg, "/cgi-bin/message/template/send", {
        "touser": openid, "template_id": template_id, "url": url,
        "data": {"first": {"value": title}, "keyword1": {"value": code}, "keyword2": {"value": status},
                 "remark": {"value": "点击查看详情"}},
    })


def menu(base_url: str) -> dict[str, Any]:
    """The account's menu (pushed with ``push_menu``): report, my requests, the wish board."""
    return {"button": [
        {"type": "view", "name": "我要反映", "url": f"{base_url}/report"},
        {"type": "view", "name": "我的诉求", "url": f"{base_url}/my"},
        {"type": "view", "name": "微心愿", "url": f"{base_url}/wishes"},
    ]}


async def push_menu(cfg: WechatConfig, base_url: str) -> None:
    await call_api(cfg, "/cgi-bin/menu/create", menu(base_url))


# ---------------------------------------------------------------- OAuth and binding


SCOPES = ("snsapi_base", "snsapi_userinfo")


def authorize_url(cfg: WechatConfig, redirect_uri: str, state: str, scope: str = "snsapi_base") -> str:
    """snsapi_base asks nothing (the openid only); snsapi_userinfo makes WeChat ask the resident first."""
    query = urlencode({"appid": cfg.app_id, "redirect_uri": redirect_uri, "response_type": "code",
                       "scope": scope if scope in SCOPES else "snsapi_base", "state": state})
    return f"{cfg.open_base}/connect/oauth2/authorize?{query}#wechat_redirect"


async def oauth_token(cfg: WechatConfig, code: str) -> dict[str, Any]:
    """The code exchanged for the web access token: openid, scope, and the token for /sns/userinfo."""
    data = await _get_json(f"{cfg.api_base}/sns/oauth2/access_token", params={
        "appid": cfg.app_id, "secret": cfg.secret, "code": code, "grant_type": "authorization_code"})
    openid = data.get("openid")
    if not isinstance(openid, str) or not openid:
        raise WechatError(str(data.get("errmsg") or "no openid"), int(data.get("errcode", -1)))
    return data


async def openid_for_code(cfg: WechatConfig, code: str) -> str:
    return str((await oauth_token(cfg, code))["openid"])


async def userinfo(cfg: WechatConfig, web_token: str, openid: str) -> dict[str, Any]:
    """snsapi_userinfo: the nickname and avatar address the resident agreed to share."""
    data = await _get_json(f"{cfg.api_base}/sns/userinfo",
                           params={"access_token": web_token, "openid": openid, "lang": "zh_CN"})
    if data.get("errcode") or data.get("openid") != openid:
        raise WechatError(str(data.get("errmsg") or "no user info"), int(data.get("errcode", -1)))
    return data


async def fetch_avatar(cfg: WechatConfig, url: str) -> bytes | None:
    """The avatar, small (WeChat's size suffix /132), only from WeChat's image hosts (no fetching of any address
    a response names); None when it cannot be had: the nickname alone is shown then."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in cfg.avatar_hosts:
        return None
    if parts.path.endswith("/0"):
        url = urlunsplit(parts._replace(path=parts.path[:-2] + "/132"))
    try:
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return None
    ok = response.status_code == 200 and response.headers.get("content-type", "").startswith("image/")
    return response.content if ok and len(response.content) <= 512 * 1024 else None


async def save_profile(account_id: int, nickname: str, avatar: bytes | None) -> None:
    await WechatBinding.update({WechatBinding.nickname: nickname[:64] or None, WechatBinding.avatar: avatar,
                                WechatBinding.profile_at: datetime.now(UTC)}).where(
        WechatBinding.account == account_id)


async def forget_profile(account_id: int) -> None:
    """Consent withdrawn: the nickname and avatar are deleted, not hidden."""
    await WechatBinding.update({WechatBinding.nickname: None, WechatBinding.avatar: None,
                                WechatBinding.profile_at: None}).where(WechatBinding.account == account_id)


async def account_for_openid(openid: str) -> int | None:
    row = await WechatBinding.select(WechatBinding.account).where(WechatBinding.openid == openid).first()
    return int(row["account"]) if row else None


async def openid_of(account_id: int) -> str | None:
    row = await WechatBinding.select(WechatBinding.openid).where(WechatBinding.account == account_id).first()
    return str(row["openid"]) if row else None


async def binding_of(account_id: int) -> dict[str, Any] | None:
    return await WechatBinding.select().where(WechatBinding.account == account_id).first()


async def bind(account_id: int, openid: str) -> None:
    """Bind once: refused if the openid or the account is already bound (unbind first)."""
    if await account_for_openid(openid) is not None:
        raise WechatError(_("该微信已绑定其他手机号，请先在原账号中解除绑定"))
    if await openid_of(account_id) is not None:
        raise WechatError(_("该手机号已绑定其他微信，请先在“我的账号”中解除绑定"))
    # The unique constraints settle a race between two binds; the checks above give the message.
    await WechatBinding.insert(WechatBinding(account=account_id, openid=openid))


async def unbind(account_id: int) -> bool:
    deleted = await WechatBinding.delete().where(WechatBinding.account == account_id).returning(WechatBinding.id)
    return bool(deleted)
