"""create_app(): plugins, templates, CSRF, sessions in Redis, static files, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Litestar, Request
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.server_side import ServerSideSessionConfig
from litestar.plugins.htmx import HTMXPlugin
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

import backend.lights.service  # noqa: F401  (registers the lights transition hook)
from backend.accounts.controllers import SignInController
from backend.db import engine
from backend.i18n import current_locale, gettext, ngettext, pick_locale
from backend.organisation.controllers import AdminController
from backend.pwa.assets import static_cache_middleware, static_url
from backend.redis import close_redis, redis_client
from backend.settings import ROOT, get_settings
from backend.web.auth import ViewerMiddleware
from backend.web.errors import http_exception_handler, internal_error_handler, not_authorized_handler
from backend.web.logging import access_log_middleware, configure_logging
from backend.web.pages import PagesController
from backend.web.render import set_environment
from backend.web.templating import install_filters

FRONTEND = ROOT / "frontend"


def template_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(FRONTEND / "templates")),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    install_filters(env)
    env.globals["static_url"] = static_url  # fingerprinted /static URLs (backend/pwa/assets.py)
    return env


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    db = engine()
    if get_settings().is_postgres:
        await db.start_connection_pool(min_size=2, max_size=20)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if get_settings().is_postgres:
            await db.close_connection_pool()  # type: ignore[attr-defined]
        await close_redis()


async def set_locale(request: Request) -> None:
    current_locale.set(pick_locale(request.cookies.get("lang"), request.headers.get("accept-language")))


def create_app() -> Litestar:
    configure_logging()
    settings = get_settings()
    env = template_environment()
    set_environment(env)
    session_store = RedisStore(redis=redis_client(), namespace="qg-sessions")
    session_config = ServerSideSessionConfig(
        store="sessions", key="qg_session", max_age=settings.session_max_age, httponly=True, samesite="lax"
    )
    static_dir = Path(FRONTEND / "static")
    app = Litestar(
        route_handlers=[
            PagesController,
            SignInController,
            AdminController,
            *domain_controllers(),
            create_static_files_router(path="/static", directories=[static_dir], cache_control=None,
                                       include_in_schema=False),
        ],
        plugins=[HTMXPlugin()],
        template_config=TemplateConfig(engine=JinjaTemplateEngine.from_environment(env)),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="csrftoken",
            header_name="x-csrftoken",
            cookie_samesite="lax",
            exclude=["/healthz"],
        ),
        stores={"sessions": session_store},
        middleware=[
            static_cache_middleware,
            session_config.middleware,
            DefineMiddleware(ViewerMiddleware, exclude=["^/static"]),
        ],
        compression_config=CompressionConfig(backend="brotli", brotli_gzip_fallback=True, minimum_size=500),
        before_request=set_locale,
        exception_handlers={
            NotAuthorizedException: not_authorized_handler,
            HTTPException: http_exception_handler,
            Exception: internal_error_handler,
        },
        request_max_body_size=160 * 1024 * 1024,
        lifespan=[lifespan],
        debug=False,
    )
    # Outermost: every request is logged, including those no route matched (404s).
    app.asgi_handler = access_log_middleware(app.asgi_handler)
    return app


def domain_controllers() -> list:
    """Each domain adds its controllers here (kept in one list so the app's surface is visible)."""
    from backend.knowledge.controllers import CONTROLLERS as knowledge_controllers  # policy Q&A (issue 18)
    from backend.lights.controllers import CONTROLLERS as lights_controllers  # rules, board, explanations, assess
    from backend.media.controllers import MediaController
    from backend.pwa.controllers import PWA_CONTROLLERS
    from backend.requests.controllers import CONTROLLERS as request_controllers
    from backend.routing.controllers import CONTROLLERS as routing_controllers
    from backend.stats.controllers import CONTROLLERS as stats_controllers  # dashboard, public stats, ratings
    from backend.wishes.controllers import WishController  # micro-wish board, verification, claims
    return [*routing_controllers, *request_controllers, MediaController, *PWA_CONTROLLERS,
            *stats_controllers, *lights_controllers, WishController, *knowledge_controllers]


app = create_app()
