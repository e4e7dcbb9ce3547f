"""Reading form values safely: junk becomes None (a clear message upstream), never a 500."""

from __future__ import annotations

from typing import Any


def form_int(value: Any) -> int | None:
    """An integer that fits the database's 32-bit id columns, or None (a longer number is junk, not a 500)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if -(2**31) <= number < 2**31 else None


def safe_next(value: str | None, default: str) -> str:
    """Only same-site relative paths: never an open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default
