"""The template environment translates constant messages when it compiles a template: the pages must read
exactly as with Jinja's own runtime gettext, in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape

from backend.app import FRONTEND, template_environment
from backend.i18n import current_locale, gettext, ngettext

CASES = [
    '{{ _("我要反映") }}',  # in the English catalog
    '{{ _("<b>粗</b> & 细") }}',  # a message is safe text (it may hold markup): not escaped
    '{{ _("100%%") }}',  # newstyle gettext formats even without variables: %% reads %
    '{{ _("{n} 天前", n=3) }}',  # with variables: left to the runtime gettext
    '{{ _("我要反映") ~ "<b>" }}',  # the translation is safe text, what it is joined with is escaped
    '{{ _(label) }}',  # a computed message
    '<a title="{{ _("我要反映") }}">{{ gettext("我要反映")|upper }}</a>',
    '{% autoescape false %}{{ _("我要反映") }}<b>{% endautoescape %}',
    '{% macro m(x) %}{{ _("我要反映") }}{{ x }}{% endmacro %}{{ m("<i>") }}',
    '{{ row.code }} {{ row.items }} {{ row.missing }} {{ obj.real }}',  # rows are dicts; methods stay methods
]
CONTEXT = {"label": "我要反映", "row": {"code": "A1<", "items": [1]}, "obj": 3}


def plain_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(FRONTEND / "templates")), autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
@pytest.mark.parametrize("source", CASES)
def test_a_folded_message_reads_as_the_runtime_gettext_makes_it(locale: str, source: str) -> None:
    token = current_locale.set(locale)
    try:
        folded = template_environment(locale).from_string(source).render(CONTEXT)
        plain = plain_environment().from_string(source).render(CONTEXT)
    finally:
        current_locale.reset(token)
    assert folded == plain
    if locale == "en" and "_(\"我要反映\")" in source and "autoescape" not in source:
        assert "Report a problem" in folded


def test_constant_messages_are_not_called_at_render_time() -> None:
    code = template_environment("en").compile('{{ _("我要反映") }}|{{ _(label) }}|{{ _("{n} 天前", n=x) }}', raw=True)
    assert "Report a problem" in code  # in the template's text
    assert code.count("context.call") == 1  # only the message with a variable; _(label) is a direct filter call


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_template_compiles_in_both_languages(locale: str) -> None:
    env = template_environment(locale)
    names = [str(p.relative_to(FRONTEND / "templates")) for p in Path(FRONTEND / "templates").rglob("*.html")]
    assert len(names) > 50
    for name in names:
        env.get_template(name)


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_a_computed_message_is_translated_plain_text(locale: str) -> None:
    """A label kept as data (a category's name) is translated and escaped like any value: no markup from an
    admin's input, and a "%" in it is a character, not a format (it failed the whole page before)."""
    token = current_locale.set(locale)
    try:
        env = template_environment(locale)
        shown = env.from_string("{{ _(a) }}|{{ _(b) }}|{{ _(c) }}|{{ _(row.name) }}").render(
            a="我要反映", b="降噪50%", c="<b>粗</b> & 细", row={"name": "100%%"})
    finally:
        current_locale.reset(token)
    first = "Report a problem" if locale == "en" else "我要反映"
    assert shown == f"{first}|降噪50%|&lt;b&gt;粗&lt;/b&gt; &amp; 细|100%%"
