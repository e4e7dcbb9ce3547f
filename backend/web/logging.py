"""Structured access log: one JSON line per request with status and duration."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime

from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("qungong.access")


def access_log_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            user = scope.get("user")
            log.info(
                json.dumps(
                    {
                        "t": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round((time.perf_counter() - start) * 1000, 1),
                        "account": getattr(user, "id", None),
                    },
                    ensure_ascii=False,
                )
            )

    return middleware


def configure_logging() -> None:
    """The access log writes bare JSON lines to stdout (one per request), whatever the server configures."""
    if not any(getattr(h, "_qungong", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._qungong = True  # type: ignore[attr-defined]
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    logging.getLogger("qungong").setLevel(logging.INFO)
