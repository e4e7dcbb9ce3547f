"""The catalogue of notice types (what must be published, by whom, how often), kept by admins.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from backend.accounts.service import Viewer
from backend.db import utcnow
from backend.notices.rows import NoticeTypeRow
from backend.notices.rules import CADENCE_LABELS, LEVEL_LABELS, NoticeError
from backend.notices.tables import (
    NoticeType,
    TypeLevel,
)
from backend.organisation.tables import Unit


@dataclass
class TypeInput:
    code: str = ""
    name: str = ""
    name_en: str = ""
    level: str = "all"
    basis: str = ""
    cadence: str = "quarterly"
    due_day: str = "20"
    grace_days: str = "10"
    publisher: str = ""
    needs_review: bool = True
    active: bool = True


async def list_types(*, active_only: bool = False) -> list[NoticeTypeRow]:
    q = NoticeType.select().order_by(NoticeType.sort).order_by(NoticeType.id)
    if active_only:
        q = q.where(NoticeType.active == True)
    return await q


async def is_village(unit_id: int) -> bool:
    """A community of a town (镇) publishes 村务; of a street (街道), 居务."""
    row = await Unit.select(Unit.parent.name.as_alias("parent_name")).where(Unit.id == unit_id).first()
    return bool(row and (row["parent_name"] or "").endswith("镇"))


async def types_for_unit(unit_id: int) -> list[NoticeTypeRow]:
    level = TypeLevel.village.value if await is_village(unit_id) else TypeLevel.community.value
    return [t for t in await list_types(active_only=True) if t["level"] in (TypeLevel.all.value, level)]


def _int(value: str, field: str, lo: int, hi: int, message: str) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise NoticeError(message, field) from None
    if not lo <= number <= hi:
        raise NoticeError(message, field)
    return number


async def save_type(actor: Viewer, type_id: int | None, data: TypeInput) -> int:
    """Create or change a catalogue entry (admins only). Bad input changes nothing."""
    if not actor.is_admin:
        raise NoticeError("只有管理员可以维护公开事项目录", status=403)
    name = data.name.strip()
    if not name or len(name) > 100:
        raise NoticeError("请填写事项名称（100 字以内）", "name")
    if data.cadence not in CADENCE_LABELS:
        raise NoticeError("请选择公开周期", "cadence")
    if data.level not in LEVEL_LABELS:
        raise NoticeError("请选择适用范围", "level")
    due_day = _int(data.due_day, "due_day", 1, 31, "截止日须为 1 到 31 之间的整数")
    grace = _int(data.grace_days, "grace_days", 1, 90, "宽限天数须为 1 到 90 之间的整数")
    if len(data.basis) > 2000 or len(data.name_en) > 150 or len(data.publisher) > 100:
        raise NoticeError("内容过长", "basis")
    values = {NoticeType.name: name, NoticeType.name_en: data.name_en.strip(), NoticeType.level: data.level,
              NoticeType.basis: data.basis.strip(), NoticeType.cadence: data.cadence, NoticeType.due_day: due_day,
              NoticeType.grace_days: grace, NoticeType.publisher: data.publisher.strip() or "居（村）民委员会",
              NoticeType.needs_review: data.needs_review, NoticeType.active: data.active,
              NoticeType.updated_at: utcnow()}
    if type_id is not None:
        done = await NoticeType.update(values).where(NoticeType.id == type_id).returning(NoticeType.id)
        if not done:
            raise NoticeError("公开事项不存在", status=404)
        return type_id
    code = data.code.strip() or f"t{secrets.token_hex(4)}"
    if len(code) > 40 or await NoticeType.exists().where(NoticeType.code == code):
        raise NoticeError("事项代码已存在或过长", "code")
    row = NoticeType(code=code, **{c._meta.name: v for c, v in values.items()})
    await row.save()
    return row.id
