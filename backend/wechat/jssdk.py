"""The JS-SDK inside WeChat's browser: location and photos on the report form.

The page carries ``wx.config``'s fields, signed here: sha1 over ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…``
(the fields sorted by name, the url without its fragment). The ticket is fetched with the access token and kept
in Redis for every process, like the token (``service.shared_secret``); an expired access token is replaced on
the way (``service.call_api``), and a ticket WeChat's client refused is dropped (``drop_ticket``).
Photos chosen with the SDK are uploaded by WeChat's client to WeChat; the form sends their media ids and the
server fetches the images (``/cgi-bin/media/get``) and stores them like any upload.
Outside WeChat, or without configuration, none of this is on the page: the plain form stays as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time
from typing import Any

import httpx
from litestar import Request

from backend.i18n import gettext as _
from backend.redis import redis_client
from backend.settings import get_settings
from backend.wechat import service
from backend.wechat.service import EXPIRED_TOKEN_CODES, WechatConfig, WechatError

log = logging.getLogger("qungong.wechat")
TICKET_KEY = "wechat:jsapi_ticket"
DROP_COOLDOWN_KEY = "wechat:jsapi_ticket:dropped"
REPORT_APIS = ("getLocation", "chooseImage", "uploadImage")
MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
MAX_MEDIA_BYTES = 15 * 1024 * 1024  # the form's own limit per photo


async def jsapi_ticket(cfg: WechatConfig) -> str:
    async def fetch() -> tuple[str, int]:
        data = await service.call_api(cfg, "/cgi-bin/ticket/getticket", params={"type": "jsapi"})
        if not data.get("ticket"):
            raise WechatError("no ticket", int(data.get("errcode", -1)))
        return str(data["ticket"]), int(data.get("expires_in", 7200))

    return await service.shared_secret(TICKET_KEY, fetch)


def config_signature(ticket: str, nonce: str, timestamp: int | str, url: str) -> str:
    fields = {"jsapi_ticket": ticket, "noncestr": nonce, "timestamp": str(timestamp), "url": url.split("#")[0]}
    return hashlib.sha1("&".join(f"{k}={v}" for k, v in sorted(fields.items())).encode()).hexdigest()


def in_wechat(request: Request) -> bool:
    return "micromessenger" in request.headers.get("user-agent", "").lower()


def page_url(request: Request) -> str:
    """The address the resident's browser shows for this page (the public base URL + path + query)."""
    query = request.url.query
    return get_settings().base_url + request.url.path + (f"?{query}" if query else "")


async def page_config(request: Request, apis: tuple[str, ...] = REPORT_APIS,
                      open_tags: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """``wx.config``'s fields for this page, or None outside WeChat, unconfigured, or when WeChat is unreachable
    (then the plain form is all there is, as in any browser)."""
    cfg = service.config()
    if cfg is None or not in_wechat(request):
        return None
    try:
        ticket = await jsapi_ticket(cfg)
    except (WechatError, httpx.HTTPError, ValueError) as exc:
        log.warning("wechat js-sdk ticket unavailable: %s", exc)
        return None
    nonce, timestamp = secrets.token_urlsafe(12), int(time.time())
    signature = config_signature(ticket, nonce, timestamp, page_url(request))
    return {"app_id": cfg.app_id, "timestamp": timestamp, "nonce": nonce, "apis": ",".join(apis),
            "open_tags": ",".join(open_tags), "signature": signature}


async def drop_ticket(url: str, timestamp: str, nonce: str, signature: str) -> bool:
    """WeChat's client refused a config we signed: if it was signed with the current ticket, that ticket is bad
    (revoked, or reset elsewhere): forget it so the next page fetches a new one. At most once a minute, so a
    client cannot make us hammer WeChat's daily ticket quota."""
    current = await redis_client().get(TICKET_KEY)
    if not current or not hmac.compare_digest(config_signature(str(current), nonce, timestamp, url), signature):
        return False
    if not await redis_client().set(DROP_COOLDOWN_KEY, "1", nx=True, ex=60):
        return False
    await service.drop_token(str(current), TICKET_KEY)
    return True


async def download_media(cfg: WechatConfig, media_id: str) -> bytes:
    """An image the resident uploaded through the SDK (``uploadImage``): WeChat answers the bytes, or JSON on
    error (40007 invalid media_id; an expired access token is replaced and the call made once more)."""
    for attempt in (1, 2):
        token = await service.access_token(cfg)
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.get(f"{cfg.api_base}/cgi-bin/media/get",
                                        params={"access_token": token, "media_id": media_id})
        kind = response.headers.get("content-type", "")
        if kind.startswith(("application/json", "text/")):
            data = response.json()
            code = int(data.get("errcode", -1))
            if code in EXPIRED_TOKEN_CODES and attempt == 1:
                await service.drop_token(token)
                continue
            raise WechatError(str(data.get("errmsg")), code)
        if len(response.content) > MAX_MEDIA_BYTES:
            raise WechatError("image too large")
        return response.content
    raise AssertionError("unreachable")


async def photos_from_form(form: Any, max_photos: int) -> tuple[list[tuple[str, bytes]], str | None]:
    """The photos chosen with the SDK (hidden ``wx_media`` fields), fetched from WeChat; or the reason why not."""
    getall = getattr(form, "getall", None)
    ids = [str(v) for v in (getall("wx_media", []) if getall else []) if str(v)]
    cfg = service.config()
    if not ids or cfg is None:
        return [], None
    if len(ids) > max_photos:
        return [], _("最多上传 {max} 张照片（您选择了 {n} 张）").format(max=max_photos, n=len(ids))
    if not all(MEDIA_ID.match(i) for i in ids):
        return [], _("微信照片无效，请重新选择")
    files: list[tuple[str, bytes]] = []
    for media_id in ids:
        try:
            files.append((f"wechat-{media_id[:16]}.jpg", await download_media(cfg, media_id)))
        except (WechatError, httpx.HTTPError, ValueError) as exc:
            log.warning("wechat media %s not fetched: %s", media_id, exc)
            return [], _("微信照片获取失败，请重新选择，或改用“从相册选择”")
    return files, None
