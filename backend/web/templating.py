"""Jinja filters shared by all templates."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment

from backend.db import aware, utcnow
from backend.i18n import N_
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


# A wish's beneficiary is shown as surname + honorific ("闫先生"), stored so; the honorific is read in the
# reader's language when shown ("Mr. 闫").
HONORIFIC_FORMS = (("先生", N_("{surname}先生")), ("女士", N_("{surname}女士")), ("家", N_("{surname}家")))


def honorific(display_name: str | None) -> str:
    name = display_name or ""
    if name == "某某":
        return _("某某")
    for suffix, form in HONORIFIC_FORMS:
        if name.endswith(suffix) and len(name) > len(suffix):
            return _(form).format(surname=name[: -len(suffix)])
    return name


def install_filters(env: Environment) -> None:
    env.filters["local_time"] = local_time
    env.filters["ago"] = ago
    env.filters["honorific"] = honorific
