"""WeChat: the server endpoint WeChat calls, the web-authorisation sign-in and the one-time phone binding.

Every path answers 404 while WeChat is not configured (``backend.wechat.service.config``).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body, Parameter
from litestar.response import Redirect

from backend.accounts.controllers import client_ip, start_session
from backend.accounts.service import AuthError, normalise_phone, request_code, verify_code
from backend.i18n import gettext as _
from backend.settings import get_settings
from backend.web.forms import safe_next
from backend.web.guards import signed_in, viewer_of
from backend.web.render import page
from backend.wechat import service
from backend.wechat.service import WechatConfig, WechatError

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PENDING_KEY = "wechat_openid"  # the openid of this session, waiting for its phone
STATE_KEY = "wechat_state"
MAX_BODY = 64 * 1024


def configured(_: ASGIConnection, __: BaseRouteHandler) -> None:
    if service.config() is None:
        raise NotFoundException()


def _cfg() -> WechatConfig:
    cfg = service.config()
    assert cfg is not None  # the guard ran
    return cfg


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, media_type="application/xml" if body.startswith("<") else "text/plain",
                    status_code=status)


class WechatController(Controller):
    path = "/wechat"
    include_in_schema = False

    # ------------------------------------------------------------ the server endpoint WeChat calls

    @get("/callback", guards=[configured])
    async def verify_server(self, signature: str = "", timestamp: str = "", nonce: str = "",
                            echostr: str = "") -> Response:
        """WeChat's check of the server URL: echo ``echostr`` if the signature is ours."""
        if not service.check_signature(_cfg(), signature, timestamp, nonce):
            return Response("invalid signature", status_code=403, media_type="text/plain")
        return Response(echostr, media_type="text/plain")

    @post("/callback", guards=[configured])
    async def message(self, request: Request, signature: str = "", timestamp: str = "", nonce: str = "",
                      encrypt_type: str = "", msg_signature: str = "") -> Response:
        cfg = _cfg()
        if not service.check_signature(cfg, signature, timestamp, nonce):
            return _xml("invalid signature", 403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return _xml("too large", 413)
        try:
            msg = service.parse_xml(body)
            safe = encrypt_type == "aes"
            if safe:
                if not cfg.aes_key:
                    return _xml("safe mode not configured", 400)
                encrypted = msg.get("Encrypt", "")
                if not service.check_signature(cfg, msg_signature, timestamp, nonce, encrypted):
                    return _xml("invalid signature", 403)
                msg = service.parse_xml(service.decrypt(cfg, encrypted))
        except WechatError as exc:
            return _xml(f"bad message: {exc}", 400)
        reply = service.reply_for(msg, get_settings().base_url)
        if safe and reply != "success":
            reply = service.encrypted_reply(cfg, reply, nonce)
        return _xml(reply)

    # ------------------------------------------------------------ web authorisation (snsapi_base)

    @get("/login", guards=[configured])
    async def login(self, request: Request, next: str | None = None) -> Redirect:
        """Off to WeChat's authorisation page; it comes back to /wechat/oauth with a code."""
        state = secrets.token_urlsafe(16)
        request.session[STATE_KEY] = f"{state}|{safe_next(next, '/')}"
        redirect_uri = f"{get_settings().base_url}/wechat/oauth"
        return Redirect(service.authorize_url(_cfg(), redirect_uri, state), status_code=302)

    @get("/oauth", guards=[configured])
    async def oauth(self, request: Request, code: str = "",
                    oauth_state: Annotated[str, Parameter(query="state")] = "") -> Response:
        """WeChat's redirect back: the openid signs in the bound account, or waits in the session for a phone.
        (Signing in on this GET is the OAuth flow itself; the state ties it to the session that started it.)"""
        expected, _sep, nxt = str(request.session.get(STATE_KEY) or "").partition("|")
        if not code or not oauth_state or not expected or not secrets.compare_digest(oauth_state, expected):
            return page(request, "wechat/error.html", {"message": _("授权已失效，请重新进入")}, status_code=400)
        request.session.pop(STATE_KEY, None)
        try:
            openid = await service.openid_for_code(_cfg(), code)
        except (WechatError, ValueError) as exc:
            return page(request, "wechat/error.html", {"message": _("微信授权失败") + f"（{exc}）"}, status_code=400)
        account_id = await service.account_for_openid(openid)
        if account_id is not None:
            return await start_session(request, account_id, Redirect(nxt or "/", status_code=303))
        request.session[PENDING_KEY] = openid
        request.session["wechat_next"] = nxt or "/"
        return Redirect("/wechat/bind", status_code=303)

    # ------------------------------------------------------------ one-time binding to a phone

    def _pending(self, request: Request) -> str:
        openid = request.session.get(PENDING_KEY)
        if not openid:
            raise NotFoundException(_("请先从微信公众号进入"))
        return str(openid)

    @get("/bind", guards=[configured])
    async def bind_page(self, request: Request) -> Response:
        self._pending(request)
        return page(request, "wechat/bind.html", {"step": "phone", "form": {}, "errors": {}})

    @post("/bind/code", guards=[configured])
    async def bind_code(self, request: Request, data: Form) -> Response:
        self._pending(request)
        phone = str(data.get("phone", ""))
        try:
            phone = normalise_phone(phone)
            code = await request_code(phone, client_ip(request))
        except AuthError as exc:
            return page(request, "wechat/bind.html", {"step": "phone", "form": {"phone": phone},
                                                      "errors": {"phone": exc.message}},
                        status_code=429 if exc.retry_after else 400)
        return page(request, "wechat/bind.html", {"step": "code", "form": {"phone": phone}, "errors": {},
                                                  "demo_code": code if get_settings().demo_mode else None})

    @post("/bind/verify", guards=[configured])
    async def bind_verify(self, request: Request, data: Form) -> Response:
        openid = self._pending(request)
        phone = str(data.get("phone", ""))[:20]
        try:
            account = await verify_code(phone, str(data.get("code", "")))
            await service.bind(account.id, openid)
        except AuthError as exc:
            return page(request, "wechat/bind.html", {"step": "code", "form": {"phone": phone},
                                                      "errors": {"code": exc.message}}, status_code=400)
        except WechatError as exc:
            return page(request, "wechat/bind.html", {"step": "phone", "form": {"phone": phone},
                                                      "errors": {"phone": str(exc)}}, status_code=409)
        nxt = safe_next(str(request.session.get("wechat_next") or ""), "/")
        return await start_session(request, account.id, Redirect(nxt, status_code=303))

    @post("/unbind", guards=[signed_in, configured])  # sign-in first: anonymous goes to /login
    async def unbind(self, request: Request) -> Redirect:
        viewer = viewer_of(request)
        assert viewer is not None
        await service.unbind(viewer.id)
        return Redirect("/account?unbound=1", status_code=303)
