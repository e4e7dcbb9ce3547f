"""Jinja filters shared by all templates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment

from backend.db import aware, utcnow
from backend.i18n import gettext as _
from backend.settings import get_settings


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    v = aware(value)
    assert v is not None
    return v.astimezone(ZoneInfo(get_settings().timezone)).strftime(fmt)


def ago(value: datetime | None) -> str:
    """'3 小时前' style durations, for how long something has waited."""
    if value is None:
        return ""
    v = aware(value)
    assert v is not None
    seconds = int((utcnow() - v).total_seconds())
    if seconds < 60:
        return _("刚刚")
    if seconds < 3600:
        return _("{n} 分钟前").format(n=seconds // 60)
    if seconds < 86400:
        return _("{n} 小时前").format(n=seconds // 3600)
    return _("{n} 天前").format(n=seconds // 86400)


def install_filters(env: Environment) -> None:
    env.filters["local_time"] = local_time
    env.filters["ago"] = ago
