"""WeChat: the server endpoint WeChat calls, the web-authorisation sign-in and the one-time phone binding.

Every path answers 404 while WeChat is not configured (``backend.wechat.service.config``).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

import httpx
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Body, Parameter
from litestar.response import Redirect

from backend.accounts.controllers import client_ip, start_session
from backend.accounts.service import AuthError, normalise_phone, request_code, verify_code
from backend.i18n import N_
from backend.i18n import gettext as _
from backend.settings import get_settings
from backend.web.forms import safe_next
from backend.web.guards import signed_in, viewer_of
from backend.web.render import page
from backend.wechat import jssdk, messages, service, subscribe
from backend.wechat.service import WechatConfig, WechatError

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PENDING_KEY = "wechat_openid"  # the openid of this session, waiting for its phone
STATE_KEY = "wechat_state"
MAX_BODY = 64 * 1024


async def configured(_: ASGIConnection, __: BaseRouteHandler) -> None:
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
        if not messages.fresh(timestamp):
            return _xml("stale timestamp", 403)  # a signed request replayed later
        body = await request.body()
        if len(body) > MAX_BODY:
            return _xml("too large", 413)
        try:
            tree = service.parse_tree(body)
            safe = encrypt_type == "aes"
            if safe:
                if not cfg.aes_key:
                    return _xml("safe mode not configured", 400)
                encrypted = tree.findtext("Encrypt") or ""
                if not service.check_signature(cfg, msg_signature, timestamp, nonce, encrypted):
                    return _xml("invalid signature", 403)
                tree = service.parse_tree(service.decrypt(cfg, encrypted))
        except WechatError as exc:
            return _xml(f"bad message: {exc}", 400)
        fields = {c.tag: c.text or "" for c in tree}
        if not await messages.first_time(timestamp, nonce, fields):
            return _xml("success")  # answered once already
        try:
            reply = await messages.reply_for(tree, get_settings().base_url)
        except BaseException:
            await messages.not_handled(fields)
            raise
        if safe and reply != "success":
            reply = service.encrypted_reply(cfg, reply, nonce)
        return _xml(reply)

    # ------------------------------------------------------------ web authorisation (snsapi_base / snsapi_userinfo)

    @get("/login", guards=[configured])
    async def login(self, request: Request, next: str | None = None,
                    oauth_scope: Annotated[str, Parameter(query="scope")] = "snsapi_base") -> Redirect:
        """Off to WeChat's authorisation page; it comes back to /wechat/oauth with a code. ``snsapi_userinfo``
        only from the consent page (/wechat/profile): WeChat then asks the resident too."""
        state = secrets.token_urlsafe(16)
        scope = oauth_scope if oauth_scope in service.SCOPES else "snsapi_base"
        request.session[STATE_KEY] = f"{state}|{scope}|{safe_next(next, '/')}"
        redirect_uri = f"{get_settings().base_url}/wechat/oauth"
        return Redirect(service.authorize_url(_cfg(), redirect_uri, state, scope), status_code=302)

    @get("/oauth", guards=[configured])
    async def oauth(self, request: Request, code: str = "",
                    oauth_state: Annotated[str, Parameter(query="state")] = "") -> Response:
        """WeChat's redirect back: the openid signs in the bound account, or waits in the session for a phone.
        With snsapi_userinfo (the resident agreed) the nickname and avatar are kept for their account page.
        (Signing in on this GET is the OAuth flow itself; the state ties it to the session that started it.)"""
        expected, scope, nxt = [*str(request.session.get(STATE_KEY) or "").split("|", 2), "", ""][:3]
        if not code or not oauth_state or not expected or not secrets.compare_digest(oauth_state, expected):
            message = _("您没有同意授权，昵称和头像不会显示。") if scope == "snsapi_userinfo" and expected else \
                _("授权已失效，请重新进入")
            return page(request, "wechat/error.html", {"message": message}, status_code=400)
        request.session.pop(STATE_KEY, None)
        cfg = _cfg()
        try:
            token = await service.oauth_token(cfg, code)
            openid = str(token["openid"])
            account_id = await service.account_for_openid(openid)
            if account_id is not None and scope == "snsapi_userinfo" and token.get("scope") == "snsapi_userinfo":
                info = await service.userinfo(cfg, str(token.get("access_token", "")), openid)
                avatar = await service.fetch_avatar(cfg, str(info.get("headimgurl") or ""))
                await service.save_profile(account_id, str(info.get("nickname") or ""), avatar)
        except (WechatError, ValueError, httpx.HTTPError) as exc:
            return page(request, "wechat/error.html", {"message": _("微信授权失败") + f"（{exc}）"}, status_code=400)
        if account_id is not None:
            return await start_session(request, account_id, Redirect(nxt or "/", status_code=303))
        request.session[PENDING_KEY] = openid
        request.session["wechat_next"] = nxt or "/"
        return Redirect("/wechat/bind", status_code=303)

    # ------------------------------------------------------------ nickname and avatar, with consent

    @get("/profile", guards=[signed_in, configured])
    async def profile_consent(self, request: Request) -> Response:
        """The consent step: what we would take from WeChat, where it shows, how to take it back."""
        viewer = viewer_of(request)
        assert viewer is not None
        binding = await service.binding_of(viewer.id)
        if binding is None:
            return Redirect("/account", status_code=303)
        return page(request, "wechat/profile.html", {"binding": binding})

    @post("/profile/forget", guards=[signed_in, configured])
    async def profile_forget(self, request: Request) -> Redirect:
        viewer = viewer_of(request)
        assert viewer is not None
        await service.forget_profile(viewer.id)
        return Redirect("/account?profile=forgotten", status_code=303)

    @get("/avatar", guards=[signed_in, configured])
    async def avatar(self, request: Request) -> Response:
        """My own avatar only (kept here: the strict CSP shows images from this site alone)."""
        viewer = viewer_of(request)
        assert viewer is not None
        binding = await service.binding_of(viewer.id)
        data = binding and binding.get("avatar")
        if not data:
            raise NotFoundException()
        kind = "image/png" if bytes(data[:8]) == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
        return Response(bytes(data), media_type=kind, headers={"Cache-Control": "private, max-age=300"})

    # ------------------------------------------------------------ the JS-SDK

    @post("/jssdk/refused", guards=[configured])
    async def jssdk_refused(self, data: Form) -> Response:
        """WeChat's client refused a page's ``wx.config``: drop the ticket if it was the one we signed with."""
        dropped = await jssdk.drop_ticket(*(str(data.get(k, ""))[:2000] for k in ("url", "timestamp", "nonce",
                                                                                  "signature")))
        return Response({"dropped": dropped})

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


SUBSCRIPTION_LABELS = {"received": N_("诉求已收到"), "accepted": N_("诉求已受理"), "resolved": N_("诉求已办结，请评价"),
                       "reopened": N_("诉求重新办理")}


async def account_context(request: Request, account_id: int) -> dict[str, Any]:
    """The WeChat part of "my account" (wechat/_account.html): binding, profile, subscriptions."""
    cfg = service.config()
    if cfg is None:
        return {"wechat_enabled": False}
    binding = await service.binding_of(account_id)
    ctx: dict[str, Any] = {"wechat_enabled": True, "binding": binding, "subscriptions": [], "wx": None,
                           "profile_forgotten": request.query_params.get("profile") == "forgotten"}
    configured_ids = [(e, t) for e, t in cfg.subscriptions if t]
    if binding and configured_ids:
        answers = await subscribe.consents(binding["openid"])
        ctx["subscriptions"] = [{"label": _(SUBSCRIPTION_LABELS[e]), "status": answers.get(t, "")}
                                for e, t in configured_ids]
        ctx["subscribe_templates"] = ",".join(dict.fromkeys(t for _e, t in configured_ids))
        ctx["wx"] = await jssdk.page_config(request, apis=(), open_tags=("wx-open-subscribe",))
    return ctx
