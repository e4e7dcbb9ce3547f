"""Fingerprinted static URLs and their cache headers.

``static_url('css/app.css')`` → ``/static/css/app.css?v=<hash of the content>``: a changed file gets a
new URL, so fingerprinted URLs can be cached for a year as immutable. Plain ``/static/...`` URLs
(manifest, icons referenced by the manifest) revalidate with ``no-cache``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.settings import ROOT

STATIC_DIR = ROOT / "frontend" / "static"
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
# What the service worker precaches: the app shell's assets (fingerprinted).
SHELL_ASSETS = (
    "css/app.css",
    "js/app.js",
    "vendor/htmx-2.0.11.min.js",
    "icons/icon.svg",
    "icons/icon-192.png",
)


@lru_cache(maxsize=256)
def _hash(path: str, mtime_ns: int) -> str:
    return hashlib.sha256((STATIC_DIR / path).read_bytes()).hexdigest()[:12]


def asset_hash(path: str) -> str:
    file = STATIC_DIR / path
    try:
        return _hash(path, file.stat().st_mtime_ns)
    except FileNotFoundError:
        return "missing"


def static_url(path: str) -> str:
    path = path.lstrip("/")
    return f"/static/{path}?v={asset_hash(path)}"


def shell_version() -> str:
    """One version for the service worker's caches: changes whenever a shell asset or sw.js changes."""
    h = hashlib.sha256()
    for path in (*SHELL_ASSETS, "sw.js"):
        h.update(path.encode() + asset_hash(path).encode())
    return h.hexdigest()[:12]


def sw_source() -> str:
    src = (STATIC_DIR / "sw.js").read_text(encoding="utf-8")
    urls = [static_url(p) for p in SHELL_ASSETS]
    precache = ", ".join(f'"{u}"' for u in [*urls, "/offline"])
    return src.replace("__VERSION__", shell_version()).replace('"__PRECACHE__"', precache)


def static_cache_middleware(app: ASGIApp) -> ASGIApp:
    """Sets Cache-Control on /static responses: immutable when the URL carries its content hash."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/static/"):
            await app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        fingerprinted = False
        if query.startswith(b"v="):
            rel = scope["path"].removeprefix("/static/")
            fingerprinted = query[2:].decode("latin-1") == asset_hash(rel)
        value = IMMUTABLE if fingerprinted else REVALIDATE

        async def send_with_cache(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                headers.append((b"cache-control", value))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_cache)

    return middleware


def static_dir() -> Path:
    return STATIC_DIR
