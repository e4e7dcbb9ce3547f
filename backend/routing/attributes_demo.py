"""The demo district's extra questions: the oil-fumes category asks when and how (as FixMyStreet asks per category).

Idempotent: an attribute is found by its category and code before it is created.
"""

from __future__ import annotations

from typing import Any

from backend.routing.tables import Category, CategoryAttribute

DEMO_ATTRIBUTES: dict[str, list[dict[str, Any]]] = {
    "oil_fumes": [
        {"code": "time_of_day", "datatype": "singlevaluelist", "required": True, "order": 1,
         "description": "油烟主要在什么时段？",
         "values": [{"key": "morning", "name": "早上"}, {"key": "noon", "name": "中午"},
                    {"key": "evening", "name": "傍晚"}, {"key": "night", "name": "深夜"}]},
        {"code": "effects", "datatype": "multivaluelist", "required": False, "order": 2,
         "description": "造成了哪些影响？（可多选）",
         "values": [{"key": "smell", "name": "气味"}, {"key": "smoke", "name": "烟雾进屋"},
                    {"key": "noise", "name": "风机噪音"}, {"key": "grease", "name": "油污"}]},
        {"code": "shop_name", "datatype": "string", "required": False, "order": 3,
         "description": "店铺名称（如知道）"},
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
