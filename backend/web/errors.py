"""HTML error pages: friendly 404/403/429/400, sign-in redirect for 401, never a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from backend.errors import DomainError
from backend.i18n import N_
from backend.i18n import gettext as _
from backend.web.render import is_htmx, page

log = logging.getLogger("qungong.errors")

TITLES = {
    400: N_("请求有误"),
    403: N_("没有权限"),
    404: N_("页面不存在"),
    405: N_("不支持的操作"),
    409: N_("内容已变化"),
    413: N_("内容过大"),
    422: N_("填写有误"),
    429: N_("操作过于频繁"),
    500: N_("系统繁忙"),
    503: N_("服务暂时不可用"),
}
RETRY_AFTER_UNAVAILABLE = 30


def _service_unavailable(exc: Exception) -> str | None:
    """Which backing service is down ("redis" / "database"), if that is what the error is; else None."""
    from redis.exceptions import BusyLoadingError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, BusyLoadingError)):
        return "redis"
    try:
        from asyncpg.exceptions import (
            CannotConnectNowError,
            ConnectionDoesNotExistError,
            PostgresConnectionError,
            TooManyConnectionsError,
        )
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, (CannotConnectNowError, ConnectionDoesNotExistError, PostgresConnectionError,
                        TooManyConnectionsError, ConnectionError)):  # builtin: refused/reset by the server
        return "database"
    return None


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_page(request: Request, status: int, detail: str, extra_headers: dict[str, str] | None = None) -> Response:
    headers = dict(extra_headers or {})
    detail = _(detail)  # a message id (a service's, a guard's) in the reader's language; translated text stays
    if _wants_json(request):
        return Response({"status_code": status, "detail": detail}, status_code=status, headers=headers)
    if is_htmx(request):
        # htmx does not swap 4xx bodies by default: tell it to show this one in place.
        headers |= {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        return page(request, "errors/_message.html", {"status": status, "title": _(TITLES.get(status, N_("出错了"))),
                                                       "detail": detail}, status_code=status, headers=headers)
    retry_after = headers.get("Retry-After")
    return page(
        request,
        "errors/error.html",
        {"status": status, "title": _(TITLES.get(status, N_("出错了"))), "detail": detail, "retry_after": retry_after},
        status_code=status,
        headers=headers,
    )


def http_exception_handler(request: Request, exc: HTTPException) -> Response:
    status = exc.status_code
    detail = exc.detail if exc.detail and exc.detail != TITLES.get(status) else TITLES.get(status, N_("出错了"))
    if status == 404 and detail in {"Not Found", ""}:
        detail = N_("您要找的页面不存在或已被移除。")
    if status == 405:
        detail = N_("不支持此操作。")
    if isinstance(exc, ValidationException):
        status = 400
        detail = N_("提交的内容格式不正确，请检查后重试。")
    if status >= 500:
        log.error("http error %s on %s: %s", status, request.url.path, exc.detail)
        detail = N_("系统暂时无法处理，请稍后再试。")
    headers = dict(exc.headers or {})
    return error_page(request, status, str(detail), headers)


def not_authorized_handler(request: Request, exc: NotAuthorizedException) -> Response:
    if _wants_json(request):
        return Response({"status_code": 401, "detail": exc.detail}, status_code=401)
    target = "/staff/login" if request.url.path.startswith(("/staff", "/admin", "/cc", "/kb/manage")) else "/login"
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if is_htmx(request):
        return Response("", status_code=401, headers={"HX-Redirect": f"{target}?next={nxt}"})
    return Redirect(f"{target}?next={nxt}", status_code=303)


def _refused_by_database(exc: Exception) -> bool:
    """The database refused a value the user sent (an id beyond the column's range, a NUL byte in text):
    that is bad input, and the failed statement changed nothing."""
    from asyncpg.exceptions import DataError

    return isinstance(exc, (DataError, OverflowError))


def _out_of_range_path_id(request: Request) -> bool:
    return any(isinstance(v, int) and not -(2**31) <= v < 2**31 for v in (request.path_params or {}).values())


def internal_error_handler(request: Request, exc: Exception) -> Response:
    if isinstance(exc, UnicodeDecodeError):
        # Bytes that are not UTF-8 in a form field (raised while the CSRF check or a handler parses the form).
        log.warning("undecodable form on %s %s", request.method, request.url.path)
        return error_page(request, 400, N_("提交的内容格式不正确，请检查后重试。"))
    down = _service_unavailable(exc)
    if down is not None:
        # Redis or the database is unreachable (a restart, an outage): say so and when to come back, not a 500.
        log.error("%s unavailable on %s %s: %r", down, request.method, request.url.path, exc)
        return error_page(request, 503, _("系统正在恢复，请稍后再试。您填写的内容没有丢失，可返回后重新提交。"),
                           {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})
    if _refused_by_database(exc):
        log.warning("database refused input on %s %s: %s", request.method, request.url.path, exc)
        if _out_of_range_path_id(request):
            return error_page(request, 404, N_("您要找的页面不存在或已被移除。"))
        return error_page(request, 400, N_("提交的内容包含无法保存的数字或字符，请检查后重试。"))
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, HTTP_500_INTERNAL_SERVER_ERROR, N_("系统暂时无法处理，请稍后再试。"))


# ---------------------------------------------------------------- refusals of the services (DomainError)

# A route that shows a form names how to show it again: ``@post(..., opt={FORM: reshow})`` where
# ``reshow(request, exc)`` renders the page with ``exc.field_errors()`` marked and the posted values kept
# (``await request.form()`` reads the body parsed once by the handler). Routes without one answer the 4xx
# page, or for htmx the message fragment.
FORM = "form"
FormPage = Callable[[Request, DomainError], Awaitable[Response]]


class _RenderedLater(Response):
    """Litestar's exception handlers are synchronous; showing a form again reads the database. This
    response renders the page when Litestar sends it (its ASGI callable is awaited right after)."""

    def __init__(self, render: Callable[[], Awaitable[Response]]) -> None:
        super().__init__(content=b"")
        self._render = render

    def to_asgi_response(self, app: Any, request: Request, **kwargs: Any) -> Any:  # type: ignore[override]
        async def send_rendered(scope: Any, receive: Any, send: Any) -> None:
            response = await self._render()
            await response.to_asgi_response(None, request, **kwargs)(scope, receive, send)

        return send_rendered


def domain_error_handler(request: Request, exc: DomainError) -> Response:
    """The one answer to a service's refusal, in the reader's language (``exc.message`` translates)."""
    handler = request.scope.get("route_handler")
    reshow: FormPage | None = (handler.opt or {}).get(FORM) if handler is not None else None
    # A 404 means the thing is gone: there is no form to show again.
    if reshow is not None and request.method == "POST" and exc.status != 404:
        return _RenderedLater(lambda: reshow(request, exc))
    status = exc.status if 400 <= exc.status < 600 else 400
    headers = {"Retry-After": str(exc.retry_after)} if getattr(exc, "retry_after", None) else {}
    return error_page(request, status, exc.message, headers)
