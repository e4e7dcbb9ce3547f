"""Rendering: one template per page with named blocks; htmx requests get just the block."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup

from backend.i18n import DEFAULT_LOCALE, current_locale
from backend.settings import get_settings
from backend.web.flash import pop_flashes
from backend.web.guards import viewer_of

_envs: dict[str, Environment] = {}


def set_environment(envs: dict[str, Environment]) -> None:
    """The template environments by language (their constant messages are translated when compiled)."""
    _envs.clear()
    _envs.update(envs)


def environment() -> Environment:
    assert _envs, "create_app() sets the template environments"
    return _envs.get(current_locale.get()) or _envs[DEFAULT_LOCALE]


def base_context(request: Request) -> dict[str, Any]:
    token = ScopeState.from_scope(request.scope).csrf_token or ""
    return {
        "request": request,
        "viewer": viewer_of(request),
        "csrf_token": lambda: token,
        "csrf_input": Markup(f'<input type="hidden" name="_csrf_token" value="{token}" />'),
        "demo_mode": get_settings().demo_mode,
        "lang": current_locale.get(),
        "elder": request.cookies.get("elder") == "1",
    }


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true" and request.headers.get("hx-boosted") != "true"


def render_html(request: Request, template: str, context: dict[str, Any] | None = None,
                block: str | None = None) -> str:
    env = environment()
    tmpl = env.get_template(template)
    ctx = base_context(request) | (context or {})
    if block is not None:
        return "".join(tmpl.blocks[block](tmpl.new_context(ctx)))
    return tmpl.render(ctx)


def page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    cookies: list[Cookie] | None = None,
) -> Response:
    """Render ``template``; for an htmx request and a ``block`` name, render only that block."""
    partial = block if (block and is_htmx(request)) else None
    # A full page shows (and so uses up) the confirmations of the last action; not a page fetched in the
    # background by the offline outbox's upload (app.js), which then navigates to the page to show.
    if partial is None and not request.headers.get("x-qg-background"):
        context = {"flashes": pop_flashes(request)} | (context or {})
    html = render_html(request, template, context, partial)
    all_headers = {"Vary": "HX-Request", "Cache-Control": "no-store"} | (headers or {})
    return Response(content=html, media_type=MediaType.HTML, status_code=status_code,
                    headers=all_headers, cookies=cookies)
