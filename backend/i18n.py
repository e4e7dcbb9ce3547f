"""Translations with Babel: Simplified Chinese is the source language, English from a catalog.

Messages are written in Chinese in templates and code (``_("我要反映")``); the English catalog
``backend/locale/en/LC_MESSAGES/messages.po`` maps them. Each process compiles a catalog to its ``.mo``
when that is missing or older than the ``.po`` (Babel's ``write_mo``, written atomically, so several
processes may race), then loads it with Babel's ``Translations``, plural forms included.
"""

from __future__ import annotations

import gettext as _gettext
import os
import re
import tempfile
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_DIR = Path(__file__).parent / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


def compile_catalog(locale: str) -> Path | None:
    """The ``.mo`` of ``locale``, compiled from its ``.po`` when missing or stale; None without a catalog."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return None
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        fd, tmp = tempfile.mkstemp(dir=mo.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as out:
            write_mo(out, catalog, use_fuzzy=False)
        os.replace(tmp, mo)
    return mo


@lru_cache(maxsize=8)
def translations(locale: str) -> _gettext.NullTranslations:
    if locale == DEFAULT_LOCALE or compile_catalog(locale) is None:
        return _gettext.NullTranslations()
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def english_catalog() -> dict[str, str]:
    """msgid → English, as the compiled catalog has it (for the completeness check)."""
    catalog = translations("en")._catalog  # type: ignore[attr-defined]
    return {k: v for k, v in catalog.items() if isinstance(k, str) and k}


def gettext(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:  # the gettext convention: marks a msgid for extraction
    """Mark a message for the catalog without translating it now (it is translated when shown)."""
    return message


def pick_locale(cookie: str | None, accept_language: str | None) -> str:
    # Chinese by default, whatever the browser says: English only when the visitor picks it.
    if cookie in LOCALES:
        return cookie
    return DEFAULT_LOCALE


# ---------------------------------------------------------------- catalog maintenance
# Extract every _("…") from the templates and the Python code and merge into the English
# catalog, keeping existing translations:  .venv/bin/python -m backend.i18n extract
BABEL_CFG = LOCALE_DIR / "babel.cfg"


def extract_messages() -> dict[str, list[tuple[str, int]]]:
    """msgid → [(file, line)] for every translatable string, found by Babel with the project's babel.cfg
    (the same mapping as ``pybabel extract -F backend/locale/babel.cfg``), plus the data labels."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    root = Path(__file__).resolve().parent.parent
    with BABEL_CFG.open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found: dict[str, list[tuple[str, int]]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        root, method_map=method_map, options_map=options_map
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, []).append((filename, lineno))
    for msgid, (file, line, _english) in data_labels().items():
        found.setdefault(msgid, []).append((file, line))
    for msgid, (file, line) in service_messages().items():
        found.setdefault(msgid, []).append((file, line))
    return found


# The refusals services raise (backend/errors.py's DomainError and its subclasses) carry message ids:
# ``raise WishError("只有心愿的发布人可以提交审核")`` is extracted like ``_("…")`` and translated when shown.
_ERROR_CALL = re.compile(r"^(\w*Error|NotAllowed|InvalidState|StaleVersion|NotFound)$")


def service_messages() -> dict[str, tuple[str, int]]:
    """msgid → (file, line) of every Chinese literal given as the message of a raised domain error."""
    import ast

    root = Path(__file__).resolve().parent.parent
    out: dict[str, tuple[str, int]] = {}
    for file in sorted((root / "backend").rglob("*.py")):
        if "piccolo_migrations" in file.parts:
            continue
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or not isinstance(node.exc, ast.Call):
                continue
            call = node.exc
            name = call.func.id if isinstance(call.func, ast.Name) else (
                call.func.attr if isinstance(call.func, ast.Attribute) else "")
            if not _ERROR_CALL.match(name) or not call.args:
                continue
            first = call.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and _CJK.search(first.value):
                out.setdefault(first.value, (str(file.relative_to(root)), first.lineno))
    return out


_CJK = re.compile(r"[\u4e00-\u9fff]")


def data_labels() -> dict[str, tuple[str, int, str]]:
    """Labels kept as data and shown through ``_(label)`` in templates: the values of module-level
    ``*_LABELS`` dicts in the backend, and the demo district's category names (with their English).
    Returns msgid → (file, line, suggested English or "")."""
    import ast

    root = Path(__file__).resolve().parent.parent
    out: dict[str, tuple[str, int, str]] = {}
    for file in sorted((root / "backend").rglob("*.py")):
        if "piccolo_migrations" in file.parts:
            continue
        rel = str(file.relative_to(root))
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in tree.body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else (
                node.target if isinstance(node, ast.AnnAssign) else None)
            if not isinstance(target, ast.Name) or node.value is None:
                continue
            if target.id.endswith("LABELS") and isinstance(node.value, ast.Dict):
                for v in node.value.values:
                    if isinstance(v, ast.Constant) and isinstance(v.value, str) and _CJK.search(v.value):
                        out.setdefault(v.value, (rel, v.lineno, ""))
            if rel == "backend/demo.py" and target.id == "CATEGORIES" and isinstance(node.value, ast.List):
                for t in node.value.elts:
                    if isinstance(t, ast.Tuple) and len(t.elts) > 2 and all(
                            isinstance(e, ast.Constant) for e in t.elts[1:3]):
                        out.setdefault(str(t.elts[1].value), (rel, t.lineno, str(t.elts[2].value)))
    return out


def update_catalog(locale: str = "en") -> tuple[int, list[str]]:
    """Merge extracted messages into the catalog; returns (count, msgids still untranslated)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    old: dict[str, str] = {}
    if path.exists():
        with path.open("rb") as fh:
            old = {str(m.id): str(m.string) for m in read_po(fh, locale=locale) if m.id and isinstance(m.id, str)}
    catalog = Catalog(locale=locale, project="qungong", charset="utf-8", fuzzy=False)
    found = extract_messages()
    suggested = {k: v[2] for k, v in data_labels().items() if v[2]}
    for msgid in sorted(found):
        catalog.add(msgid, old.get(msgid) or suggested.get(msgid, ""), locations=found[msgid][:3])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=0, omit_header=False, sort_output=True)
    translations.cache_clear()
    missing = [m for m in sorted(found) if not old.get(m)]
    return len(found), missing


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["extract"]:
        total, untranslated = update_catalog("en")
        print(f"{total} messages, {len(untranslated)} without English")
        for m in untranslated:
            print("  ", m)
