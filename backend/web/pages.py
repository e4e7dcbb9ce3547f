"""Shared pages: home, staff home, preferences (language, elder mode), health check."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect

from backend.db import engine
from backend.i18n import LOCALES
from backend.redis import redis_client
from backend.web.forms import safe_next
from backend.web.guards import staff_only
from backend.web.render import page

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
YEAR = 365 * 24 * 3600


class PagesController(Controller):
    path = ""

    @get("/")
    async def home(self, request: Request) -> Response:
        return page(request, "home.html")

    @get("/staff", guards=[staff_only])
    async def staff_home(self, request: Request) -> Response:
        return page(request, "staff/home.html")

    @post("/prefs")
    async def prefs(self, request: Request, data: Form) -> Redirect:
        """Language and elder-friendly mode, remembered in cookies (no account needed)."""
        cookies: list[Cookie] = []
        lang = data.get("lang")
        if lang in LOCALES:
            cookies.append(Cookie(key="lang", value=str(lang), max_age=YEAR, samesite="lax"))
        elder = data.get("elder")
        if elder in {"0", "1"}:
            cookies.append(Cookie(key="elder", value=str(elder), max_age=YEAR, samesite="lax"))
        back = safe_next(str(data.get("next") or request.headers.get("referer-path", "")), "/")
        return Redirect(back, status_code=303, cookies=cookies)

    @get("/healthz", cache=False)
    async def healthz(self) -> Response:
        checks: dict[str, str] = {}
        try:
            await engine().run_ddl("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:  # reported, not raised: this page exists to say what is down
            checks["database"] = f"error: {type(exc).__name__}"
        try:
            await redis_client().ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return Response({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503,
                        headers=None if ok else {"Retry-After": "30"})
