"""Sign-in pages: residents by phone + one-time code, staff by username + password."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.middleware.csrf import generate_csrf_token
from litestar.params import Body
from litestar.response import Redirect

from backend.accounts.service import (
    AuthError,
    authenticate_staff,
    load_viewer,
    normalise_phone,
    request_code,
    verify_code,
)
from backend.accounts.throttle import DEVICE_DAYS
from backend.settings import get_settings
from backend.web.auth import DRAFT_TOKEN_KEY, ROLES_KEY, SESSION_KEY, roles_signature
from backend.web.forms import safe_next
from backend.web.render import page
from backend.web.sessions import rotate_session

DEVICE_COOKIE = "qg_device"
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def client_ip(request: Request) -> str:
    # The peer's address. X-Forwarded-For is applied by uvicorn, and only for the proxies listed in
    # QG_TRUSTED_PROXIES (backend.cli web_args): a client cannot choose its own IP for the rate limits.
    return request.client.host if request.client else "unknown"


def _too_many(exc: AuthError) -> HTTPException:
    return HTTPException(status_code=429, detail=f"{exc.message}（约 {exc.retry_after} 秒后可重试）",
                         headers={"Retry-After": str(exc.retry_after)})


async def start_session(request: Request, account_id: int, response: Response) -> Response:
    """Sign in: a fresh server-issued session id and a fresh CSRF token (nothing seen before survives)."""
    viewer = await load_viewer(account_id)
    kept = {k: v for k, v in request.session.items() if k == DRAFT_TOKEN_KEY}  # the report written before sign-in
    request.set_session({SESSION_KEY: account_id, ROLES_KEY: roles_signature(viewer) if viewer else ""} | kept)
    rotate_session(request)
    csrf = request.app.csrf_config
    assert csrf is not None
    response.set_cookie(key=csrf.cookie_name, value=generate_csrf_token(csrf.secret), path=csrf.cookie_path,
                        secure=csrf.cookie_secure, httponly=csrf.cookie_httponly, samesite=csrf.cookie_samesite,
                        domain=csrf.cookie_domain)
    return response


class SignInController(Controller):
    path = ""

    @get("/login")
    async def resident_login(self, request: Request, next: str | None = None) -> Response:
        return page(request, "accounts/login.html", {"step": "phone", "next": safe_next(next, "/"),
                                                     "form": {}, "errors": {}})

    @post("/login/code")
    async def send_code(self, request: Request, data: Form) -> Response:
        phone = str(data.get("phone", ""))
        nxt = safe_next(str(data.get("next") or ""), "/")
        try:
            phone = normalise_phone(phone)
            code = await request_code(phone, client_ip(request))
        except AuthError as exc:
            if exc.retry_after and "频繁" in exc.message:
                raise _too_many(exc) from exc
            return page(request, "accounts/login.html",
                        {"step": "phone", "next": nxt, "form": {"phone": phone}, "errors": {"phone": exc.message}},
                        status_code=429 if exc.retry_after else 400, block="content",
                        headers={"Retry-After": str(exc.retry_after)} if exc.retry_after else None)
        ctx = {"step": "code", "next": nxt, "form": {"phone": phone}, "errors": {},
               "demo_code": code if get_settings().demo_mode else None}
        return page(request, "accounts/login.html", ctx, block="content")

    @post("/login/verify")
    async def verify(self, request: Request, data: Form) -> Response:
        phone = str(data.get("phone", ""))
        code = str(data.get("code", ""))
        nxt = safe_next(str(data.get("next") or ""), "/")
        try:
            acc = await verify_code(phone, code)
        except AuthError as exc:
            return page(request, "accounts/login.html",
                        {"step": "code", "next": nxt, "form": {"phone": phone}, "errors": {"code": exc.message}},
                        status_code=400, block="content")
        if request.headers.get("hx-request"):
            return await start_session(request, acc.id, Response("", status_code=200, headers={"HX-Redirect": nxt}))
        return await start_session(request, acc.id, Redirect(nxt, status_code=303))

    @get("/staff/login")
    async def staff_login(self, request: Request, next: str | None = None) -> Response:
        return page(request, "accounts/staff_login.html", {"next": safe_next(next, "/staff"), "form": {},
                                                           "error": None})

    @post("/staff/login")
    async def staff_login_post(self, request: Request, data: Form) -> Response:
        username = str(data.get("username", ""))[:50]
        password = str(data.get("password", ""))[:200]
        nxt = safe_next(str(data.get("next") or ""), "/staff")
        try:
            acc, device = await authenticate_staff(username, password, client_ip(request),
                                                   request.cookies.get(DEVICE_COOKIE))
        except AuthError as exc:
            if exc.retry_after:
                raise _too_many(exc) from exc
            return page(request, "accounts/staff_login.html",
                        {"next": nxt, "form": {"username": username}, "error": exc.message}, status_code=400)
        response = Redirect(nxt, status_code=303)
        # This browser is now a known device of the account: others' failed attempts do not slow it down.
        response.set_cookie(key=DEVICE_COOKIE, value=device, max_age=DEVICE_DAYS * 86400, httponly=True,
                            samesite="lax", secure=get_settings().https, path="/staff/login")
        return await start_session(request, acc.id, response)

    @post("/logout")
    async def logout(self, request: Request) -> Redirect:
        request.clear_session()
        rotate_session(request)
        return Redirect("/", status_code=303)
