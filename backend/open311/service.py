"""Open311 GeoReport v2 on our requests: keys, services, definitions, requests, tokens, updates.

Every write goes through backend/requests/service.py (submit, transition): an API request is one more door,
not a second write path. No Litestar imports: the controllers turn ApiError into the spec's error format.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from backend.accounts.service import PHONE_RE, Viewer, load_viewer
from backend.accounts.tables import Account
from backend.db import utcnow, write_transaction
from backend.errors import DomainError
from backend.i18n import gettext as _
from backend.media.tables import Photo
from backend.open311.formats import w3c
from backend.open311.tables import ApiCall, ApiClient, ApiRequest, ApiUpdate
from backend.organisation.tables import Unit, UnitKind
from backend.redis import hit
from backend.requests import service as requests
from backend.requests.reporting import resident_account_for
from backend.requests.tables import OPEN_STATUSES, Event, Kind, Request, Source, Status
from backend.routing import attributes as category_attributes
from backend.routing import geo
from backend.routing.tables import Category

SPEC = "http://wiki.open311.org/GeoReport_v2"
MAX_WINDOW = timedelta(days=90)
MAX_PAGE_SIZE = 1000  # the spec's customary cap: 90 days or 1000 requests, whichever is smaller
MAX_DESCRIPTION = 4000  # the spec's limit; ours is stricter (requests.service.MAX_DESCRIPTION)
CLOSED_STATUSES = (Status.resolved.value, Status.closed.value)
# Our status → (GeoReport status, FixMyStreet's extended status)
STATUS_MAP = {
    Status.submitted.value: ("open", "open"),
    Status.assigned.value: ("open", "open"),
    Status.accepted.value: ("open", "in_progress"),
    Status.returned.value: ("open", "internal_referral"),
    Status.resolved.value: ("closed", "fixed"),
    Status.closed.value: ("closed", "closed"),
}
# FixMyStreet's update statuses a back office may send, and what each does here (actions of the transition service).
UPDATE_STATUSES = {
    "open": "progress",
    "investigating": "progress",
    "in_progress": "progress",
    "action_scheduled": "progress",
    "planned": "progress",
    "for_triage": "progress",
    "fixed": "resolve",
    "closed": "resolve",
    "no_further_action": "resolve",
    "duplicate": "resolve",
    "unable_to_fix": "resolve",
    "not_councils_responsibility": "return",
    "internal_referral": "return",
}
KEY_PREFIX_LEN = 12


class ApiError(DomainError):
    """The spec's errors: 404 unknown, 403 key, 400 otherwise (429 when over the rate limit)."""

    def __init__(self, status: int, errors: list[tuple[str, str]]) -> None:
        super().__init__(errors[0][1] if errors else "", status=status)
        self.errors = errors  # (code, description): the spec's answer, all at once

    @classmethod
    def one(cls, status: int, code: str, description: str) -> ApiError:
        return cls(status, [(code, description)])


# ---------------------------------------------------------------- clients and keys


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class NewClient:
    name: str
    contact: str = ""
    allowed_services: list[str] | None = None
    rate_limit: int = 60
    returns_token: bool = False
    acts_as_username: str = ""


async def _checked(data: NewClient) -> tuple[dict[Any, Any], dict[str, str]]:
    """The client's settings as columns, or the errors by field."""
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name or len(name) > 80:
        errors["name"] = _("请填写客户端名称（不超过 80 字）")
    if len(data.contact) > 120:
        errors["contact"] = _("联系方式不超过 120 字")
    if not (1 <= data.rate_limit <= 10000):
        errors["rate_limit"] = _("每分钟调用上限应为 1 到 10000")
    codes = [c for c in dict.fromkeys(data.allowed_services or []) if c]
    if codes:
        known = {r["code"] for r in await Category.select(Category.code).where(Category.code.is_in(codes))}
        unknown = [c for c in codes if c not in known]
        if unknown:
            errors["allowed_services"] = _("未知的类别代码：{codes}").format(codes=", ".join(unknown)[:100])
    acts_as = None
    if data.acts_as_username.strip():
        viewer_row = await Account.select(Account.id).where(
            (Account.username == data.acts_as_username.strip()) & (Account.kind == "staff")
            & (Account.active == True)).first()
        if viewer_row is None:
            errors["acts_as"] = _("找不到该工作人员账号")
        else:
            acts_as = viewer_row["id"]
    values = {ApiClient.name: name, ApiClient.contact: data.contact.strip(), ApiClient.allowed_services: codes,
              ApiClient.rate_limit: data.rate_limit, ApiClient.returns_token: data.returns_token,
              ApiClient.acts_as: acts_as}
    return values, errors


async def create_client(data: NewClient) -> tuple[ApiClient | None, str, dict[str, str]]:
    """A new client and its key (the only time the key exists in clear). Returns (client, key, errors)."""
    values, errors = await _checked(data)
    if errors:
        return None, "", errors
    key = "o311_" + secrets.token_urlsafe(32)
    client = ApiClient(key_prefix=key[:KEY_PREFIX_LEN], key_hash=_hash(key), enabled=True,
                       **{column._meta.name: value for column, value in values.items()})
    await client.save()
    return client, key, {}


async def update_client(client_id: int, data: NewClient) -> dict[str, str] | None:
    """Change a client's settings (not its key); the errors by field, or None when there is no such client."""
    values, errors = await _checked(data)
    if errors:
        return errors
    done = await ApiClient.update(values).where(ApiClient.id == client_id).returning(ApiClient.id)
    return {} if done else None


async def set_enabled(client_id: int, enabled: bool) -> bool:
    done = await ApiClient.update({ApiClient.enabled: enabled}).where(ApiClient.id == client_id).returning(
        ApiClient.id)
    return bool(done)


async def rotate_key(client_id: int) -> str | None:
    """A new key for the client (the old one stops working at once); None when there is no such client."""
    key = "o311_" + secrets.token_urlsafe(32)
    done = await ApiClient.update({ApiClient.key_prefix: key[:KEY_PREFIX_LEN], ApiClient.key_hash: _hash(key)}).where(
        ApiClient.id == client_id).returning(ApiClient.id)
    return key if done else None


async def authenticate(key: str | None, *, required: bool) -> dict[str, Any] | None:
    """The enabled client owning ``key``. A wrong key is always refused; no key only where one is required."""
    if not key:
        if required:
            raise ApiError.one(403, "api_key", _("缺少 api_key"))
        return None
    row = await ApiClient.select().where(ApiClient.key_prefix == key[:KEY_PREFIX_LEN]).output(
        load_json=True).first() if len(key) > KEY_PREFIX_LEN else None
    if row is None or not hmac.compare_digest(row["key_hash"], _hash(key)):
        raise ApiError.one(403, "api_key", _("api_key 无效"))
    if not row["enabled"]:
        raise ApiError.one(403, "api_key", _("该 api_key 已停用"))
    return row


async def check_rate(client: dict[str, Any] | None, remote: str) -> None:
    """Per client (its own limit per minute), or per address for calls without a key; shared in Redis."""
    if client is not None:
        count, _ttl = await hit(f"qg:o311:rate:client:{client['id']}", 60)
        limit = client["rate_limit"]
    else:
        count, _ttl = await hit(f"qg:o311:rate:ip:{remote}", 60)
        limit = 120
    if count > limit:
        raise ApiError.one(429, "rate_limit", _("调用过于频繁，每分钟最多 {n} 次").format(n=limit))


async def log_call(client_id: int | None, method: str, path: str, status: int, ms: int) -> None:
    await ApiCall(client=client_id, method=method, path=path[:200], status=status, ms=ms).save()
    if client_id is not None:
        await ApiClient.update({ApiClient.last_used_at: utcnow()}).where(ApiClient.id == client_id)


# ---------------------------------------------------------------- discovery, services, definitions


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


async def _category(code: str) -> dict[str, Any]:
    row = await Category.select().where((Category.code == code) & (Category.active == True)).first()
    if row is None:
        raise ApiError.one(404, "service_code", _("未知的 service_code：{code}").format(code=code[:60]))
    return row


async def definition(code: str) -> dict[str, Any]:
    cat = await _category(code)
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


# ---------------------------------------------------------------- POST requests


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
    cat = await _category(code)
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


# ---------------------------------------------------------------- GET requests


def parse_w3c(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ApiError.one(400, name, _("{name} 应为带时区的 W3C 时间，例如 2026-12-01T00:00:00Z").format(name=name))
    return parsed


def window(start: str, end: str) -> tuple[datetime, datetime]:
    """The spec's window: at most 90 days; the most recent 90 days when neither end is given."""
    errors = []
    s = e = None
    for value, name in ((start, "start_date"), (end, "end_date")):
        if value:
            try:
                parsed = parse_w3c(value, name)
            except ApiError as exc:
                errors += exc.errors
                continue
            if name == "start_date":
                s = parsed
            else:
                e = parsed
    if errors:
        raise ApiError(400, errors)
    if s is None and e is None:
        e = utcnow()
    if s is None:
        s = e - MAX_WINDOW
    if e is None:
        e = s + MAX_WINDOW
    if e < s:
        raise ApiError.one(400, "end_date", _("end_date 早于 start_date"))
    if e - s > MAX_WINDOW:
        raise ApiError.one(400, "end_date", _("start_date 与 end_date 相隔不能超过 90 天"))
    return s, e


def _public() -> Any:
    """Only what the public pages show: public requests, never withdrawn ones."""
    return (Request.is_public == True) & (Request.status != Status.withdrawn.value)


def _int_param(value: str, name: str, default: int, high: int) -> int:
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or not (1 <= int(value) <= high):
        raise ApiError.one(400, name, _("{name} 应为 1 到 {high} 的整数").format(name=name, high=high))
    return int(value)


async def list_requests(params: dict[str, str], base_url: str, *, extensions: bool) -> list[dict[str, Any]]:
    query = Request.select(Request.id).where(_public())
    ids = [i.strip() for i in params.get("service_request_id", "").split(",") if i.strip()]
    page = _int_param(params.get("page", ""), "page", 1, 100000)
    page_size = _int_param(params.get("page_size", ""), "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    if ids:  # "This overrides all other arguments."
        query = query.where(Request.code.is_in([i[:20] for i in ids[:MAX_PAGE_SIZE]]))
    else:
        start, end = window(params.get("start_date", ""), params.get("end_date", ""))
        query = query.where((Request.created_at >= start) & (Request.created_at <= end))
        codes = [c.strip() for c in params.get("service_code", "").split(",") if c.strip()]
        if codes:
            query = query.where(Request.category.code.is_in(codes))
        statuses = [s.strip().lower() for s in params.get("status", "").split(",") if s.strip()]
        bad = [s for s in statuses if s not in ("open", "closed")]
        if bad:
            raise ApiError.one(400, "status", _("status 只能是 open 或 closed"))
        if statuses and set(statuses) != {"open", "closed"}:
            wanted = [s.value for s in OPEN_STATUSES] if statuses[0] == "open" else list(CLOSED_STATUSES)
            query = query.where(Request.status.is_in(wanted))
    rows = await query.order_by(Request.created_at, ascending=False).limit(page_size).offset((page - 1) * page_size)
    return await _represent([r["id"] for r in rows], base_url, extensions=extensions)


async def one_request(code: str, base_url: str, *, extensions: bool) -> list[dict[str, Any]]:
    row = await Request.select(Request.id).where(_public() & (Request.code == code[:20])).first()
    if row is None:  # private and withdrawn requests do not exist for the API
        raise ApiError.one(404, "service_request_id", _("未找到该诉求：{code}").format(code=code[:30]))
    return await _represent([row["id"]], base_url, extensions=extensions)


async def _photos(request_ids: list[int], base_url: str) -> dict[int, list[dict[str, Any]]]:
    """Public copies only (display size, metadata removed), of public events."""
    rows = await Photo.select(Photo.id, Photo.request, Photo.created_at, Photo.event.is_public).where(
        Photo.request.is_in(request_ids)).order_by(Photo.id)
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        if r["event.is_public"] is False:
            continue
        out.setdefault(r["request"], []).append({
            "url": f"{base_url.rstrip('/')}/media/{r['id']}/display", "media_type": "image/jpeg",
            "created_at": w3c(r["created_at"])})
    return out


async def _represent(request_ids: list[int], base_url: str, *, extensions: bool) -> list[dict[str, Any]]:
    if not request_ids:
        return []
    rows = await Request.select(
        Request.id, Request.code, Request.status, Request.description, Request.created_at, Request.updated_at,
        Request.lat, Request.lon, Request.answer, Request.source, Request.kind, Request.category.code,
        Request.category.name, Request.current_unit.name, Request.community.name, Request.community.code,
        Request.street.name,
    ).where(Request.id.is_in(request_ids))
    by_id = {r["id"]: r for r in rows}
    photos = await _photos(request_ids, base_url)
    notes = await _notes(request_ids) if extensions else {}
    last_note = await _last_notes(request_ids)
    out = []
    for rid in request_ids:
        r = by_id[rid]
        status, extended = STATUS_MAP.get(r["status"], ("open", "open"))
        item: dict[str, Any] = {
            "service_request_id": r["code"],
            "status": status,
            "status_notes": r["answer"] or last_note.get(rid) or None,
            "service_name": _(r["category.name"]),
            "service_code": r["category.code"],
            "description": r["description"],
            "agency_responsible": r["current_unit.name"],
            "service_notice": None,
            "requested_datetime": w3c(r["created_at"]),
            "updated_datetime": w3c(r["updated_at"]),
            "expected_datetime": None,
            # Never the resident's own address: the street and community, as the public pages show.
            "address": " ".join(x for x in (r["community.name"], r["street.name"]) if x),
            "address_id": r["community.code"],
            "zipcode": None,
            # Rounded to about 100 m, like the public map: a place, not a doorstep.
            "lat": round(r["lat"], 3) if r["lat"] is not None else None,
            "long": round(r["lon"], 3) if r["lon"] is not None else None,
            "media_url": photos[rid][0]["url"] if photos.get(rid) else None,
        }
        if extensions:
            item["extended_attributes"] = {
                "channel": r["source"], "kind": r["kind"], "extended_status": extended,
                "photos": photos.get(rid, []), "notes": notes.get(rid, []),
            }
        out.append(item)
    return out


async def _public_events(request_ids: list[int]) -> list[dict[str, Any]]:
    return await Event.select(Event.id, Event.request, Event.action, Event.to_status, Event.note,
                              Event.created_at).where(
        Event.request.is_in(request_ids) & (Event.is_public == True)).order_by(Event.id)


async def _notes(request_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for ev in await _public_events(request_ids):
        out.setdefault(ev["request"], []).append({
            "datetime": w3c(ev["created_at"]), "type": ev["action"],
            "summary": _(requests.ACTION_LABELS.get(ev["action"], ev["action"])),
            "description": ev["note"] or None,
            "status": STATUS_MAP.get(ev["to_status"], ("open", "open"))[1],
        })
    return out


async def _last_notes(request_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for ev in await _public_events(request_ids):
        if ev["note"] and ev["action"] != "comment":
            out[ev["request"]] = ev["note"]
    return out


# ---------------------------------------------------------------- servicerequestupdates (FixMyStreet)


async def list_updates(params: dict[str, str], base_url: str) -> list[dict[str, Any]]:
    """Public events of public requests since start_date (within the 90-day window), oldest first."""
    start, end = window(params.get("start_date", ""), params.get("end_date", ""))
    rows = await Event.select(
        Event.id, Event.request, Event.request.code, Event.action, Event.to_status, Event.note, Event.created_at,
    ).where(
        (Event.created_at >= start) & (Event.created_at <= end) & (Event.is_public == True)
        & (Event.request.is_public == True) & (Event.request.status != Status.withdrawn.value)
        & (Event.action != "submit")
    ).order_by(Event.id).limit(MAX_PAGE_SIZE)
    media = await Photo.select(Photo.id, Photo.event).where(Photo.event.is_in([r["id"] for r in rows])) if rows else []
    first_photo: dict[int, int] = {}
    for m in media:
        first_photo.setdefault(m["event"], m["id"])
    return [{
        "update_id": str(r["id"]),
        "service_request_id": r["request.code"],
        "status": STATUS_MAP.get(r["to_status"], ("open", "open"))[1],
        "updated_datetime": w3c(r["created_at"]),
        "description": r["note"] or _(requests.ACTION_LABELS.get(r["action"], r["action"])),
        "media_url": f"{base_url.rstrip('/')}/media/{first_photo[r['id']]}/display" if r["id"] in first_photo
        else None,
    } for r in rows]


async def post_update(client: dict[str, Any], form: dict[str, str]) -> list[dict[str, Any]]:
    """A back office's update moves the request through the transition service, as the client's staff account.

    ``update_id`` makes it idempotent: the same id again answers with the first result and changes nothing.
    """
    errors: list[tuple[str, str]] = []
    update_id = form.get("update_id", "").strip()
    code = form.get("service_request_id", "").strip()
    status = form.get("status", "").strip().lower()
    description = form.get("description", "").strip()
    for name, value in (("update_id", update_id), ("service_request_id", code), ("status", status)):
        if not value:
            errors.append((name, _("缺少 {name}").format(name=name)))
    if len(update_id) > 100:
        errors.append(("update_id", _("update_id 不能超过 100 个字符")))
    if status and status not in UPDATE_STATUSES:
        errors.append(("status", _("未知的 status：{status}").format(status=status[:40])))
    if len(description) > requests.MAX_NOTE:
        errors.append(("description", _("description 不能超过 {n} 字").format(n=requests.MAX_NOTE)))
    if form.get("updated_datetime"):
        try:
            parse_w3c(form["updated_datetime"], "updated_datetime")
        except ApiError as exc:
            errors += exc.errors
    if errors:
        raise ApiError(400, errors)
    if client["acts_as"] is None:
        raise ApiError.one(403, "api_key", _("该客户端未绑定工作人员账号，不能提交办理更新"))
    req = await Request.select(Request.id, Request.status, Request.kind, Request.category.code).where(
        Request.code == code[:20]).first()
    if req is None:
        raise ApiError.one(404, "service_request_id", _("未找到该诉求：{code}").format(code=code[:30]))
    if client["allowed_services"] and req["category.code"] not in client["allowed_services"]:
        raise ApiError.one(403, "service_code", _("该客户端无权提交此类别：{code}").format(code=req["category.code"]))
    previous = await ApiUpdate.select(ApiUpdate.id, ApiUpdate.event).where(
        (ApiUpdate.client == client["id"]) & (ApiUpdate.update_id == update_id)).first()
    if previous is not None:
        return [{"update_id": str(previous["event"] or previous["id"])}]
    actor = await load_viewer(client["acts_as"])
    if actor is None or not actor.is_staff:
        raise ApiError.one(403, "api_key", _("该客户端绑定的工作人员账号不可用"))
    action = UPDATE_STATUSES[status]
    note = description or _("状态更新：{status}").format(status=status)
    try:
        async with write_transaction():  # the update record and the transitions commit together, or nothing
            last = await _apply(req, action, actor, note)
            await ApiUpdate(client=client["id"], update_id=update_id, request=req["id"], event=last,
                            status=status, description=description).save()
    except requests.RequestError as exc:
        http = 403 if exc.status == 403 else 400
        raise ApiError.one(http, "status", exc.message) from exc
    except Exception as exc:  # the same update_id raced in: answer as for a repeat
        if "unique" not in str(exc).lower() and "duplicate" not in str(exc).lower():
            raise
        again = await ApiUpdate.select(ApiUpdate.event).where(
            (ApiUpdate.client == client["id"]) & (ApiUpdate.update_id == update_id)).first()
        return [{"update_id": str((again or {}).get("event") or "")}]
    return [{"update_id": str(last)}]


async def _apply(req: dict[str, Any], action: str, actor: Viewer, note: str) -> int:
    """Run the transitions the status asks for; an assigned request is accepted first, as a person would."""
    status = req["status"]
    version: int | None = None
    event = 0
    if action in ("resolve", "progress") and status == Status.assigned.value:
        result = await requests.transition(req["id"], "accept", actor, None)
        status, version, event = result.to_status, result.version, result.event_id
        if action == "progress":  # accepting was the news; the description goes with it as progress
            result = await requests.transition(req["id"], "progress", actor, version, note=note)
            return result.event_id
    if action == "resolve" and req["kind"] == Kind.consultation.value:
        action = "answer"
    result = await requests.transition(req["id"], action, actor, version, note=note)
    return result.event_id or event
