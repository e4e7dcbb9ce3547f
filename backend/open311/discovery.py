"""GET discovery, services and service definitions (a category's extra questions).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.db import utcnow
from backend.i18n import gettext as _
from backend.open311.formats import w3c
from backend.open311.spec import SPEC, ApiError
from backend.routing import attributes as category_attributes
from backend.routing.tables import Category


def discovery(base_url: str) -> dict[str, Any]:
    return {
        "changeset": w3c(datetime(2026, 12, 1, tzinfo=utcnow().tzinfo)),
        "contact": _("迎泽区指挥中心"),
        "key_service": _("API key 由系统管理员发放（/admin/open311）"),
        "endpoints": [{
            "specification": SPEC,
            "url": base_url.rstrip("/") + "/open311/v2",
            "changeset": w3c(datetime(2026, 12, 1, tzinfo=utcnow().tzinfo)),
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }


async def services() -> list[dict[str, Any]]:
    cats = await Category.select().where(Category.active == True).order_by(Category.sort, Category.id)
    with_attrs = await category_attributes.for_categories([c["id"] for c in cats])
    return [{
        "service_code": c["code"],
        "service_name": _(c["name"]),
        "description": _(c["name"]),
        "metadata": bool(with_attrs.get(c["id"])),
        "type": "realtime",
        "keywords": c["code"],
        "group": _("城市管理"),
    } for c in cats]


async def category_by_code(code: str) -> dict[str, Any]:
    row = await Category.select().where((Category.code == code) & (Category.active == True)).first()
    if row is None:
        raise ApiError.one(404, "service_code", _("未知的 service_code：{code}").format(code=code[:60]))
    return row


async def definition(code: str) -> dict[str, Any]:
    cat = await category_by_code(code)
    attrs = await category_attributes.for_category(cat["id"])
    return {
        "service_code": cat["code"],
        "attributes": [{
            "variable": a["variable"],
            "code": a["code"],
            "datatype": a["datatype"],
            "required": a["required"],
            "datatype_description": a["datatype_description"] or None,
            "order": a["order"],
            "description": a["description"],
            "values": [{"key": v.get("key"), "name": v.get("name")} for v in a["values"] or []],
        } for a in attrs],
    }
