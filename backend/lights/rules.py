"""Light rules: the yellow and red deadlines of each (category, stage), edited by admins; the labels and
the error every lights module raises. No Litestar imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from backend.accounts.service import Viewer
from backend.db import fetch_prepared, utcnow, write_transaction
from backend.errors import DomainError
from backend.lights.clock import DEFAULT_RULES, RuleSpec, parse_office_hours
from backend.lights.tables import ClockKind, LightRule
from backend.routing.tables import Category

STAGES = ("accept", "resolve")
COLORS = ("yellow", "red")
EXPLANATION_HOURS = 24
MAX_TEXT = 2000
STAGE_LABELS = {"accept": "受理", "resolve": "办结"}
COLOR_LABELS = {"yellow": "黄灯", "red": "红灯"}
CLOCK_LABELS = {"natural": "自然时间", "working": "工作时间（法定工作日）"}


class LightError(DomainError):
    """A refused change, with a message for the user and the HTTP status to answer with."""




class RuleRow(TypedDict):
    """A deadline rule as the admin page lists it; a stage's default shows (id None) before anyone saved it."""

    id: int | None
    category: int | None  # None: the stage's default
    category_name: str | None
    stage: str
    yellow_hours: float
    red_hours: float
    clock: str
    office_hours: str
    updated_at: datetime | None
    updated_by: NotRequired[int | None]


def spec_of(row: Mapping[str, Any]) -> RuleSpec:  # a RuleRow, or a record of _RULES_SQL
    return RuleSpec(float(row["yellow_hours"]), float(row["red_hours"]), row["clock"], row["office_hours"])


async def rule_for(category_id: int | None, stage: str) -> RuleSpec:
    """The category's own rule, else the stage's default rule, else the seed's defaults."""
    return (await rules_by_stage({category_id}))(category_id, stage)


async def list_rules() -> list[RuleRow]:
    rows = await LightRule.select(LightRule.all_columns(), LightRule.category.name.as_alias("category_name")).order_by(
        LightRule.stage).order_by(LightRule.id)
    have_default = {r["stage"] for r in rows if r["category"] is None}
    for stage in STAGES:  # the defaults are shown (and editable) even before anyone saved them
        if stage not in have_default:
            d = DEFAULT_RULES[stage]
            rows.append({"id": None, "category": None, "category_name": None, "stage": stage,
                         "yellow_hours": d.yellow_hours, "red_hours": d.red_hours, "clock": d.clock,
                         "office_hours": d.office_hours, "updated_at": None})
    rows.sort(key=lambda r: (r["category"] is not None, r["category_name"] or "", STAGES.index(r["stage"])))
    return rows


def _hours(value: Any, field: str) -> float:
    try:
        hours = float(str(value).strip())
    except (TypeError, ValueError):
        raise LightError("请填写小时数（可以带小数）", field) from None
    if not (0 < hours <= 24 * 365):
        raise LightError("小时数须大于 0 且不超过一年", field)
    return hours


async def save_rule(actor: Viewer, *, category_id: int | None, stage: str, yellow_hours: Any, red_hours: Any,
                    clock: str, office_hours: str) -> int:
    """Create or replace the rule of (category, stage). Refuses red ≤ yellow; nothing changes then."""
    if not actor.is_admin:
        raise LightError("只有管理员可以修改红黄灯规则", status=403)
    if stage not in STAGES:
        raise LightError("请选择环节（受理或办结）", "stage")
    yellow = _hours(yellow_hours, "yellow_hours")
    red = _hours(red_hours, "red_hours")
    if red <= yellow:
        raise LightError("红灯时限必须长于黄灯时限", "red_hours")
    if clock not in {c.value for c in ClockKind}:
        raise LightError("请选择计时方式", "clock")
    office_hours = (office_hours or "").strip() or "09:00-12:00,13:30-17:30"
    try:
        parse_office_hours(office_hours)
    except ValueError as exc:
        raise LightError(str(exc), "office_hours") from None
    if category_id is not None and not await Category.exists().where(Category.id == category_id):
        raise LightError("诉求类别不存在", "category")
    values = {LightRule.yellow_hours: yellow, LightRule.red_hours: red, LightRule.clock: clock,
              LightRule.office_hours: office_hours, LightRule.updated_at: utcnow(), LightRule.updated_by: actor.id}
    async with write_transaction():
        cat_cond = LightRule.category.is_null() if category_id is None else LightRule.category == category_id
        existing = await LightRule.select(LightRule.id).where(cat_cond & (LightRule.stage == stage)).first()
        if existing:
            await LightRule.update(values).where(LightRule.id == existing["id"])
            return existing["id"]
        row = LightRule(category=category_id, stage=stage, yellow_hours=yellow, red_hours=red, clock=clock,
                        office_hours=office_hours, updated_by=actor.id)
        await row.save()
        return row.id


async def delete_rule(actor: Viewer, rule_id: int) -> None:
    if not actor.is_admin:
        raise LightError("只有管理员可以修改红黄灯规则", status=403)
    await LightRule.delete().where((LightRule.id == rule_id) & LightRule.category.is_not_null())


# A constant statement (prepared once per connection): clocks start on every submission (issue 22).
_RULES_SQL = ("SELECT category, stage, yellow_hours, red_hours, clock, office_hours FROM light_rule "
              "WHERE category IS NULL OR category = ANY($1::int[])")


async def rules_by_stage(category_ids: set[int | None]) -> Any:
    """One query for the rules of these categories (and the defaults); returns rule(category, stage)."""
    rows = await fetch_prepared(_RULES_SQL, [c for c in category_ids if c is not None])
    found = {(r["category"], r["stage"]): r for r in rows}

    def rule(category_id: int | None, stage: str) -> RuleSpec:
        row = found.get((category_id, stage)) or found.get((None, stage))
        return spec_of(row) if row else DEFAULT_RULES[stage]

    return rule
