"""Maps, nearby duplicates and supporters ("我也遇到了"). No Litestar imports.

The nearby query: open public requests of the same category within 250 m. It is served by a partial GiST
index on ``(category, point(lon, lat))`` over open public requests only (``btree_gist`` lets the integer
category share the GiST key), so the index holds the few open requests, not the million closed ones, and
the category prunes inside the index. A bounding box (``<@``) finds candidates; the exact great-circle
distance (haversine, same formula as ``coords.haversine_m``) decides the 250 m edge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from backend.accounts.service import Viewer
from backend.i18n import N_
from backend.maps.config import map_config
from backend.maps.coords import EARTH_RADIUS_M, box_around
from backend.maps.supporters import add_support, support_count
from backend.maps.tables import Support, SupportSource
from backend.organisation.service import is_command_center_staff
from backend.organisation.tables import Unit
from backend.requests.rows import RequestRow
from backend.requests.service import RequestError, TransitionResult, transition
from backend.requests.tables import OPEN_STATUSES, Request, Status
from backend.routing import geo
from backend.routing.service import default_grid, designated_person, initial_placement
from backend.routing.tables import Category

NEARBY_METERS = 250.0
NEARBY_LIMIT = 5
OPEN = tuple(s.value for s in OPEN_STATUSES)
# Must match the partial index's predicate word for word, so the planner can use it.
OPEN_SQL = "r.status IN ('submitted', 'assigned', 'accepted', 'returned')"
# Haversine in metres, as coords.haversine_m; its placeholders take (lat, lat, lon) of the searched point.
DISTANCE_SQL = (
    f"2 * {EARTH_RADIUS_M} * asin(least(1, sqrt(power(sin(radians(r.lat - {{}}) / 2), 2)"
    " + cos(radians({})) * cos(radians(r.lat)) * power(sin(radians(r.lon - {}) / 2), 2))))"
)


# ---------------------------------------------------------------- nearby


class NearbyRequest(TypedDict):
    """An open public request near a point (nearby): the report form's "我也遇到了" and the duplicate picker."""

    id: int
    code: str
    status: str
    description: str
    created_at: datetime
    lat: float
    lon: float
    metres: float
    supporters: int
    photo: int | None  # the first photo's id


class SupportContext(TypedDict):
    supporters: int
    i_support: bool


class RequestMapContext(SupportContext):
    """What a request's pages show of the map domain (public_context; staff_request_context adds the rest)."""

    original_code: str  # the request this one was merged into ("" when it is no duplicate)
    can_mark_duplicate: NotRequired[bool]
    dup_candidates: NotRequired[list[NearbyRequest]]


async def nearby(category_id: int, lat: float, lon: float, *, exclude_id: int | None = None,
                 metres: float = NEARBY_METERS, limit: int = NEARBY_LIMIT) -> list[NearbyRequest]:
    """Open public requests of ``category_id`` within ``metres`` of (lat, lon), nearest first."""
    sql, args = nearby_sql(category_id, lat, lon, exclude_id=exclude_id, metres=metres, limit=limit)
    return await Request.raw(sql, *args)


def nearby_sql(category_id: int, lat: float, lon: float, *, exclude_id: int | None = None,
               metres: float = NEARBY_METERS, limit: int = NEARBY_LIMIT) -> tuple[str, list[Any]]:
    """The nearby query and its arguments (the benchmark EXPLAINs the very same text)."""
    min_lon, min_lat, max_lon, max_lat = box_around(lat, lon, metres)
    sql = f"""
        SELECT r.id, r.code, r.status, r.description, r.created_at, r.lat, r.lon, d.metres,
               (SELECT count(*) FROM support s WHERE s.request = r.id) AS supporters,
               (SELECT p.photo FROM request_photo p WHERE p.request = r.id ORDER BY p.photo LIMIT 1) AS photo
        FROM request r, LATERAL (SELECT {DISTANCE_SQL} AS metres) d
        WHERE r.category = {{}} AND r.is_public AND r.lat IS NOT NULL AND {OPEN_SQL}
          AND point(r.lon, r.lat) <@ box(point({{}}, {{}}), point({{}}, {{}}))
          AND d.metres <= {{}} AND r.id <> {{}}
        ORDER BY d.metres, r.id LIMIT {{}}"""
    return sql, [lat, lat, lon, category_id, min_lon, min_lat, max_lon, max_lat, metres, exclude_id or 0, limit]


# ---------------------------------------------------------------- supporters


class SupportError(RequestError):
    status = 403  # who may say "我也遇到了" on which request: a refusal of the action, not of a field


async def support(request_id: int, viewer: Viewer, *, source: str = SupportSource.me_too.value) -> bool:
    """The resident has the same problem: follow this request instead of filing it again.

    Returns False when they already support it. Refused: staff, the reporter themselves, private or
    finished requests.
    """
    if not viewer.is_resident:
        raise SupportError(N_("只有居民可以表示“我也遇到了”"))
    req = await Request.select(Request.id, Request.reporter, Request.is_public, Request.status).where(
        Request.id == request_id).first()
    if req is None or not req["is_public"]:
        raise SupportError(N_("诉求不存在或未公开"))
    if req["reporter"] == viewer.id:
        raise SupportError(N_("这是您自己反映的诉求"))
    if req["status"] not in OPEN:
        raise SupportError(N_("该诉求已办结，如问题仍在，请重新反映"))
    return await add_support(request_id, viewer.id, source)


async def support_context(request_id: int, viewer: Viewer | None) -> SupportContext:
    """What the request pages show: the count, and whether this viewer already supports it."""
    mine = False
    if viewer is not None and viewer.is_resident:
        mine = await Support.exists().where((Support.request == request_id) & (Support.account == viewer.id))
    return {"supporters": await support_count(request_id), "i_support": mine}


# ---------------------------------------------------------------- duplicates


async def mark_duplicate(request_id: int, original_code: str, note: str, actor: Viewer,
                         expected_version: int | None = None, now: datetime | None = None) -> TransitionResult:
    """Close ``request_id`` as a duplicate of the request with ``original_code``, through the one transition
    service (its event carries the original). The hook below makes the reporter a supporter of the original."""
    code = (original_code or "").strip().upper()
    original = await Request.select(Request.id, Request.status, Request.code).where(Request.code == code).first() \
        if code else None
    if original is None:
        raise RequestError(N_("请填写原诉求的编号（如 YZ2612010001）"), "original")
    if original["id"] == request_id:
        raise RequestError(N_("不能标记为与自己重复"), "original")
    if original["status"] in (Status.withdrawn.value, "duplicate"):
        raise RequestError(N_("原诉求已撤回或本身是重复诉求，请填写最初的那一件"), "original")
    return await transition(request_id, "mark_duplicate", actor, expected_version, note=note,
                            data={"duplicate_of": original["id"], "original_code": original["code"]}, now=now)


# ---------------------------------------------------------------- where a point goes


@dataclass
class Place:
    ok: bool
    message: str = ""
    lat: float | None = None  # WGS-84, for the form
    lon: float | None = None
    street: str = ""
    community: str = ""
    community_id: int | None = None
    grid: str = ""
    person: str = ""


async def place_of(lat: float, lon: float, category_id: int | None = None) -> Place:
    """The street, community, grid and responsible person a request at (lat, lon) would go to. Reads only."""
    where = await geo.locate(lon, lat)
    if where is None:
        return Place(False, "该位置不在迎泽区范围内，请在区内选点，或选择所在社区", lat, lon)
    ids = [u for u in (where.street_id, where.community_id, where.grid_id) if u]
    names = {r["id"]: r["name"] for r in await Unit.select(Unit.id, Unit.name).where(Unit.id.is_in(ids))}
    grid_id = where.grid_id or await default_grid(where.community_id)
    person_id: int | None = None
    category = None
    if category_id is not None:
        found = await Category.select(Category.id, Category.default_level).where(
            (Category.id == category_id) & (Category.active == True)).first()
        category = Category(_ignore_missing=True, **found) if found else None
    if category is not None:
        community = Unit(_ignore_missing=True, id=where.community_id, parent=where.street_id)
        person_id = (await initial_placement(category, community, grid_id)).person_id
    else:
        person_id = await designated_person(grid_id) if grid_id else await designated_person(where.community_id)
    person = ""
    if person_id:
        from backend.accounts.tables import Account

        row = await Account.select(Account.name, Account.public_title).where(Account.id == person_id).first()
        person = f"{row['public_title']} {row['name']}".strip() if row else ""
    return Place(True, "", lat, lon, names.get(where.street_id, ""), names.get(where.community_id, ""),
                 where.community_id, names.get(grid_id, "") if grid_id else "", person)


# ---------------------------------------------------------------- map data


def _shift(coords: Any) -> Any:
    """GeoJSON coordinates ([lon, lat] nested) into the display datum."""
    if coords and isinstance(coords[0], (int, float)):
        lat, lon = map_config().to_display(coords[1], coords[0])
        return [round(lon, 6), round(lat, 6)]
    return [_shift(c) for c in coords]


async def boundaries(kinds: tuple[str, ...] = ("street", "community", "grid")) -> dict[str, Any]:
    """The district's own geography as a GeoJSON FeatureCollection: the base map needing no tile server."""
    rows = await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.parent, Unit.boundary).where(
        Unit.kind.is_in(list(kinds)) & (Unit.active == True) & Unit.boundary.is_not_null()).order_by(Unit.id)
    features = []
    for r in rows:
        try:
            geometry = json.loads(r["boundary"])
        except ValueError:
            continue
        if map_config().gcj and "coordinates" in geometry:
            geometry = {"type": geometry["type"], "coordinates": _shift(geometry["coordinates"])}
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"id": r["id"], "name": r["name"], "kind": r["kind"], "parent": r["parent"]}})
    return {"type": "FeatureCollection", "features": features}


LIGHT_SQL = """COALESCE((SELECT max(CASE WHEN c.red_lit_at IS NOT NULL THEN 2 WHEN c.yellow_lit_at IS NOT NULL THEN 1
                ELSE 0 END) FROM light_clock c WHERE c.request = r.id AND c.stopped_at IS NULL), 0)"""
LIGHTS = {"none": 0, "yellow": 1, "red": 2}
PUBLIC_STATUS = {"open": OPEN_SQL, "resolved": "r.status IN ('resolved', 'closed')", "": "r.status <> 'withdrawn' "
                 "AND r.status <> 'duplicate'"}


@dataclass
class MapFilters:
    category_id: int | None = None
    status: str = ""  # "", "open", "resolved"
    light: str = ""  # "", "none", "yellow", "red"
    start: datetime | None = None
    end: datetime | None = None


def _filter_sql(f: MapFilters, args: list[Any]) -> list[str]:
    where = [PUBLIC_STATUS.get(f.status, PUBLIC_STATUS[""])]
    if f.category_id:
        args.append(f.category_id)
        where.append("r.category = {}")
    if f.light in LIGHTS:
        args.append(LIGHTS[f.light])
        where.append(f"{LIGHT_SQL} = {{}}")
    return where


async def public_pins(f: MapFilters, limit: int = 5000) -> list[dict[str, Any]]:
    """Public requests with a place, newest first: code, place (display datum), status, light. Nothing personal."""
    args: list[Any] = []
    where = ["r.is_public", "r.lat IS NOT NULL", *_filter_sql(f, args)]
    args.append(limit)
    rows = await Request.raw(
        f"SELECT r.code, r.lat, r.lon, r.status, {LIGHT_SQL} AS light, c.name AS category FROM request r "
        f"JOIN category c ON c.id = r.category WHERE {' AND '.join(where)} ORDER BY r.id DESC LIMIT {{}}", *args)
    cfg = map_config()
    out = []
    for r in rows:
        lat, lon = cfg.to_display(r["lat"], r["lon"])
        out.append({"code": r["code"], "lat": round(lat, 5), "lon": round(lon, 5), "status": r["status"],
                    "light": r["light"], "category": r["category"]})
    return out


def _scope_sql(viewer: Viewer, args: list[Any]) -> str:
    """The requests a staff map shows: the whole district for the command center and district-wide roles;
    else those arising in, or led by, a unit of the viewer's subtrees."""
    if is_command_center_staff(viewer):
        return "TRUE"
    paths = list(viewer.scope_paths)
    if any(p.count("/") <= 2 for p in paths):  # a district-wide scope ("/1/")
        return "TRUE"
    args.append(paths)
    units = "(SELECT u.id FROM unit u WHERE u.path LIKE ANY (SELECT p || '%' FROM unnest({}::text[]) p))"
    return f"(r.street IN {units} OR r.community IN {units} OR r.grid IN {units} OR r.current_unit IN {units})"


async def staff_pins(viewer: Viewer, f: MapFilters, limit: int = 20000) -> dict[str, Any]:
    """Open requests in the viewer's scope, compact: each pin is [id, dlat, dlon, light] with the offsets in
    1e-5 degrees (≈1 m) from ``origin``: 10,000 pins stay far under 300 KB before compression."""
    args: list[Any] = []
    scope = _scope_sql(viewer, args)
    if scope != "TRUE":  # the same array fills each placeholder of the scope
        args = args * 4
    extra = _filter_sql(MapFilters(f.category_id, "open", f.light), args)
    args.append(limit)
    rows = await Request.raw(
        f"SELECT r.id, r.lat, r.lon, {LIGHT_SQL} AS light FROM request r WHERE r.lat IS NOT NULL AND {scope} AND "
        f"{' AND '.join(extra)} ORDER BY r.id DESC LIMIT {{}}", *args)
    cfg = map_config()
    points = [(r["id"], *cfg.to_display(r["lat"], r["lon"]), r["light"]) for r in rows]
    if not points:
        return {"origin": [0, 0], "pins": []}
    lat0 = round(min(p[1] for p in points), 5)
    lon0 = round(min(p[2] for p in points), 5)
    pins = [[i, round((lat - lat0) * 1e5), round((lon - lon0) * 1e5), light] for i, lat, lon, light in points]
    return {"origin": [lat0, lon0], "pins": pins}


async def density(viewer: Viewer, f: MapFilters) -> dict[str, Any]:
    """Requests submitted in the period (any status but withdrawn), counted per grid, with the grids' shapes."""
    args: list[Any] = []
    scope = _scope_sql(viewer, args)
    if scope != "TRUE":
        args = args * 4
    where = [scope, "r.status <> 'withdrawn'", "r.grid IS NOT NULL"]
    if f.category_id:
        args.append(f.category_id)
        where.append("r.category = {}")
    if f.start is not None:
        args.append(f.start)
        where.append("r.created_at >= {}")
    if f.end is not None:
        args.append(f.end)
        where.append("r.created_at < {}")
    rows = await Request.raw(f"SELECT r.grid, count(*) AS n FROM request r WHERE {' AND '.join(where)} "
                             "GROUP BY r.grid", *args)
    counts = {r["grid"]: r["n"] for r in rows}
    grids = await boundaries(("grid",))
    for feature in grids["features"]:
        feature["properties"]["count"] = counts.get(feature["properties"]["id"], 0)
    grids["features"] = [ft for ft in grids["features"] if ft["properties"]["count"] or scope == "TRUE"
                         or ft["properties"]["id"] in counts]
    grids["max"] = max(counts.values(), default=0)
    return grids


# ---------------------------------------------------------------- what the request pages show


async def original_of(request_id: int) -> str:
    """The code of the request this one was merged into ("" when it is no duplicate)."""
    from backend.requests.tables import Event

    row = await Event.select(Event.data).where(
        (Event.request == request_id) & (Event.action == "mark_duplicate")).order_by(Event.id, ascending=False).first()
    if row is None:
        return ""
    data = json.loads(row["data"]) if isinstance(row["data"], str) else row["data"]
    return str(data.get("original_code", ""))


async def public_context(req: RequestRow, viewer: Viewer | None) -> RequestMapContext:
    """The supporters and the original of a duplicate (the supporters' ratings are the ratings domain's:
    ``ratings.service.supporter_rating_context``, which reads who supports from here)."""
    original = await original_of(req["id"]) if req["status"] == Status.duplicate.value else ""
    return {**await support_context(req["id"], viewer), "original_code": original}


async def staff_request_context(req: RequestRow, viewer: Viewer, actions: list[str]) -> RequestMapContext:
    ctx = await public_context(req, viewer)
    is_open = req["status"] in OPEN
    ctx["can_mark_duplicate"] = is_open and (bool(actions) or is_command_center_staff(viewer))
    ctx["dup_candidates"] = []
    if ctx["can_mark_duplicate"] and req["lat"] is not None and req["lon"] is not None:
        ctx["dup_candidates"] = await nearby(req["category"], req["lat"], req["lon"], exclude_id=req["id"])
    return ctx
