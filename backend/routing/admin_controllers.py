"""The admin's routing rules: each category's default level and duty departments (the handling matrix),
and the boundaries of streets, communities and grids (with a "which unit is this point in" check).

The routing service refuses bad input with ``RoutingError``; the app's one handler shows the page again
(``opt={FORM: …}``) with the message where it belongs; an unknown category is a 404.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from backend.errors import DomainError
from backend.i18n import gettext
from backend.organisation.tables import Unit, UnitKind
from backend.routing.service import (
    LEVEL_LABELS,
    RoutingError,
    category_matrix,
    duty_candidates,
    set_boundary,
    set_category_rule,
)
from backend.routing.web import BoundaryForm, CategoryRuleForm, Form
from backend.web.errors import FORM
from backend.web.flash import N_
from backend.web.forms import form_int
from backend.web.guards import admin_only
from backend.web.render import page


async def matrix_page(request: Request, errors: dict[int, str], status: int = 200, saved: int | None = None
                      ) -> Response:
    return page(
        request,
        "routing/admin_categories.html",
        {
            "rules": await category_matrix(),
            "duty_units": await duty_candidates(),
            "levels": LEVEL_LABELS,
            "errors": errors,
            "saved": saved,
        },
        status_code=status,
    )


async def matrix_again(request: Request, exc: DomainError) -> Response:
    """The matrix with the message on the category's row."""
    return await matrix_page(request, {request.path_params["category_id"]: exc.message}, status=exc.status)


async def boundaries_page(request: Request, form: dict, errors: dict, status: int = 200, found: Any = None
                          ) -> Response:
    units = (
        await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.code, Unit.depth, Unit.boundary)
        .where(Unit.kind.is_in([UnitKind.street.value, UnitKind.community.value, UnitKind.grid.value]))
        .order_by(Unit.path)
    )
    return page(
        request,
        "routing/admin_boundaries.html",
        {"units": units, "form": form, "errors": errors, "found": found},
        status_code=status,
    )


async def boundaries_again(request: Request, exc: DomainError) -> Response:
    typed = BoundaryForm.of(dict(await request.form()))
    return await boundaries_page(request, {"unit": typed.unit, "boundary": typed.boundary},
                                 exc.field_errors("boundary"), status=exc.status)


class RoutingAdminController(Controller):
    path = "/admin"
    guards = [admin_only]

    @get("/categories")
    async def categories(self, request: Request) -> Response:
        saved = form_int(request.query_params.get("saved"))
        return await matrix_page(request, {}, saved=saved)

    @post("/categories/{category_id:int}", opt={FORM: matrix_again})
    async def save_category(self, request: Request, category_id: int, data: Form) -> Response:
        form = CategoryRuleForm.of(data)
        if form.duties is None:
            raise RoutingError(N_("责任单位只能选择职能部门或其科室"), "duties")
        await set_category_rule(category_id, form.level, form.duties)
        return Redirect(f"/admin/categories?saved={category_id}#cat-{category_id}", status_code=303)

    @get("/boundaries")
    async def boundaries(self, request: Request) -> Response:
        from backend.routing.geo import locate

        p = request.query_params
        found: Any = None
        errors: dict[str, str] = {}
        form: dict[str, Any] = {"lon": p.get("lon", ""), "lat": p.get("lat", "")}
        if p.get("lon") or p.get("lat"):
            try:
                lon, lat = float(str(p.get("lon"))), float(str(p.get("lat")))
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ValueError
            except (TypeError, ValueError):
                errors["point"] = gettext(N_("请输入有效的经度和纬度"))
            else:
                j = await locate(lon, lat)
                if j is None:
                    found = False
                else:
                    names = {
                        r["id"]: r["name"]
                        for r in await Unit.select(Unit.id, Unit.name).where(
                            Unit.id.is_in([u for u in (j.grid_id, j.community_id, j.street_id) if u])
                        )
                    }
                    found = {
                        "grid": names.get(j.grid_id or 0, ""),
                        "community": names.get(j.community_id, ""),
                        "street": names.get(j.street_id, ""),
                    }
        return await boundaries_page(request, form, errors, status=400 if errors else 200, found=found)

    @post("/boundaries", opt={FORM: boundaries_again})
    async def save_boundary(self, request: Request, data: Form) -> Response:
        form = BoundaryForm.of(data)
        if form.unit is None:
            raise RoutingError(N_("请选择单位"), "unit")
        await set_boundary(form.unit, form.boundary)
        return Redirect("/admin/boundaries?saved=1", status_code=303)
