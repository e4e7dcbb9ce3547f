"""The template environment (one per language) and the Jinja filters shared by all templates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, nodes
from jinja2.visitor import NodeTransformer

from backend.db import aware, utcnow
from backend.i18n import N_, translations
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
    env.filters["qg_message"] = runtime_message  # computed _(…) messages (TranslatedEnvironment)


# ---------------------------------------------------------------- the environment
#
# jinja2 is pinned in pyproject.toml: this overrides Environment._parse and getattr.

_DICT_ATTRS = frozenset(dir(dict))


class TranslatedEnvironment(Environment):
    """An environment for one language. ``{{ _("我要反映") }}`` (a literal message, no variables) is translated
    once, when the template is compiled, instead of on every render: at run time each such call cost two
    context calls, a Markup and a format, a fifth of a list page's CPU. A computed message (``_(label)``) is
    translated at run time by a filter (no context calls) as plain text; messages with variables go through
    the i18n extension's gettext as before."""

    def __init__(self, locale: str, **options: Any) -> None:
        super().__init__(**options)
        self.locale = locale

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = _FoldMessages(translations(self.locale).gettext).visit(super()._parse(source, name, filename))
        tree.set_environment(self)
        return tree

    def getattr(self, obj: Any, attribute: str) -> Any:
        # Rows are plain dicts: ``row.code`` is read as the key without first raising an AttributeError.
        # A dict's own methods (``items``, ``get``…) keep Jinja's order: the attribute first.
        if type(obj) is dict and attribute not in _DICT_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


class _FoldMessages(NodeTransformer):
    """``_("literal")`` / ``gettext("literal")`` → the translation, as the runtime newstyle gettext makes it
    (``Markup(text) % {}`` under autoescape, so ``%%`` reads ``%`` as before); the optimizer then folds it
    into the template's text."""

    def __init__(self, translate: Callable[[str], str]) -> None:
        self.translate = translate

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        node = self.generic_visit(node)
        if not (isinstance(node.node, nodes.Name) and node.node.name in ("_", "gettext") and len(node.args) == 1
                and not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None):
            return node  # not a message, or one with variables: the extension's gettext as before
        message = node.args[0]
        if isinstance(message, nodes.Const) and isinstance(message.value, str):
            text = nodes.MarkSafeIfAutoescape(nodes.Const(self.translate(message.value)))
            return nodes.Mod(text, nodes.Dict([])).set_lineno(node.lineno)
        # a computed message (a label kept as data, e.g. a category's name): translated by a filter, which Jinja
        # calls directly, without the two context calls of the extension's gettext
        return nodes.Filter(message, "qg_message", [], [], None, None).set_lineno(node.lineno)


def runtime_message(message: str) -> str:
    """A message known only at run time, translated: plain text, escaped like any value. (The extension's
    newstyle gettext returned it as markup and %-formatted it: an admin's category named "降噪50%" failed
    every page that lists it, and one named "<b>…" was not escaped.)"""
    return _(message)
