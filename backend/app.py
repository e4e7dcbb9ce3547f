"""create_app(): plugins, templates, CSRF, sessions in Redis, static files, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from jinja2 import FileSystemLoader, select_autoescape
from litestar import Controller, Litestar, Request
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.middleware import DefineMiddleware
from litestar.plugins.htmx import HTMXPlugin
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore
from litestar.template.config import TemplateConfig

from backend import wiring  # noqa: F401  (the transition hooks, listed in one place; run by the request service)
from backend.accounts.controllers import SignInController
from backend.db import engine, keep_session
from backend.errors import DomainError
from backend.i18n import DEFAULT_LOCALE, LOCALES, current_locale, gettext, ngettext, pick_locale
from backend.knowledge.controllers import KnowledgeController, KnowledgeStaffController
from backend.learning.controllers import LearningAdminController, LearningController
from backend.lights.controllers import AssessController, LightRulesController, LightsController
from backend.maps.controllers import MapController, StaffMapController, SupportController
from backend.notices.controllers import NoticesController, NoticeTypesAdminController
from backend.notify.controllers import AccountController, NotificationsController
from backend.open311.admin import Open311AdminController
from backend.open311.controllers import Open311Controller
from backend.organisation.controllers import AdminController
from backend.pwa.assets import static_cache_middleware, static_url
from backend.pwa.controllers import PwaController
from backend.pwa.field import FieldController
from backend.ratings.controllers import RatingController, SupporterRatingController
from backend.redis import close_redis, redis_client
from backend.requests.controllers import PublicController, ReportController, StaffRequestsController
from backend.requests.photos.controllers import RequestPhotoController
from backend.routing.action_controllers import RoutingActionsController
from backend.routing.admin_controllers import RoutingAdminController
from backend.routing.attribute_controllers import CategoryAttributesController
from backend.routing.queue_controllers import CommandCenterController, StreetController
from backend.settings import ROOT, check_startup, get_settings
from backend.stats.controllers import DashboardController, PublicStatsController
from backend.web.auth import ViewerMiddleware
from backend.web.errors import (
    domain_error_handler,
    http_exception_handler,
    internal_error_handler,
    not_authorized_handler,
)
from backend.web.headers import security_headers_middleware
from backend.web.logging import access_log_middleware, configure_logging
from backend.web.pages import PagesController
from backend.web.render import set_environment
from backend.web.sessions import RotatingSessionConfig
from backend.web.templating import TranslatedEnvironment, install_filters
from backend.wechat.controllers import WechatController
from backend.wishes.controllers import WishController

FRONTEND = ROOT / "frontend"


def template_environment(locale: str = DEFAULT_LOCALE) -> TranslatedEnvironment:
    env = TranslatedEnvironment(
        locale,
        loader=FileSystemLoader(str(FRONTEND / "templates")),
        autoescape=select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        enable_async=False,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    install_filters(env)
    env.globals["static_url"] = static_url  # fingerprinted /static URLs (backend/pwa/assets.py)
    return env


# Every controller of the app, by domain: the whole HTTP surface in one list.
CONTROLLERS: list[type[Controller]] = [
    PagesController,  # home, language, health
    SignInController,  # residents (phone + code) and staff (password)
    AdminController,  # units, staff and roles
    RoutingAdminController,  # categories, the handling matrix, boundaries
    ReportController, PublicController, StaffRequestsController,  # requests: report, follow, handle
    RoutingActionsController, CommandCenterController, StreetController,  # escalate, dispatch, queues
    FieldController,  # the grid worker's one-handed field mode
    RequestPhotoController,  # a request's photos, with its permission check
    LightRulesController, LightsController, AssessController,  # red/yellow lights, explanations, assessment
    RatingController,  # satisfaction
    SupporterRatingController,  # supporters (我也遇到了) rate the result too (issue 17)
    DashboardController, PublicStatsController,  # KPIs
    WishController,  # micro-wishes and claims
    KnowledgeController, KnowledgeStaffController,  # policy answers: public pages and the owners' work
    LearningController, LearningAdminController,  # party-member learning: practice, competitions, the bank
    NotificationsController,  # in-app notices and Web Push subscriptions
    AccountController,  # my account: how I am told (push, WeChat, SMS), my WeChat binding
    WechatController,  # the official account: its server endpoint, web sign-in, phone binding (404 unconfigured)
    PwaController,  # service worker, offline page
    NoticesController, NoticeTypesAdminController,  # 村居公开: notices, review, overdue board; the catalogue
    Open311Controller, Open311AdminController, CategoryAttributesController,  # Open311 API, its keys, questions
    MapController, SupportController, StaffMapController,  # maps, nearby duplicates, 我也遇到了
]


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    db = engine()
    await db.start_connection_pool(min_size=2, max_size=20, reset=keep_session)
    try:
        yield
    finally:
        await db.close_connection_pool()
        await close_redis()


async def set_locale(request: Request) -> None:
    current_locale.set(pick_locale(request.cookies.get("lang"), request.headers.get("accept-language")))


def create_app() -> Litestar:
    configure_logging()
    settings = get_settings()
    check_startup(settings)  # e.g. demo mode on a public URL: refuse to start
    envs = {locale: template_environment(locale) for locale in LOCALES}  # one per language (templating.py)
    set_environment(envs)
    env = envs[DEFAULT_LOCALE]
    session_store = RedisStore(redis=redis_client(), namespace="qg-sessions")
    session_config = RotatingSessionConfig(
        store="sessions", key="qg_session", max_age=settings.session_max_age, httponly=True, samesite="lax",
        secure=settings.https,
    )
    static_dir = Path(FRONTEND / "static")
    app = Litestar(
        route_handlers=[
            *CONTROLLERS,
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
            cookie_secure=settings.https,
            # Open311 is authenticated by its api_key and WeChat signs its calls: no cookies, no CSRF token there.
            exclude=["/healthz", "^/open311/", "^/wechat/callback$"],
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
            DomainError: domain_error_handler,  # every service's refusal: the form again, the 4xx page or fragment
            HTTPException: http_exception_handler,
            Exception: internal_error_handler,
        },
        request_max_body_size=160 * 1024 * 1024,
        lifespan=[lifespan],
        debug=False,
    )
    # Outermost: every request is logged, including those no route matched (404s).
    app.asgi_handler = security_headers_middleware(access_log_middleware(app.asgi_handler))
    return app


app = create_app()
