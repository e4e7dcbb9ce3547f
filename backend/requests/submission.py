"""A new request: ``check_new`` (the one validation of a report, every field error at once) and ``submit``
(the request, its lead assignment and its first event in one statement and one transaction).

With transitions.py, the only code that writes a request's state and its events: submit writes the first
event, transition() and record() every later one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.accounts.service import Viewer
from backend.db import fetch_prepared, utcnow, write_transaction
from backend.i18n import N_
from backend.organisation.tables import Unit, UnitKind
from backend.requests.hooks import run_hooks
from backend.requests.rules import MAX_DESCRIPTION, EventAttach, OpenedAssignment, RequestError, TransitionResult
from backend.requests.tables import (
    AssignmentRole,
    Kind,
    Request,
    Source,
    Status,
)
from backend.routing.service import (
    Placement,
    initial_placement,
)
from backend.routing.tables import Category
from backend.settings import get_settings

# The request, its lead assignment and its first event in one statement (issue 22: three Piccolo inserts
# cost more to build than to run, and a round trip each). A constant text: asyncpg prepares it once per
# connection and reuses it.
_INSERT_SUBMISSION = """
WITH req AS (
  INSERT INTO request (code, kind, category, description, is_public, source, reporter, filed_by, contact_name,
    contact_phone, address, lat, lon, street, community, grid, status, current_unit, current_person, level, urgent,
    answer, close_reason, version, idempotency_key, attributes, created_at, updated_at)
  VALUES ($1::varchar, $2::varchar, $3::int, $4::text, $5::bool, $6::varchar, $7::int, $8::int, $9::varchar,
    $10::varchar, $11::varchar, $12::float8, $13::float8, $14::int, $15::int, $16::int, $17::varchar, $18::int,
    $19::int, $20::varchar, false, '', '', 1, $21::varchar, $22::jsonb, $23::timestamptz, $23::timestamptz)
  RETURNING id, code
), asg AS (
  INSERT INTO assignment (request, unit, person, role, level, is_open, opened_at, close_reason, version)
  SELECT req.id, $18::int, $19::int, 'lead', $20::varchar, true, $23::timestamptz, '', 1 FROM req
  RETURNING id, request
), ev AS (
  INSERT INTO event (request, assignment, actor, actor_role, action, from_status, to_status, unit, person, note,
    is_public, data, created_at)
  SELECT asg.request, asg.id, $24::int, $25::varchar, 'submit', '', $17::varchar, $18::int, $19::int, '', true,
    $26::json, $23::timestamptz FROM asg
  RETURNING id
)
SELECT req.id, req.code, asg.id, ev.id FROM req, asg, ev
"""
# The daily number: the counter row is locked only for this one statement (it commits at once), where a
# lock held until the submission's commit made every submission of every web process wait in line. A day's
# first number continues from the codes already there (codes are ASCII: ':' sorts right after the digits).
_NEXT_NUMBER = "UPDATE tracking_counter SET last = last + 1 WHERE prefix = $1 RETURNING last"
_FIRST_NUMBER = """
INSERT INTO tracking_counter (prefix, last)
SELECT $1::varchar, coalesce(substr(max(code), length($1::text) + 1)::int, 0) + 1 FROM request
WHERE code > $1::text AND code < $1::text || ':'
ON CONFLICT (prefix) DO UPDATE SET last = tracking_counter.last + 1 RETURNING last
"""


async def _take_code(now: datetime) -> str:
    """YZ + yymmdd (Beijing date) + a 4-digit daily number, e.g. YZ2611240017; outside the submission's
    transaction (inside it only when the caller holds one open)."""
    settings = get_settings()
    prefix = settings.tracking_prefix + now.astimezone(ZoneInfo(settings.timezone)).strftime("%y%m%d")
    rows = await fetch_prepared(_NEXT_NUMBER, prefix) or await fetch_prepared(_FIRST_NUMBER, prefix)
    return f"{prefix}{rows[0][0]:04d}"


async def _insert_submission(code: str, data: NewRequest, reporter: Viewer | None, filed_by: Viewer | None,
                             actor: Viewer | None, category: Category, community: Unit, grid_id: int | None,
                             placement: Placement, now: datetime) -> tuple[Request, int, int]:
    """Inside submit()'s transaction: returns (the request, its lead assignment's id, its event's id)."""
    values = {
        "kind": data.kind, "category": category.id, "description": data.description.strip(),
        "is_public": data.is_public, "source": data.source,
        "reporter": reporter.id if reporter and reporter.is_resident else None,
        "filed_by": filed_by.id if filed_by else None, "contact_name": data.contact_name.strip()[:50],
        "contact_phone": (data.contact_phone or (reporter.phone if reporter else "") or "")[:20],
        "address": data.address.strip(), "lat": data.lat, "lon": data.lon, "street": community.parent,
        "community": community.id, "grid": grid_id, "status": Status.assigned.value,
        "current_unit": placement.unit_id, "current_person": placement.person_id, "level": placement.level,
        "idempotency_key": data.idempotency_key,
    }
    role = ""
    if actor is not None:
        role = actor.memberships[0].role if actor.is_staff else "resident"
    row, = await fetch_prepared(
        _INSERT_SUBMISSION, code, *values.values(), json.dumps(data.attributes, ensure_ascii=False), now,
        actor.id if actor else None, role, json.dumps({"source": data.source, "level": placement.level}))
    req = Request(_exists_in_db=True, id=row[0], code=row[1], version=1, attributes=data.attributes,
                  created_at=now, updated_at=now, **values)
    return req, row[2], row[3]



@dataclass(frozen=True)
class KnownPlace:
    """A community its caller has just looked up (the report form's location step: the phone's position in
    the jurisdiction index, or the chosen community read once), with its street and the grid found with it:
    ``check_new`` takes it as read instead of reading the community again."""

    community_id: int
    street_id: int | None
    grid_id: int | None = None


@dataclass(frozen=True)
class KnownCategory:
    """The chosen category as its caller has just read it (active, with its default level): ``check_new``
    takes it as read."""

    id: int
    default_level: str


@dataclass
class NewRequest:
    kind: str
    category_id: int
    description: str
    community_id: int | None
    grid_id: int | None = None
    street_id: int | None = None
    address: str = ""
    lat: float | None = None
    lon: float | None = None
    is_public: bool = True
    source: str = Source.resident.value
    contact_name: str = ""
    contact_phone: str = ""
    idempotency_key: str | None = None
    # Answers to the category's extra questions, already checked by backend.routing.attributes.validate()
    attributes: dict[str, Any] = field(default_factory=dict)
    # The place as the caller looked it up (one lookup per submission), for ``community_id`` and ``grid_id``.
    place: KnownPlace | None = None
    known_category: KnownCategory | None = None  # the same for ``category_id``


@dataclass(frozen=True)
class CheckedRequest:
    """A new request that ``check_new`` accepted, with the category and place it looked up (once)."""

    data: NewRequest
    category: Category
    community: Unit
    grid_id: int | None


async def check_new(data: NewRequest) -> CheckedRequest:
    """Validate a new request, the one place that does: every field error at once (``RequestError.fields``,
    field → message id), the category and the community looked up once and returned for ``submit()``."""
    errors: dict[str, str] = {}
    if data.kind not in {k.value for k in Kind}:
        errors["kind"] = N_("请选择诉求类型")
    text = (data.description or "").strip()
    if not text:
        errors["description"] = N_("请描述您反映的问题")
    elif len(text) > MAX_DESCRIPTION:
        errors["description"] = N_("描述不能超过 {max} 字（当前 {n} 字）")
    if len(data.address) > 200:
        errors["address"] = N_("地址不能超过 200 字")
    if data.idempotency_key is not None and not (8 <= len(data.idempotency_key) <= 64):
        errors["idempotency_key"] = N_("表单已失效，请刷新后重新提交")
    # Only the columns placement needs (building a full-row query costs more than running it).
    known = data.known_category
    if known is not None and known.id == data.category_id:
        found: dict[str, Any] | None = {"id": known.id, "default_level": known.default_level}
    else:
        rows = await fetch_prepared(_ACTIVE_CATEGORY, data.category_id) if data.category_id else []
        found = dict(rows[0]) if rows else None
    if found is None:
        errors["category"] = N_("请选择有效的诉求类别")
    category = Category(_ignore_missing=True, **(found or {}))
    community: Unit | None = None
    grid_id = data.grid_id
    if data.community_id is None:
        errors["community"] = N_("请选择所在社区或使用定位")
    else:
        found_place = await _community_of(data)
        if found_place is None:
            errors["community"] = N_("所选社区不存在")
        else:
            community = found_place
            if grid_id is not None:
                known = data.place is not None and data.place.grid_id == grid_id
                if not known and not await Unit.exists().where((Unit.id == grid_id) & (Unit.parent == community.id)):
                    errors["grid"] = N_("所选网格不属于该社区")
            else:
                from backend.routing.service import default_grid

                grid_id = await default_grid(community.id)
    if errors or community is None:
        field_name, message = next(iter(errors.items()))
        raise RequestError(message, field_name, fields=errors, max=MAX_DESCRIPTION, n=len(text))
    return CheckedRequest(data, category, community, grid_id)


_ACTIVE_CATEGORY = "SELECT id, default_level FROM category WHERE id = $1 AND active"


async def _community_of(data: NewRequest) -> Unit | None:
    """The community of a new request (its id and street): as its caller looked it up, else read here."""
    if data.place is not None and data.place.community_id == data.community_id:
        return Unit(_ignore_missing=True, id=data.place.community_id, parent=data.place.street_id)
    row = await Unit.select(Unit.id, Unit.parent).where(
        (Unit.id == data.community_id) & (Unit.kind == UnitKind.community.value)).first()
    return Unit(_ignore_missing=True, **row) if row else None


async def find_by_idempotency_key(key: str | None) -> Request | None:
    if not key:
        return None
    # Nearly always absent: ask for the id alone first (a full-row query costs more to build than to run).
    found = await fetch_prepared("SELECT id FROM request WHERE idempotency_key = $1", key)
    if not found:
        return None
    return await Request.objects().where(Request.id == found[0]["id"]).first()


async def submit(
    data: NewRequest | CheckedRequest,
    reporter: Viewer | None,
    *,
    filed_by: Viewer | None = None,
    attach: EventAttach | None = None,
    now: datetime | None = None,
) -> tuple[Request, bool]:
    """Create a request, its first assignment and its first event in one transaction.

    Returns (request, created). A repeated idempotency key returns the first request, created=False.
    ``data`` is checked by ``check_new`` (RequestError with every field error), unless it already was.
    """
    checked = data if isinstance(data, CheckedRequest) else await check_new(data)  # every field error at once
    data = checked.data
    now = now or utcnow()
    for attempt in range(5):
        try:
            # The writes share one transaction (check_new looked the place up before it). A repeated
            # idempotency key is caught by its unique index (below), not by a query on every submission.
            code = await _take_code(now)
            async with write_transaction():
                category, community, grid_id = checked.category, checked.community, checked.grid_id
                placement = await initial_placement(category, community, grid_id)
                actor = filed_by or reporter
                req, assignment, event_id = await _insert_submission(code, data, reporter, filed_by, actor,
                                                                     category, community, grid_id, placement, now)
                if attach is not None:
                    await attach(req.id, event_id)
                lead = OpenedAssignment(assignment, placement.unit_id, placement.person_id, AssignmentRole.lead.value,
                                        now)
                await run_hooks(TransitionResult(
                    req.id, "submit", "", Status.assigned.value, 1, event_id, opened_assignments=[lead],
                    actor_id=actor.id if actor else None, code=req.code, reporter=req.reporter,
                    category=category.id))
            break
        except Exception as exc:  # the same key submitted before, or the same daily code taken (PostgreSQL): retry
            if _is_unique_violation(exc) and attempt < 4:
                again = await find_by_idempotency_key(data.idempotency_key)
                if again is not None:
                    return again, False
                continue
            raise
    return req, True


def _is_unique_violation(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "unique" in text or "duplicate" in text
