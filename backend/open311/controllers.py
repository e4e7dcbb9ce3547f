"""/open311/v2/: GeoReport v2 endpoints, each as .json and .xml, plus FixMyStreet's servicerequestupdates.

Authenticated by ``api_key`` (not cookies), so the path is exempt from CSRF (backend/app.py). Every call is
logged with its client; every failure answers in the spec's error format, never an HTML page.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Controller, Request, Response, get, post

from backend.i18n import gettext as _
from backend.open311 import service
from backend.open311.formats import MEDIA_TYPES, render
from backend.open311.spec import ApiError

Call = Callable[[dict[str, Any] | None], Awaitable[tuple[str, str | None, Any]]]  # → (root, item tag, data)


def _split(name: str) -> tuple[str, str]:
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in MEDIA_TYPES:
        raise ApiError.one(404, "format", _("请在地址末尾加上 .json 或 .xml"))
    return stem, fmt


def _fmt_of(name: str) -> str:
    return "xml" if name.endswith(".xml") else "json"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def _form(request: Request) -> tuple[dict[str, str], list[tuple[str, str]]]:
    form = await request.form()
    items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return {k: v.strip()[:5000] for k, v in reversed(items)}, items


async def _answer(request: Request, fmt: str, call: Call, *, key_required: bool,
                  form: dict[str, str] | None = None) -> Response:
    started = time.monotonic()
    client: dict[str, Any] | None = None
    try:
        key = (form or {}).get("api_key") or request.query_params.get("api_key")
        client = await service.authenticate(key, required=key_required)
        remote = request.client.host if request.client else "-"
        await service.check_rate(client, remote)
        root, item, data = await call(client)
        status, body = 200, render(fmt, root, item, data)
    except ApiError as exc:
        status = exc.status
        # The spec's error: the HTTP status as the code; the description names the field at fault.
        errors = [{"code": exc.status, "description": f"{field}: {text}"} for field, text in exc.errors]
        body = render(fmt, "errors", "error", errors)
    ms = int((time.monotonic() - started) * 1000)
    await service.log_call(client["id"] if client else None, request.method, request.url.path, status, ms)
    return Response(content=body, status_code=status, media_type=MEDIA_TYPES[fmt],
                    headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"})


class Open311Controller(Controller):
    path = "/open311/v2"
    include_in_schema = False

    @get("/{resource:str}")
    async def collection(self, request: Request, resource: str) -> Response:
        async def call(_client: dict[str, Any] | None) -> tuple[str, str | None, Any]:
            stem, _fmt = _split(resource)
            params = {k: v for k, v in request.query_params.items() if isinstance(v, str)}
            extensions = params.get("extensions", "").lower() == "true"
            if stem == "discovery":
                return "discovery", None, service.discovery(_base(request))
            if stem == "services":
                return "services", "service", await service.services()
            if stem == "requests":
                return "service_requests", "request", await service.list_requests(params, _base(request),
                                                                                   extensions=extensions)
            if stem == "servicerequestupdates":
                return "service_requests_updates", "request_update", await service.list_updates(
                    params, _base(request))
            raise ApiError.one(404, "resource", _("没有这个接口：{name}").format(name=stem[:40]))

        return await _answer(request, _fmt_of(resource), call, key_required=False)

    @post("/{resource:str}")
    async def create(self, request: Request, resource: str) -> Response:
        form, items = await _form(request)

        async def call(client: dict[str, Any] | None) -> tuple[str, str | None, Any]:
            stem, _fmt = _split(resource)
            assert client is not None  # key_required
            if stem == "requests":
                return "service_requests", "request", await service.post_request(
                    client, form, service.attribute_fields(items))
            if stem == "servicerequestupdates":
                return "service_request_updates", "request_update", await service.post_update(client, form)
            raise ApiError.one(404, "resource", _("没有这个接口：{name}").format(name=stem[:40]))

        return await _answer(request, _fmt_of(resource), call, key_required=True, form=form)

    @get("/services/{name:str}")
    async def service_definition(self, request: Request, name: str) -> Response:
        async def call(_client: dict[str, Any] | None) -> tuple[str, str | None, Any]:
            code, _fmt = _split(name)
            return "service_definition", None, await service.definition(code)

        return await _answer(request, _fmt_of(name), call, key_required=False)

    @get("/requests/{name:str}")
    async def one_request(self, request: Request, name: str) -> Response:
        async def call(_client: dict[str, Any] | None) -> tuple[str, str | None, Any]:
            code, _fmt = _split(name)
            extensions = str(request.query_params.get("extensions", "")).lower() == "true"
            return "service_requests", "request", await service.one_request(code, _base(request),
                                                                             extensions=extensions)

        return await _answer(request, _fmt_of(name), call, key_required=False)

    @get("/tokens/{name:str}")
    async def token(self, request: Request, name: str) -> Response:
        async def call(_client: dict[str, Any] | None) -> tuple[str, str | None, Any]:
            value, _fmt = _split(name)
            return "service_requests", "request", await service.token(value)

        return await _answer(request, _fmt_of(name), call, key_required=False)
