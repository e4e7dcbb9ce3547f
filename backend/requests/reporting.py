"""The report form: validation of what a resident (or a grid worker) typed, and drafts kept in Redis.

No Litestar imports. A draft holds the fields and the photos already processed and stored, under the
form's idempotency key, for an hour: an anonymous resident signs in and loses nothing; a form
re-rendered with errors keeps the photos already sent.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from backend.accounts.service import PHONE_RE, Viewer
from backend.accounts.tables import Account, AccountKind
from backend.db import fetch_prepared
from backend.i18n import gettext as _
from backend.media.service import MAX_PHOTOS, StoredPhoto, hold_for_draft
from backend.organisation.tables import Unit
from backend.redis import redis_client
from backend.requests.service import (
    CheckedRequest,
    KnownCategory,
    KnownPlace,
    NewRequest,
    RequestError,
    check_new,
)
from backend.requests.tables import Kind, Source
from backend.routing import attributes as category_attributes
from backend.routing import geo
from backend.routing.service import FIRST_GRID_OF
from backend.routing.tables import Category

DRAFT_TTL = 3600
KEY_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
FIELDS = ("kind", "category", "description", "lat", "lon", "community", "address", "is_public",
          "idempotency_key", "source", "contact_name", "contact_phone", "place")

KIND_LABELS = {
    Kind.help.value: "求助",
    Kind.suggestion.value: "建议",
    Kind.consultation.value: "咨询",
    Kind.complaint.value: "投诉",
}
SOURCE_LABELS = {
    Source.resident.value: "居民提交",
    Source.on_behalf.value: "网格员代报",
    Source.patrol.value: "巡查发现",
    Source.open311.value: "Open311 接口",
}


def new_key() -> str:
    return uuid.uuid4().hex


ATTR_FIELD = re.compile(r"^cattr-(\d{1,9})-([A-Za-z0-9_-]{1,40})$")


def form_values(raw: Any) -> dict[str, str]:
    """The text fields of a submitted form (a FormMultiDict or a dict), trimmed to sane lengths.

    The answers to the categories' extra questions (fields ``cattr-<category>-<code>``, see
    requests/_category_attributes.html) are kept as one JSON text under ``attributes``, so drafts keep them.
    """
    out: dict[str, str] = {}
    for name in FIELDS:
        value = raw.get(name) if hasattr(raw, "get") else None
        out[name] = value.strip()[:5000] if isinstance(value, str) else ""
    answers: dict[str, dict[str, list[str]]] = {}
    items = raw.multi_items() if hasattr(raw, "multi_items") else []
    for name, value in items:
        m = ATTR_FIELD.match(name)
        if m and isinstance(value, str) and value.strip():
            answers.setdefault(m.group(1), {}).setdefault(m.group(2), []).append(value.strip()[:2000])
    out["attributes"] = json.dumps(answers, ensure_ascii=False) if answers else ""
    return out


def attribute_answers(values: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    """The raw answers kept in ``values["attributes"]``: {category id: {code: [values]}}."""
    try:
        data = json.loads(values.get("attributes") or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Checked:
    request: CheckedRequest | None  # accepted by the request service's check_new, ready for submit()
    errors: dict[str, str] = field(default_factory=dict)
    located: str = ""  # e.g. "柳巷街道 · 海西社区" when the location was resolved

    @property
    def data(self) -> NewRequest | None:
        return self.request.data if self.request else None


def _float(value: str) -> float | None:
    try:
        f = float(value)
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _is_id(value: str) -> bool:
    """Plain ASCII digits that fit an id column ("²".isdigit() is true, and 20 digits overflow the database)."""
    return value.isascii() and value.isdigit() and len(value) <= 9


@dataclass
class Place:
    """Where a report will go, from the form's location fields."""

    community_id: int | None = None
    grid_id: int | None = None
    street_id: int | None = None
    lat: float | None = None
    lon: float | None = None
    located: str = ""
    error: str = ""
    corrected: bool = False  # the resident chose their community over the one the phone located
    # The phone located one community and the resident chose another: the form asks which one is meant.
    located_id: int | None = None
    chosen_id: int | None = None


# Every report locates itself: prepared once per connection (fetch_prepared).
_ACTIVE_COMMUNITY = ("SELECT c.id, c.parent, c.name, s.name AS street_name, (" + FIRST_GRID_OF.format("c.id")
                     + ") AS first_grid FROM unit c LEFT JOIN unit s ON s.id = c.parent "
                     "WHERE c.id = $1 AND c.kind = 'community' AND c.active")
_UNIT_NAMES = "SELECT id, name FROM unit WHERE id = ANY($1::int[])"


async def locate(values: dict[str, str]) -> Place:
    """The community (and grid) of the form's location: the phone's position (where the problem is, which
    may lie outside the resident's own community), or the chosen community; when both are given and differ,
    the position counts unless the resident picked ``place=community`` (the correction; the point is kept)."""
    place = Place()
    chosen = None
    if _is_id(values.get("community", "")):
        found = await fetch_prepared(_ACTIVE_COMMUNITY, int(values["community"]))
        chosen = found[0] if found else None
        if chosen is None:
            place.error = _("所选社区不存在")
            return place
    if values.get("lat") or values.get("lon"):
        lat, lon = _float(values.get("lat", "")), _float(values.get("lon", ""))
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            place.error = _("定位信息无效，请重新定位或选择社区")
            return place
        place.lat, place.lon = lat, lon
        where = await geo.locate(lon, lat)
        if where is not None and chosen is not None and chosen["id"] != where.community_id:
            place.located_id, place.chosen_id = where.community_id, chosen["id"]
        if where is not None and (chosen is None or values.get("place") != "community"):
            place.community_id, place.grid_id, place.street_id = where.community_id, where.grid_id, where.street_id
        elif chosen is None:
            place.error = _("您的位置不在迎泽区范围内，请选择所在社区并填写地址")
            return place
        else:
            place.corrected = where is not None
    if place.community_id is None:
        if chosen is None:
            place.error = _("请使用定位，或选择所在社区并填写地址")
            return place
        place.community_id, place.street_id = chosen["id"], chosen["parent"]
        place.grid_id = chosen["first_grid"]  # its default grid, read with it (check_new takes it as known)
    if chosen is not None and chosen["id"] == place.community_id:  # its names came with it
        by_id = {chosen["parent"]: chosen["street_name"] or "", chosen["id"]: chosen["name"]}
    else:
        by_id = {r["id"]: r["name"] for r in await fetch_prepared(_UNIT_NAMES, [place.street_id, place.community_id])}
    place.located = f"{by_id.get(place.street_id, '')} · {by_id.get(place.community_id, '')}"
    return place


# The service's field names where the form shows them under another name.
SERVICE_FIELDS = {"community": "location", "grid": "location", "idempotency_key": "form"}


async def check_form(values: dict[str, str], *, staff: bool = False) -> Checked:
    """Read the form into a new request and have the request service check it (``check_new``, the one
    validation of a report); the form's own parts are checked here: the location (the phone's position or
    the chosen community), the category's extra questions, and for staff the source and the phone.
    Every error at once, field → message in the reader's language."""
    errors: dict[str, str] = {}
    category_id = int(values["category"]) if _is_id(values["category"]) else 0
    answers: dict[str, Any] = {}
    # An unknown or inactive category is the service's error (check_new); its questions are not asked then.
    category = await category_attributes.for_report(category_id) if category_id else None
    if category is not None:
        raw = attribute_answers(values).get(str(category_id)) or {}
        answers, attr_errors = category_attributes.validate(category.questions, raw if isinstance(raw, dict) else {})
        errors |= {f"cattr-{category_id}-{code}": message for code, message in attr_errors.items()}
    where = await locate(values)
    if where.error:
        errors["location"] = where.error
    if values["is_public"] not in ("", "0", "1"):
        errors["is_public"] = _("请选择是否公开")
    key = values["idempotency_key"]
    if not KEY_RE.match(key):
        errors["form"] = _("表单已失效，请重新提交")
    source = Source.resident.value
    contact_name, contact_phone = "", ""
    if staff:
        source = values["source"] or Source.patrol.value
        if source not in (Source.on_behalf.value, Source.patrol.value):
            errors["source"] = _("请选择来源")
        contact_name = values["contact_name"][:50]
        contact_phone = values["contact_phone"].replace(" ", "").replace("-", "")
        if source == Source.on_behalf.value:
            if not PHONE_RE.match(contact_phone):
                errors["contact_phone"] = _("代居民反映时请填写居民的 11 位手机号码")
        elif contact_phone and not PHONE_RE.match(contact_phone):
            errors["contact_phone"] = _("请输入 11 位手机号码")
    data = NewRequest(
        kind=values["kind"], category_id=category_id, description=values["description"],
        community_id=where.community_id, grid_id=where.grid_id, street_id=where.street_id,
        address=values["address"], lat=where.lat, lon=where.lon, is_public=values["is_public"] != "0",
        source=source, contact_name=contact_name, contact_phone=contact_phone,
        idempotency_key=key if KEY_RE.match(key) else None, attributes=answers,
        # what locate() and for_report() looked up, so the service does not read them a second time
        place=KnownPlace(where.community_id, where.street_id, where.grid_id) if where.community_id else None,
        known_category=KnownCategory(category.id, category.default_level) if category else None,
    )
    checked: CheckedRequest | None = None
    try:
        checked = await check_new(data)
    except RequestError as exc:
        for name, message in exc.field_errors().items():
            errors.setdefault(SERVICE_FIELDS.get(name, name), message)  # the form's own message comes first
    if errors:
        return Checked(None, errors, where.located)
    return Checked(checked, {}, where.located)


async def resident_account_for(phone: str) -> int:
    """The resident account a grid worker files for (created if new), so the resident can follow and rate it."""
    acc = await Account.select(Account.id, Account.kind).where(Account.phone == phone).first()
    if acc is not None:
        return acc["id"] if acc["kind"] == AccountKind.resident.value else 0
    new = Account(kind=AccountKind.resident.value, phone=phone, name="")
    await new.save()
    return new.id


# ---------------------------------------------------------------- drafts


@dataclass
class Draft:
    key: str
    owner: int | None  # the account that started it; None for an anonymous resident
    values: dict[str, str]
    photos: list[StoredPhoto]
    # An anonymous draft belongs to the browser session that wrote it (a secret kept in that session):
    # knowing the key (it is in the sign-in URL) is not enough to continue someone else's draft.
    token: str | None = None

    def to_json(self) -> str:
        return json.dumps({"owner": self.owner, "values": self.values, "token": self.token,
                           "photos": [p.to_dict() for p in self.photos]}, ensure_ascii=False)


def _redis_key(key: str) -> str:
    return f"qg:report-draft:{key}"


async def load_draft(key: str, viewer: Viewer | None, token: str | None) -> Draft | None:
    """The draft under ``key`` if this viewer may continue it: its owner, or for an anonymous draft the
    browser session holding its ``token``."""
    if not KEY_RE.match(key or ""):
        return None
    raw = await redis_client().get(_redis_key(key))
    if not raw:
        return None
    data = json.loads(raw)
    owner = data.get("owner")
    if owner is not None and (viewer is None or viewer.id != owner):
        return None
    if owner is None and (not token or not secrets.compare_digest(str(data.get("token") or ""), token)):
        return None
    return Draft(key, owner, dict(data.get("values") or {}),
                 [StoredPhoto.from_dict(p) for p in data.get("photos") or []][:MAX_PHOTOS], data.get("token"))


async def save_draft(draft: Draft) -> None:
    await redis_client().set(_redis_key(draft.key), draft.to_json(), ex=DRAFT_TTL)
    await hold_for_draft(draft.photos, DRAFT_TTL)  # its files go when it expires


async def drop_draft(key: str) -> None:
    await redis_client().delete(_redis_key(key))


# ---------------------------------------------------------------- where it will go


async def route_preview(values: dict[str, str]) -> dict[str, Any]:
    """Before sending: the community, grid, unit and responsible person the report will go to, decided by
    the same rules as the submission itself. ``{}`` when no location was given yet; ``error`` when it is
    unusable. Reads only."""
    from backend.accounts.tables import Account as Acc
    from backend.routing.service import default_grid, initial_placement

    if not (values.get("lat") or values.get("lon") or values.get("community")):  # nothing chosen yet
        return {}
    place = await locate(values)
    if place.error or place.community_id is None:
        return {"error": place.error}
    found = None
    if _is_id(values.get("category", "")):
        found = await Category.select(Category.id, Category.default_level).where(
            (Category.id == int(values["category"])) & (Category.active == True)).first()
    category = Category(_ignore_missing=True, **(found or {"id": 0, "default_level": "community"}))
    community = Unit(_ignore_missing=True, id=place.community_id, parent=place.street_id)
    grid_id = place.grid_id or await default_grid(place.community_id)
    placement = await initial_placement(category, community, grid_id)
    ids = [i for i in (place.street_id, place.community_id, grid_id, placement.unit_id, place.located_id,
                       place.chosen_id) if i]
    names = {r["id"]: r["name"] for r in await Unit.select(Unit.id, Unit.name).where(Unit.id.is_in(ids))}
    person = await Acc.select(Acc.name, Acc.public_title).where(Acc.id == (placement.person_id or 0)).first()
    return {
        "street": names.get(place.street_id, ""), "community": names.get(place.community_id, ""),
        "community_id": place.community_id, "grid": names.get(grid_id, "") if grid_id else "",
        "unit": names.get(placement.unit_id, ""), "level": placement.level,
        "person": f"{(person or {}).get('public_title') or ''} {(person or {}).get('name') or ''}".strip(),
        "corrected": place.corrected, "by_gps": place.lat is not None and not place.corrected,
        "choice": {"located": names.get(place.located_id, ""), "chosen": names.get(place.chosen_id, ""),
                   "place": "community" if place.corrected else "gps"} if place.located_id else None,
    }
