"""servicerequestupdates (FixMyStreet's extension): public updates out, a back office's updates in through
the transition service with its staff account's rights.
"""

from __future__ import annotations

from typing import Any

from backend.accounts.service import Viewer, load_viewer
from backend.db import write_transaction
from backend.i18n import gettext as _
from backend.open311.formats import w3c
from backend.open311.reading import parse_w3c, window
from backend.open311.spec import MAX_PAGE_SIZE, STATUS_MAP, UPDATE_STATUSES, ApiError
from backend.open311.tables import ApiUpdate
from backend.requests import service as requests
from backend.requests.photos.tables import RequestPhoto
from backend.requests.tables import Event, Kind, Request, Status


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
    media = await RequestPhoto.select(RequestPhoto.photo.as_alias("id"), RequestPhoto.event).where(
        RequestPhoto.event.is_in([r["id"] for r in rows])).order_by(RequestPhoto.photo) if rows else []
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
