"""Translations with Babel: Simplified Chinese is the source language, English from a catalog.

Messages are written in Chinese in templates and code (``_("我要反映")``); the English catalog
``backend/locale/en/LC_MESSAGES/messages.po`` maps them. The catalog is read once per process.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.messages.pofile import read_po

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_DIR = Path(__file__).parent / "locale"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@lru_cache(maxsize=8)
def _catalog(locale: str) -> dict[str, str]:
    path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string and isinstance(m.id, str)}


def gettext(message: str) -> str:
    locale = current_locale.get()
    if locale == DEFAULT_LOCALE:
        return message
    return _catalog(locale).get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return gettext(singular if n == 1 else plural)


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
EXTRACT_DIRS = ("backend", "workers", "frontend/templates")
METHOD_MAP = [
    ("frontend/templates/**.html", "jinja2.ext:babel_extract"),
    ("backend/**.py", "python"),
    ("workers/**.py", "python"),
]
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "false"}


def extract_messages() -> dict[str, list[tuple[str, int]]]:
    """msgid → [(file, line)] for every translatable string in the project."""
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).resolve().parent.parent
    found: dict[str, list[tuple[str, int]]] = {}
    for sub in EXTRACT_DIRS:
        options = {"frontend/templates/**.html": JINJA_OPTIONS}
        method_map = [(pattern.removeprefix(sub + "/"), method) for pattern, method in METHOD_MAP
                      if pattern.startswith(sub + "/")]
        opts = {k.removeprefix(sub + "/"): v for k, v in options.items()}
        for filename, lineno, message, _comments, _context in extract_from_dir(
            root / sub, method_map=method_map, options_map=opts
        ):
            msgid = message[0] if isinstance(message, tuple) else message
            if msgid:
                found.setdefault(msgid, []).append((f"{sub}/{filename}", lineno))
    for msgid, (file, line, _english) in data_labels().items():
        found.setdefault(msgid, []).append((file, line))
    return found


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
    _catalog.cache_clear()
    missing = [m for m in sorted(found) if not old.get(m)]
    return len(found), missing


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["extract"]:
        total, untranslated = update_catalog("en")
        print(f"{total} messages, {len(untranslated)} without English")
        for m in untranslated:
            print("  ", m)
