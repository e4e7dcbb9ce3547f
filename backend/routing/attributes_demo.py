"""The demo district's extra questions: the kept-animals category (pigeons on the roof) asks which, where
and how, as FixMyStreet asks per category.

Idempotent: an attribute is found by its category and code before it is created.
"""

from __future__ import annotations

from typing import Any

from backend.routing.tables import Category, CategoryAttribute

DEMO_ATTRIBUTES: dict[str, list[dict[str, Any]]] = {
    "animals": [
        {"code": "animal", "datatype": "singlevaluelist", "required": True, "order": 1,
         "description": "饲养的是什么动物？", "description_en": "Which animals are kept?",
         "values": [{"key": "pigeon", "name": "鸽子", "name_en": "Pigeons"},
                    {"key": "dog", "name": "狗", "name_en": "Dogs"},
                    {"key": "chicken", "name": "鸡", "name_en": "Chickens"},
                    {"key": "cat", "name": "猫", "name_en": "Cats"}]},
        {"code": "effects", "datatype": "multivaluelist", "required": False, "order": 2,
         "description": "造成了哪些影响？（可多选）", "description_en": "What does it cause? (choose any)",
         "values": [{"key": "smell", "name": "气味", "name_en": "Smell"},
                    {"key": "droppings", "name": "粪便污染", "name_en": "Droppings"},
                    {"key": "noise", "name": "噪音", "name_en": "Noise"},
                    {"key": "blocked", "name": "占用楼道", "name_en": "Blocks the stairwell"}]},
        {"code": "place", "datatype": "string", "required": False, "order": 3,
         "description": "饲养位置（如楼顶、楼道）", "description_en": "Where are they kept (roof, stairwell)?"},
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
