"""POST requests and GET tokens: a request from another system, through the same submit() as the report form.
"""

from __future__ import annotations

import secrets
from typing import Any

from backend.accounts.service import PHONE_RE, Viewer, load_viewer
from backend.i18n import gettext as _
from backend.open311.discovery import category_by_code
from backend.open311.spec import ApiError
from backend.open311.tables import ApiRequest
from backend.organisation.tables import Unit, UnitKind
from backend.requests import service as requests
from backend.requests.reporting import resident_account_for
from backend.requests.tables import Kind, Source
from backend.routing import attributes as category_attributes
from backend.routing import geo


def attribute_fields(items: list[tuple[str, str]]) -> dict[str, list[str]]:
    """``attribute[CODE]=v`` and ``attribute[CODE][]=v1&attribute[CODE][]=v2`` → {CODE: [values]}."""
    out: dict[str, list[str]] = {}
    for name, value in items:
        if not name.startswith("attribute[") or not isinstance(value, str):
            continue
        code = name[len("attribute["):]
        code = code[:-3] if code.endswith("][]") else code[:-1] if code.endswith("]") else ""
        if code:
            out.setdefault(code, []).append(value)
    return out


async def _place(form: dict[str, str], errors: list[tuple[str, str]]) -> tuple[int | None, int | None,
                                                                              float | None, float | None]:
    """(community, grid, lat, lon) from lat+long, else address_id (a unit code), else a community named in
    address_string."""
    lat_s, lon_s = form.get("lat", ""), form.get("long", "")
    if lat_s or lon_s:
        try:
            lat, lon = float(lat_s), float(lon_s)
        except ValueError:
            errors.append(("lat", _("lat 和 long 必须同时提供，且为数字")))
            return None, None, None, None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            errors.append(("lat", _("lat/long 超出范围")))
            return None, None, None, None
        where = await geo.locate(lon, lat)
        if where is None:
            errors.append(("lat", _("该位置不在本区范围内")))
            return None, None, None, None
        return where.community_id, where.grid_id, lat, lon
    address_id = form.get("address_id", "")
    if address_id:
        unit = await Unit.select(Unit.id, Unit.kind, Unit.parent).where(
            (Unit.code == address_id[:40]) & (Unit.active == True)).first()
        if unit is None or unit["kind"] not in (UnitKind.community.value, UnitKind.grid.value):
            errors.append(("address_id", _("未知的 address_id（应为社区或网格代码）")))
            return None, None, None, None
        if unit["kind"] == UnitKind.grid.value:
            return unit["parent"], unit["id"], None, None
        return unit["id"], None, None, None
    address = form.get("address_string", "")
    if address:
        communities = await Unit.select(Unit.id, Unit.name).where(
            (Unit.kind == UnitKind.community.value) & (Unit.active == True))
        for c in sorted(communities, key=lambda c: -len(c["name"])):
            if c["name"] and c["name"] in address:
                return c["id"], None, None, None
        errors.append(("address_string", _("无法从 address_string 确定所在社区，请提供 lat/long 或 address_id")))
        return None, None, None, None
    errors.append(("location", _("缺少位置：请提供 lat 和 long、address_string 或 address_id")))
    return None, None, None, None


async def post_request(client: dict[str, Any], form: dict[str, str], attrs: dict[str, list[str]]) -> list[dict]:
    """Validate everything (all errors at once), then submit through the one request service."""
    errors: list[tuple[str, str]] = []
    code = form.get("service_code", "").strip()
    if not code:
        raise ApiError.one(400, "service_code", _("缺少 service_code"))
    cat = await category_by_code(code)
    if client["allowed_services"] and code not in client["allowed_services"]:
        raise ApiError.one(403, "service_code", _("该客户端无权提交此类别：{code}").format(code=code))
    community_id, grid_id, lat, lon = await _place(form, errors)
    description = form.get("description", "").strip()
    if not description:
        errors.append(("description", _("缺少 description")))
    elif len(description) > requests.MAX_DESCRIPTION:
        errors.append(("description", _("description 不能超过 {n} 字").format(n=requests.MAX_DESCRIPTION)))
    answers, attr_errors = category_attributes.validate(await category_attributes.for_category(cat["id"]), attrs)
    errors += [(f"attribute[{c}]", m) for c, m in attr_errors.items()]
    phone = form.get("phone", "").replace(" ", "").replace("-", "")
    for name, limit in (("email", 200), ("device_id", 100), ("account_id", 100), ("media_url", 500),
                        ("address_string", 200), ("first_name", 25), ("last_name", 25), ("phone", 20)):
        if len(form.get(name, "")) > limit:
            errors.append((name, _("{name} 不能超过 {n} 个字符").format(name=name, n=limit)))
    media_url = form.get("media_url", "")
    if media_url and not media_url.startswith(("http://", "https://")):
        errors.append(("media_url", _("media_url 应为 http(s) 地址")))
    if errors:
        raise ApiError(400, errors)
    reporter: Viewer | None = None
    if PHONE_RE.match(phone):  # a Chinese mobile number: the resident can follow and rate it in the app
        account_id = await resident_account_for(phone)
        reporter = await load_viewer(account_id) if account_id else None
    token = secrets.token_urlsafe(18)

    async def link(request_id: int, _event_id: int) -> None:  # inside submit()'s transaction
        await ApiRequest(request=request_id, client=client["id"], token=token, device_id=form.get("device_id", ""),
                         account_id=form.get("account_id", ""), email=form.get("email", ""), media_url=media_url,
                         address_id=form.get("address_id", "")).save()

    name = (form.get("last_name", "") + form.get("first_name", "")).strip()
    data = requests.NewRequest(
        kind=Kind.help.value, category_id=cat["id"], description=description, community_id=community_id,
        grid_id=grid_id, address=form.get("address_string", "")[:200], lat=lat, lon=lon, is_public=True,
        source=Source.open311.value, contact_name=name, contact_phone=phone, attributes=answers,
    )
    try:
        req, _created = await requests.submit(data, reporter, attach=link)
    except requests.RequestError as exc:
        raise ApiError.one(400, exc.field or "request", exc.message) from exc
    unit = await Unit.select(Unit.name).where(Unit.id == req.current_unit).first()
    notice = _("已交由{unit}办理，超过 24 小时未受理亮黄灯，48 小时亮红灯").format(unit=(unit or {}).get("name", ""))
    out: dict[str, Any] = {"token": token} if client["returns_token"] else {"service_request_id": req.code}
    out |= {"service_notice": notice, "account_id": form.get("account_id") or None}
    return [out]


async def token(value: str) -> list[dict[str, Any]]:
    row = await ApiRequest.select(ApiRequest.token, ApiRequest.request.code).where(
        ApiRequest.token == value[:40]).first()
    if row is None:
        raise ApiError.one(404, "token", _("未知的 token"))
    return [{"service_request_id": row["request.code"], "token": row["token"]}]
