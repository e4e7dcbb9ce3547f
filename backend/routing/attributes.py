"""Per-category extra questions (GeoReport v2 service definitions): reading, validating, managing.

One validator for both doors: the resident's report form and Open311's ``attribute[CODE]`` fields.
No Litestar imports.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict, cast
from zoneinfo import ZoneInfo

from backend.db import fetch_prepared
from backend.i18n import current_locale
from backend.i18n import gettext as _
from backend.routing.tables import AttributeType, CategoryAttribute
from backend.settings import get_settings

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MAX_STRING = 200
MAX_TEXT = 2000
LIST_TYPES = (AttributeType.singlevaluelist.value, AttributeType.multivaluelist.value)
TYPE_LABELS = {
    AttributeType.string.value: "单行文字",
    AttributeType.number.value: "数字",
    AttributeType.datetime.value: "日期时间",
    AttributeType.text.value: "多行文字",
    AttributeType.singlevaluelist.value: "单选",
    AttributeType.multivaluelist.value: "多选",
}

Answers = dict[str, Any]  # code -> str | float | list[str]


class AttributeValue(TypedDict):
    """A choice of a list question."""

    key: str
    name: str
    name_en: NotRequired[str]


class AttributeDef(TypedDict):
    """A category's extra question as ``CategoryAttribute.select()`` reads it (values parsed from JSON)."""

    id: int
    category: int
    code: str
    datatype: str
    required: bool
    variable: bool  # false: information shown to the person, no input
    description: str
    description_en: str
    datatype_description: str
    order: int
    values: list[AttributeValue]


# Every report reads its category's questions: prepared once per connection (fetch_prepared).
_DEF_COLUMNS = ("id", "category", "code", "datatype", "required", "variable", "description", "description_en",
                "datatype_description", "order")
_OF_CATEGORY = ("SELECT " + ", ".join(f'"{c}"' for c in _DEF_COLUMNS)
                + ', "values" FROM category_attribute WHERE category = $1 ORDER BY "order", id')


async def for_category(category_id: int) -> list[AttributeDef]:
    rows = await fetch_prepared(_OF_CATEGORY, category_id)
    return [cast(AttributeDef, dict(r) | {"values": json.loads(r["values"])}) for r in rows]


# The report form's category, if it may be chosen, with its questions in the same statement: one row per
# question, or one row with empty question columns.
_FOR_REPORT = ("SELECT c.id AS category_id, c.default_level, " + ", ".join(f'a."{c}"' for c in _DEF_COLUMNS)
               + ', a."values" FROM category c LEFT JOIN category_attribute a ON a.category = c.id '
               'WHERE c.id = $1 AND c.active ORDER BY a."order", a.id')


@dataclass(frozen=True)
class ReportCategory:
    """An active category as a report needs it: where it lands first and what it asks."""

    id: int
    default_level: str
    questions: list[AttributeDef]


async def for_report(category_id: int) -> ReportCategory | None:
    """The category a report chose, with its questions (one read); None if it is unknown or inactive."""
    rows = await fetch_prepared(_FOR_REPORT, category_id)
    if not rows:
        return None
    questions = [cast(AttributeDef, {c: r[c] for c in _DEF_COLUMNS} | {"values": json.loads(r["values"])})
                 for r in rows if r["id"] is not None]
    return ReportCategory(rows[0]["category_id"], rows[0]["default_level"], questions)


async def for_categories(category_ids: list[int]) -> dict[int, list[AttributeDef]]:
    out: dict[int, list[AttributeDef]] = {}
    if not category_ids:
        return out
    rows = await CategoryAttribute.select().where(CategoryAttribute.category.is_in(category_ids)).order_by(
        CategoryAttribute.order).order_by(CategoryAttribute.id).output(load_json=True)
    for row in rows:
        out.setdefault(row["category"], []).append(row)
    return out


def _parse_datetime(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:  # an HTML datetime-local field: the district's own clock
        parsed = parsed.replace(tzinfo=ZoneInfo(get_settings().timezone))
    return parsed


def validate(defs: list[AttributeDef], raw: dict[str, list[str]]) -> tuple[Answers, dict[str, str]]:
    """Check the answers given for a category's questions; return (answers, errors by code).

    ``raw`` maps an attribute code to the values sent (one for most types, several for a multi-value list).
    Codes the category does not ask are ignored, as the spec lets a server do.
    """
    answers: Answers = {}
    errors: dict[str, str] = {}
    for d in defs:
        if not d["variable"]:
            continue
        code, kind = d["code"], d["datatype"]
        given = [v.strip() for v in raw.get(code, []) if isinstance(v, str) and v.strip()]
        label = _question(d)
        if not given:
            if d["required"]:
                errors[code] = _("请填写「{label}」").format(label=label)
            continue
        if kind != AttributeType.multivaluelist.value and len(given) > 1:
            errors[code] = _("「{label}」只能填写一个值").format(label=label)
            continue
        value = given[0]
        if kind == AttributeType.number.value:
            try:
                number = float(value)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                errors[code] = _("「{label}」应为数字").format(label=label)
                continue
            answers[code] = number
        elif kind == AttributeType.datetime.value:
            parsed = _parse_datetime(value)
            if parsed is None:
                errors[code] = _("「{label}」应为日期时间，例如 2026-12-01T08:30").format(label=label)
                continue
            answers[code] = parsed.isoformat()
        elif kind in LIST_TYPES:
            keys = {str(v.get("key")) for v in d["values"] or []}
            bad = [v for v in given if v not in keys]
            if bad:
                errors[code] = _("「{label}」的选项无效：{bad}").format(label=label, bad=", ".join(bad)[:100])
                continue
            answers[code] = list(dict.fromkeys(given)) if kind == AttributeType.multivaluelist.value else value
        else:
            limit = MAX_TEXT if kind == AttributeType.text.value else MAX_STRING
            if len(value) > limit or (kind == AttributeType.string.value and "\n" in value):
                message = _("「{label}」不能超过 {n} 字（单行）") if kind == AttributeType.string.value else _(
                    "「{label}」不能超过 {n} 字")
                errors[code] = message.format(label=label, n=limit)
                continue
            answers[code] = value
    return answers, errors


def _question(d: AttributeDef) -> str:
    return d["description_en"] if current_locale.get() == "en" and d["description_en"] else d["description"]


def _option(v: AttributeValue) -> str:
    return v.get("name_en") if current_locale.get() == "en" and v.get("name_en") else v.get("name", "")


async def answers_of(category_id: int, stored: Any) -> list[tuple[str, str]]:
    """(question, answer) pairs of a request's stored answers, for the staff and resident pages."""
    answers = json.loads(stored) if isinstance(stored, str) else (stored or {})
    if not answers:
        return []
    return display(await for_category(category_id), answers)


def display(defs: list[AttributeDef], answers: Answers) -> list[tuple[str, str]]:
    """(question, answer) pairs for pages, list keys shown by their names."""
    out = []
    for d in defs:
        if d["code"] not in answers:
            continue
        value = answers[d["code"]]
        names = {str(v.get("key")): _option(v) for v in d["values"] or []}
        if isinstance(value, list):
            text = "、".join(names.get(v, v) for v in value)
        elif isinstance(value, float):
            text = f"{value:g}"
        else:
            text = names.get(str(value), str(value))
        out.append((_question(d), text))
    return out


# ---------------------------------------------------------------- admin


@dataclass
class NewAttribute:
    code: str
    datatype: str
    description: str
    required: bool = False
    variable: bool = True
    order: int = 1
    datatype_description: str = ""
    values_text: str = ""  # one "key=name" (or "key=name=English name") per line for the list types
    description_en: str = ""


def parse_values(text: str) -> list[dict[str, str]]:
    values = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, rest = line.partition("=")
        name, _sep, name_en = rest.partition("=")
        value = {"key": key.strip(), "name": (name if sep else key).strip()}
        if name_en.strip():
            value["name_en"] = name_en.strip()
        values.append(value)
    return values


async def add(category_id: int, data: NewAttribute) -> dict[str, str]:
    """Create an attribute; return the errors by field (nothing written when there are any)."""
    errors: dict[str, str] = {}
    if not CODE_RE.match(data.code):
        errors["code"] = _("代码只能用字母、数字、下划线和连字符，1 到 40 个字符")
    elif await CategoryAttribute.exists().where(
            (CategoryAttribute.category == category_id) & (CategoryAttribute.code == data.code)):
        errors["code"] = _("该类别已有这个代码")
    if data.datatype not in TYPE_LABELS:
        errors["datatype"] = _("请选择题型")
    if not data.description.strip() or len(data.description) > 200:
        errors["description"] = _("请填写问题说明（不超过 200 字）")
    if not (1 <= data.order <= 999):
        errors["order"] = _("顺序应为 1 到 999")
    values = parse_values(data.values_text)
    if data.datatype in LIST_TYPES:
        keys = [v["key"] for v in values]
        if not values or len(set(keys)) != len(keys) or any(not k or len(k) > 40 for k in keys):
            errors["values"] = _("请逐行填写选项，格式为“代码=名称”，代码不能重复")
    else:
        values = []
    if errors:
        return errors
    await CategoryAttribute(
        category=category_id, code=data.code, datatype=data.datatype, required=data.required,
        variable=data.variable, description=data.description.strip(), order=data.order,
        description_en=data.description_en.strip()[:200],
        datatype_description=data.datatype_description.strip()[:200], values=values,
    ).save()
    return {}


async def remove(category_id: int, attribute_id: int) -> bool:
    deleted = await CategoryAttribute.delete().where(
        (CategoryAttribute.id == attribute_id) & (CategoryAttribute.category == category_id)).returning(
        CategoryAttribute.id)
    return bool(deleted)
