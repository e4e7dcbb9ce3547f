"""Admin pages for the categories' extra questions (GeoReport service definitions)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from backend.i18n import gettext as _
from backend.routing import attributes
from backend.routing.tables import Category
from backend.web.guards import admin_only
from backend.web.render import page


async def _category(category_id: int) -> dict[str, Any]:
    row = await Category.select().where(Category.id == category_id).first() if category_id < 2**31 else None
    if row is None:
        raise NotFoundException(_("类别不存在"))
    return row


class CategoryAttributesController(Controller):
    path = "/admin/categories/{category_id:int}/attributes"
    guards = [admin_only]

    async def _page(self, request: Request, cat: dict[str, Any], form: dict[str, str] | None = None,
                    errors: dict[str, str] | None = None, status: int = 200) -> Response:
        ctx = {"cat": cat, "items": await attributes.for_category(cat["id"]), "types": attributes.TYPE_LABELS,
               "form": form or {"datatype": "string", "order": "1"}, "errors": errors or {}}
        return page(request, "routing/admin_attributes.html", ctx, status_code=status)

    @get("/")
    async def list_attributes(self, request: Request, category_id: int) -> Response:
        return await self._page(request, await _category(category_id))

    @post("/")
    async def add_attribute(self, request: Request, category_id: int) -> Response:
        cat = await _category(category_id)
        raw = await request.form()
        form = {k: str(raw.get(k) or "").strip()[:2000] for k in (
            "code", "datatype", "description", "description_en", "order", "datatype_description", "values",
            "required", "variable")}
        order = int(form["order"]) if form["order"].isascii() and form["order"].isdigit() and len(
            form["order"]) < 5 else 0
        errors = await attributes.add(cat["id"], attributes.NewAttribute(
            code=form["code"], datatype=form["datatype"], description=form["description"],
            required=form["required"] == "1", variable=form["variable"] != "0", order=order,
            datatype_description=form["datatype_description"], values_text=form["values"],
            description_en=form["description_en"]))
        if errors:
            return await self._page(request, cat, form, errors, status=400)
        return Redirect(f"/admin/categories/{cat['id']}/attributes", status_code=303)

    @post("/{attribute_id:int}/delete")
    async def delete_attribute(self, request: Request, category_id: int, attribute_id: int) -> Response:
        cat = await _category(category_id)
        if attribute_id >= 2**31 or not await attributes.remove(cat["id"], attribute_id):
            raise NotFoundException(_("该问题不存在"))
        return Redirect(f"/admin/categories/{cat['id']}/attributes", status_code=303)
