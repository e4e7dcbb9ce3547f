"""Admin pages for Open311 API clients: create (the key shown once), enable/disable, new key, recent calls."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from backend.i18n import gettext as _
from backend.open311 import service
from backend.open311.tables import ApiCall, ApiClient
from backend.routing.tables import Category
from backend.web.flash import N_, flash
from backend.web.guards import admin_only
from backend.web.render import page

FORM_FIELDS = ("name", "contact", "rate_limit", "acts_as", "returns_token")


async def _context(form: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
                   new_key: str = "", new_name: str = "") -> dict[str, Any]:
    clients = await ApiClient.select(
        ApiClient.id, ApiClient.name, ApiClient.contact, ApiClient.key_prefix, ApiClient.enabled,
        ApiClient.allowed_services, ApiClient.rate_limit, ApiClient.returns_token, ApiClient.acts_as.username,
        ApiClient.created_at, ApiClient.last_used_at).order_by(ApiClient.id).output(load_json=True)
    calls = await ApiCall.select(ApiCall.method, ApiCall.path, ApiCall.status, ApiCall.ms, ApiCall.created_at,
                                 ApiCall.client.name).order_by(ApiCall.id, ascending=False).limit(30)
    categories = await Category.select(Category.code, Category.name).where(Category.active == True).order_by(
        Category.sort, Category.id)
    return {"clients": clients, "calls": calls, "categories": categories, "errors": errors or {},
            "form": form or {"rate_limit": "60", "services": []}, "new_key": new_key, "new_name": new_name,
            "edit_forms": {}}


def _read(raw: Any) -> tuple[dict[str, Any], service.NewClient]:
    form: dict[str, Any] = {k: str(raw.get(k) or "").strip()[:200] for k in FORM_FIELDS}
    form["services"] = [s for s in raw.getall("services", []) if isinstance(s, str)][:100]
    rate = form["rate_limit"]
    return form, service.NewClient(
        name=form["name"], contact=form["contact"], allowed_services=form["services"],
        rate_limit=int(rate) if rate.isascii() and rate.isdigit() and len(rate) < 7 else 0,
        returns_token=form["returns_token"] == "1", acts_as_username=form["acts_as"])


class Open311AdminController(Controller):
    path = "/admin/open311"
    guards = [admin_only]

    @get("/")
    async def index(self, request: Request) -> Response:
        return page(request, "open311/admin.html", await _context())

    @post("/")
    async def create(self, request: Request) -> Response:
        form, data = _read(await request.form())
        client, key, errors = await service.create_client(data)
        if client is None:
            return page(request, "open311/admin.html", await _context(form, errors), status_code=400)
        # The key is shown on this one answer and never again (only its hash is stored).
        return page(request, "open311/admin.html", await _context(new_key=key, new_name=client.name))

    @post("/{client_id:int}")
    async def edit(self, request: Request, client_id: int) -> Response:
        form, data = _read(await request.form())
        errors = await service.update_client(client_id, data) if client_id < 2**31 else None
        if errors is None:
            raise NotFoundException(_("客户端不存在"))
        if errors:
            ctx = await _context(errors={f"{client_id}-{k}": v for k, v in errors.items()})
            ctx["edit_forms"] = {client_id: form}
            return page(request, "open311/admin.html", ctx, status_code=400)
        flash(request, N_("已保存"))
        return Redirect("/admin/open311", status_code=303)

    @post("/{client_id:int}/enabled")
    async def toggle(self, request: Request, client_id: int) -> Response:
        raw = await request.form()
        if client_id >= 2**31 or not await service.set_enabled(client_id, str(raw.get("enabled")) == "1"):
            raise NotFoundException(_("客户端不存在"))
        flash(request, N_("已启用") if str(raw.get("enabled")) == "1" else N_("已停用"))
        return Redirect("/admin/open311", status_code=303)

    @post("/{client_id:int}/rotate")
    async def rotate(self, request: Request, client_id: int) -> Response:
        key = await service.rotate_key(client_id) if client_id < 2**31 else None
        if key is None:
            raise NotFoundException(_("客户端不存在"))
        row = await ApiClient.select(ApiClient.name).where(ApiClient.id == client_id).first()
        return page(request, "open311/admin.html", await _context(new_key=key, new_name=(row or {}).get("name", "")))
