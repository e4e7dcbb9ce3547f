"""Map pages and their data: the public map, the staff map (lights, density by grid), the report form's
"where does it go" and "already reported?" helpers, 我也遇到了, and marking a duplicate.

Every GET here only reads. Coordinates leave in the display datum (see ``backend.maps.config``) and come
back from the report form's pin through ``/map/place``, which returns the WGS-84 point to store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from backend.errors import DomainError
from backend.i18n import gettext as _
from backend.maps import service
from backend.maps.config import map_config
from backend.organisation.service import is_command_center_staff
from backend.requests import queries
from backend.requests.service import STATUS_LABELS, can_view
from backend.requests.tables import Request as Req
from backend.web.errors import FORM
from backend.web.guards import staff_only, viewer_of
from backend.web.render import is_htmx, page

JSON_HEADERS = {"Cache-Control": "no-store", "Vary": "Cookie"}


def _float(value: str | None) -> float | None:
    try:
        f = float(value or "")
    except ValueError:
        return None
    return f if math.isfinite(f) else None


def _id(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def _point(lat: str | None, lon: str | None) -> tuple[float, float] | None:
    la, lo = _float(lat), _float(lon)
    if la is None or lo is None or not (-90 <= la <= 90 and -180 <= lo <= 180):
        return None
    return la, lo


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(category: str, status: str = "", light: str = "") -> service.MapFilters:
    return service.MapFilters(
        category_id=_id(category), status=status if status in service.PUBLIC_STATUS else "",
        light=light if light in service.LIGHTS else "")


def _json(data: Any) -> Response:
    return Response(content=data, media_type="application/json", headers=JSON_HEADERS)


def _tiles() -> dict[str, str]:
    cfg = map_config()
    return {"url": cfg.tiles, "crs": cfg.crs, "attribution": cfg.attribution, "subdomains": cfg.subdomains}


class MapController(Controller):
    path = "/map"

    @get("")
    async def public_map(self, request: Request, category: str = "", status: str = "", light: str = "") -> Response:
        f = _filters(category, status, light)
        pins = await service.public_pins(f, limit=50)  # the list under the map: works without JavaScript
        ctx = {"pins": pins, "categories": await queries.categories(), "status_labels": STATUS_LABELS,
               "f": {"category": f.category_id or "", "status": f.status, "light": f.light}}
        return page(request, "maps/public_map.html", ctx)

    @get("/requests.json")
    async def public_requests(self, category: str = "", status: str = "", light: str = "") -> Response:
        return _json({"pins": await service.public_pins(_filters(category, status, light))})

    @get("/boundaries.json")
    async def boundaries(self) -> Response:
        data = await service.boundaries()
        data["tiles"] = _tiles()
        return Response(content=data, media_type="application/json", headers={"Cache-Control": "no-cache"})

    @get("/place")
    async def place(self, lat: str = "", lon: str = "", category: str = "", wgs: str = "") -> Response:
        """Where a point on the map goes (street, community, grid, responsible person). Changes nothing."""
        point = _point(lat, lon)
        if point is None:
            return Response(content={"ok": False, "message": _("位置无效，请在地图上重新选点")},
                            media_type="application/json", status_code=400, headers=JSON_HEADERS)
        cfg = map_config()
        wlat, wlon = point if wgs == "1" else cfg.from_display(*point)
        found = await service.place_of(wlat, wlon, _id(category))
        dlat, dlon = cfg.to_display(wlat, wlon)
        return _json({
            "ok": found.ok, "message": _(found.message) if found.message else "",
            "lat": round(wlat, 6), "lon": round(wlon, 6), "display": [round(dlat, 6), round(dlon, 6)],
            "street": found.street, "community": found.community, "community_id": found.community_id,
            "grid": found.grid, "person": found.person,
        })

    @get("/nearby")
    async def nearby(self, request: Request, category: str = "", lat: str = "", lon: str = "") -> Response:
        """The report form's "already reported?" list: an HTML fragment (empty when nothing is near)."""
        point, category_id = _point(lat, lon), _id(category)
        items = await service.nearby(category_id, *point) if point and category_id else []
        return page(request, "maps/_nearby.html", {"items": items, "status_labels": STATUS_LABELS,
                                                   "meters": int(service.NEARBY_METERS)})


class SupportController(Controller):
    path = "/p"

    @post("/{code:str}/support")
    async def support(self, request: Request, code: str) -> Response:
        """我也遇到了: the resident follows this request instead of filing the same problem again."""
        viewer = viewer_of(request)
        row = await Req.select(Req.id, Req.is_public).where(Req.code == code).first()
        if row is None or not row["is_public"]:
            raise NotFoundException(_("诉求不存在或未公开"))
        target = f"/p/{code}"
        if viewer is None:
            return self._go(request, f"/login?next={target}")
        await service.support(row["id"], viewer)  # SupportError: a 403 page (or fragment) saying why
        return self._go(request, target + "?supported=1")

    @staticmethod
    def _go(request: Request, url: str) -> Response:
        if is_htmx(request):
            return Response(content="", status_code=200, headers={"HX-Redirect": url})
        return Redirect(url, status_code=303)


@dataclass(frozen=True)
class DuplicateForm:
    original: str  # the tracking code of the first report
    note: str
    version: int | None

    @classmethod
    def of(cls, form: Any) -> DuplicateForm:
        return cls(original=str(form.get("original") or "")[:30], note=str(form.get("note") or ""),
                   version=_id(form.get("version")))


async def duplicate_form_again(request: Request, exc: DomainError) -> Response:
    """The request page again, with the duplicate form's message (the form keeps the page's shape)."""
    from backend.requests.controllers import _staff_detail

    viewer = viewer_of(request)
    assert viewer is not None
    req = await queries.request_row(request_id=request.path_params["request_id"])
    assert req is not None
    return await _staff_detail(request, viewer, req, errors={"duplicate": exc.message}, status=exc.status)


class StaffMapController(Controller):
    path = "/staff"
    guards = [staff_only]

    @get("/map")
    async def staff_map(self, request: Request, category: str = "", start: str = "", end: str = "",
                        light: str = "") -> Response:
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
        s, e = _day(start) or today - timedelta(days=30), _day(end) or today
        ctx = {"categories": await queries.categories(), "is_cc": is_command_center_staff(viewer_of(request)),
               "f": {"category": _id(category) or "", "start": s.isoformat(), "end": e.isoformat(),
                     "light": light if light in service.LIGHTS else ""}}
        return page(request, "maps/staff_map.html", ctx)

    @get("/map/pins.json")
    async def pins(self, request: Request, category: str = "", light: str = "") -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        return _json(await service.staff_pins(viewer, _filters(category, "open", light)))

    @get("/map/density.json")
    async def density(self, request: Request, category: str = "", start: str = "", end: str = "") -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        tz = ZoneInfo("Asia/Shanghai")
        f = _filters(category)
        s, e = _day(start), _day(end)
        f.start = datetime.combine(s, time(), tz) if s else None
        f.end = datetime.combine(e + timedelta(days=1), time(), tz) if e and e < date.max - timedelta(days=1) else None
        return _json(await service.density(viewer, f))

    @post("/requests/{request_id:int}/duplicate", opt={FORM: duplicate_form_again})
    async def mark_duplicate(self, request: Request, request_id: int) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        req = await queries.request_row(request_id=request_id)
        if req is None or not await can_view(viewer, req):
            raise NotFoundException(_("诉求不存在或不在您的范围内"))
        form = DuplicateForm.of(await request.form())
        await service.mark_duplicate(request_id, form.original, form.note, viewer, form.version)
        return Redirect(f"/staff/requests/{request_id}", status_code=303)
