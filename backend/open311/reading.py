"""GET requests: the public view of our requests in the spec's shape (no names, phones or addresses).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.db import utcnow
from backend.i18n import gettext as _
from backend.open311.formats import w3c
from backend.open311.spec import CLOSED_STATUSES, MAX_PAGE_SIZE, MAX_WINDOW, STATUS_MAP, ApiError
from backend.requests import service as requests
from backend.requests.photos.tables import RequestPhoto
from backend.requests.tables import OPEN_STATUSES, Event, Request, Status


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
    rows = await RequestPhoto.select(
        RequestPhoto.photo.as_alias("id"), RequestPhoto.request, RequestPhoto.photo.created_at.as_alias("created_at"),
        RequestPhoto.event.is_public).where(RequestPhoto.request.is_in(request_ids)).order_by(RequestPhoto.photo)
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
