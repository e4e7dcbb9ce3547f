"""Security headers on every response (pages, fragments, static files, errors, 404s).

Scripts only from this origin (no inline scripts, no eval); styles may be inline (a few ``style``
attributes and template ``<style>`` blocks). The site may not be framed. Camera and location only for
this origin (photos and "use my location"). HSTS only when the site is served over https.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.settings import get_settings

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def security_headers() -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CSP,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()",
    }
    if get_settings().https:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def security_headers_middleware(app: ASGIApp) -> ASGIApp:
    fixed = list(security_headers().items())

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                for name, value in fixed:
                    if name not in headers:
                        headers[name] = value
                if message["status"] == 429 and "retry-after" not in headers:
                    headers["Retry-After"] = "60"  # every 429 says when to come back
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped
