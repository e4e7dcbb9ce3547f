"""The demo district's extra questions: the oil-fumes category asks when and how (as FixMyStreet asks per category).

Idempotent: an attribute is found by its category and code before it is created.
"""

from __future__ import annotations

from typing import Any

from backend.routing.tables import Category, CategoryAttribute

DEMO_ATTRIBUTES: dict[str, list[dict[str, Any]]] = {
    "oil_fumes": [
        {"code": "time_of_day", "datatype": "singlevaluelist", "required": True, "order": 1,
         "description": "油烟主要在什么时段？", "description_en": "When are the fumes worst?",
         "values": [{"key": "morning", "name": "早上", "name_en": "Morning"},
                    {"key": "noon", "name": "中午", "name_en": "Noon"},
                    {"key": "evening", "name": "傍晚", "name_en": "Evening"},
                    {"key": "night", "name": "深夜", "name_en": "Late at night"}]},
        {"code": "effects", "datatype": "multivaluelist", "required": False, "order": 2,
         "description": "造成了哪些影响？（可多选）", "description_en": "What does it cause? (choose any)",
         "values": [{"key": "smell", "name": "气味", "name_en": "Smell"},
                    {"key": "smoke", "name": "烟雾进屋", "name_en": "Smoke indoors"},
                    {"key": "noise", "name": "风机噪音", "name_en": "Fan noise"},
                    {"key": "grease", "name": "油污", "name_en": "Grease"}]},
        {"code": "shop_name", "datatype": "string", "required": False, "order": 3,
         "description": "店铺名称（如知道）", "description_en": "Name of the shop (if known)"},
    ],
}


async def load_demo_attributes() -> int:
    added = 0
    for code, attrs in DEMO_ATTRIBUTES.items():
        cat = await Category.select(Category.id).where(Category.code == code).first()
        if cat is None:
            continue
        for a in attrs:
            if await CategoryAttribute.exists().where(
                    (CategoryAttribute.category == cat["id"]) & (CategoryAttribute.code == a["code"])):
                continue
            await CategoryAttribute(category=cat["id"], **a).save()
            added += 1
    return added
