"""One-time confirmations after a redirect ("已办结", "派单成功"): stored in the session, shown once.

A flash is a message id (the Chinese source text) with parameters, translated when it is shown, so it
follows the reader's language. The next full page render takes it out of the session.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from backend.i18n import N_, gettext

__all__ = ["N_", "flash", "pop_flashes"]

KEY = "_flash"


def flash(request: Request, message: str, **params: Any) -> None:
    """Queue ``message`` (a msgid, formatted with ``params`` at display time) for the next page."""
    try:
        session = request.session
    except Exception:  # no session middleware (never in the app): nothing to show later
        return
    items = list(session.get(KEY) or [])
    items.append([message, {k: str(v) for k, v in params.items()}])
    session[KEY] = items[-3:]


def pop_flashes(request: Request) -> list[str]:
    try:
        session = request.session
    except Exception:
        return []
    items = session.pop(KEY, None) if KEY in session else None
    out = []
    for message, params in items or []:
        text = gettext(message)
        try:
            out.append(text.format(**params) if params else text)
        except (KeyError, IndexError, ValueError):
            out.append(text)
    return out
