"""A wish's form: masking the beneficiary's name, keeping private details out of public text, validation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from backend.wishes.rules import COMPOUND_SURNAMES, GROUP_LABELS, HONORIFIC_LABELS
from backend.wishes.tables import (
    Honorific,
)


def mask_name(name: str, honorific: str) -> str:
    """'闫先生' / '闫女士' / '闫家'; '某某' without a name. Never more than the surname."""
    name = re.sub(r"\s+", "", name or "")
    if not name:
        return "某某"
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), name[0])
    return surname + HONORIFIC_LABELS.get(honorific, "家")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def privacy_problems(texts: Sequence[str], name: str, phone: str, address: str) -> str | None:
    """A public text must not contain the beneficiary's full name, phone or address."""
    joined = "".join(re.sub(r"\s+", "", t or "") for t in texts)
    name = re.sub(r"\s+", "", name or "")
    if len(name) >= 2 and name in joined:
        return "公开内容中不能出现受助人的姓名，请改用称呼"
    phone_digits = _digits(phone)
    if len(phone_digits) >= 7 and phone_digits in _digits(" ".join(texts)):
        return "公开内容中不能出现受助人的电话号码"
    address = re.sub(r"\s+", "", address or "")
    if len(address) >= 4 and address in joined:
        return "公开内容中不能出现受助人的详细地址"
    return None


@dataclass
class WishInput:
    title: str = ""
    story: str = ""
    group: str = ""
    value: str = ""
    community_id: int | None = None
    wanted_by: str = ""
    beneficiary_name: str = ""
    beneficiary_phone: str = ""
    beneficiary_address: str = ""
    honorific: str = Honorific.family.value
    thanks_story: str = ""
    thanks_consent: bool = False

    def as_form(self) -> dict[str, Any]:
        return {k: ("" if v is None else v) for k, v in self.__dict__.items()}


def validate(data: WishInput, today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the form; return (columns, field errors)."""
    errors: dict[str, str] = {}
    title = (data.title or "").strip()
    story = (data.story or "").strip()
    if not title:
        errors["title"] = "请填写心愿（例如：一根助行拐杖）"
    elif len(title) > 60:
        errors["title"] = "心愿标题不能超过 60 字"
    if len(story) > 2000:
        errors["story"] = "心愿故事不能超过 2000 字"
    if data.group not in GROUP_LABELS:
        errors["group"] = "请选择受助人类别"
    value = 0
    try:
        value = int(str(data.value).strip() or "0")
        if not 0 <= value <= 100_000:
            raise ValueError
    except ValueError:
        errors["value"] = "预估价值请填写 0–100000 之间的整数（元）"
    if data.community_id is None:
        errors["community"] = "请选择社区"
    wanted_by: date | None = None
    if (data.wanted_by or "").strip():
        try:
            wanted_by = date.fromisoformat(data.wanted_by.strip())
        except ValueError:
            errors["wanted_by"] = "期望日期格式不正确"
        else:
            if wanted_by < today:
                errors["wanted_by"] = "期望日期不能早于今天"
    name = (data.beneficiary_name or "").strip()
    phone = re.sub(r"[\s-]", "", data.beneficiary_phone or "")
    address = (data.beneficiary_address or "").strip()
    if not name or len(name) > 50:
        errors["beneficiary_name"] = "请填写受助人姓名（仅社区和认领党员可见）"
    if not re.fullmatch(r"1[3-9]\d{9}|0\d{2,3}\d{7,8}", phone):
        errors["beneficiary_phone"] = "请填写受助人或家属的联系电话（手机或座机）"
    if not address or len(address) > 200:
        errors["beneficiary_address"] = "请填写受助人住址（仅社区和认领党员可见）"
    if data.honorific not in HONORIFIC_LABELS:
        errors["honorific"] = "请选择称呼"
    thanks = (data.thanks_story or "").strip()
    if len(thanks) > 2000:
        errors["thanks_story"] = "感谢的话不能超过 2000 字"
    if not errors:
        problem = privacy_problems([title, story, thanks], name, phone, address)
        if problem:
            errors["story"] = problem
    cleaned = {
        "title": title,
        "story": story,
        "group": data.group,
        "value": value,
        "community": data.community_id,
        "wanted_by": wanted_by,
        "beneficiary_name": name,
        "beneficiary_phone": phone,
        "beneficiary_address": address,
        "honorific": data.honorific,
        "display_name": mask_name(name, data.honorific),
        "thanks_story": thanks,
        "thanks_consent": bool(data.thanks_consent),
    }
    return cleaned, errors
