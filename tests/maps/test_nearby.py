"""The nearby query's edges: 250 m, other category, closed, private and duplicate requests never suggested."""

from __future__ import annotations

import contextlib

from backend.db import write_transaction
from backend.maps.coords import gcj02_to_wgs84, haversine_m, wgs84_to_gcj02
from backend.maps.service import nearby
from backend.requests import service
from backend.requests.tables import Request
from tests.support.maps import HAIXI, east_of, fresh_category, north_of, report_at
from tests.support.people import staff


async def codes(category_id: int, point: tuple[float, float], **kw) -> list[str]:
    return [r["code"] for r in await nearby(category_id, *point, **kw)]


async def test_the_250_metre_edge_and_nearest_first() -> None:
    cat = await fresh_category()
    at_249 = await report_at(north_of(HAIXI, 249), cat)
    at_251 = await report_at(north_of(HAIXI, 251), cat)
    at_100_east = await report_at(east_of(HAIXI, 100), cat)
    found = await nearby(cat, *HAIXI)
    assert [r["code"] for r in found] == [at_100_east.code, at_249.code]
    assert at_251.code not in [r["code"] for r in found]
    assert 99 < found[0]["metres"] < 101 and 248 < found[1]["metres"] < 250
    assert found[0]["supporters"] == 0


async def test_other_category_closed_private_and_duplicates_are_never_suggested() -> None:
    cat, other = await fresh_category(), await fresh_category()
    here = north_of(HAIXI, 30)
    other_category = await report_at(here, other)
    private = await report_at(here, cat, is_public=False)
    withdrawn = await report_at(here, cat)
    await service.transition(withdrawn.id, "withdraw", await _reporter(withdrawn), withdrawn.version)
    resolved = await report_at(here, cat)
    haixi = await staff("haixi")
    await service.transition(resolved.id, "accept", haixi, None)
    await service.transition(resolved.id, "resolve", haixi, None, note="已修好")
    original = await report_at(here, cat)
    duplicate = await report_at(here, cat)
    await service.transition(duplicate.id, "mark_duplicate", haixi, None, note="同一处",
                             data={"duplicate_of": original.id, "original_code": original.code})
    found = await codes(cat, HAIXI)
    assert found == [original.code]
    for r in (other_category, private, withdrawn, resolved, duplicate):
        assert r.code not in found
    assert await codes(other, HAIXI) == [other_category.code]


async def test_a_request_is_not_its_own_duplicate_and_accepted_requests_stay_suggested() -> None:
    cat = await fresh_category()
    req = await report_at(HAIXI, cat)
    await service.transition(req.id, "accept", await staff("haixi"), None)
    assert await codes(cat, HAIXI) == [req.code]  # accepted is still open: the same problem, still being handled
    assert await codes(cat, HAIXI, exclude_id=req.id) == []
    assert await codes(cat, (0.0, 0.0)) == []


class _RollBack(Exception):
    pass


async def test_the_query_uses_the_partial_gist_index() -> None:
    """The query's open-status predicate must match the index's word for word, or 1M rows get scanned."""
    from backend.maps import service as maps

    cat = await fresh_category()
    await report_at(HAIXI, cat)
    lat, lon = HAIXI
    plan: list[dict] = []
    # On a table this small the plain category index (or the located requests' one) costs about the same as the
    # GiST one and the planner's pick flips with the statistics; the question here is only whether the GiST
    # index *can* serve the query, so those indexes are dropped for this one transaction, then rolled back.
    with contextlib.suppress(_RollBack):
        async with write_transaction():
            await Request.raw("SET LOCAL enable_seqscan = off")
            await Request.raw("DROP INDEX request_category")
            await Request.raw("DROP INDEX request_public_located")
            plan = await Request.raw(
                "EXPLAIN SELECT r.id FROM request r WHERE r.category = {} AND r.is_public AND r.lat IS NOT NULL AND "
                f"{maps.OPEN_SQL} AND point(r.lon, r.lat) <@ box(point({{}}, {{}}), point({{}}, {{}}))",
                cat, lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
            raise _RollBack
    assert await Request.raw("SELECT 1 FROM pg_indexes WHERE indexname = 'request_category'")  # rolled back
    text = "\n".join(r["QUERY PLAN"] for r in plan)
    assert "request_nearby_open" in text, text


async def _reporter(req: Request):
    from backend.accounts.service import load_viewer

    return await load_viewer(req.reporter)


def test_haversine_and_gcj02() -> None:
    assert abs(haversine_m(37.85, 112.55, *north_of((37.85, 112.55), 250)) - 250) < 0.01
    # GCJ-02 shifts Taiyuan by a few hundred metres; the inverse brings the point back to within a centimetre.
    glat, glon = wgs84_to_gcj02(37.85, 112.55)
    assert 100 < haversine_m(37.85, 112.55, glat, glon) < 800
    wlat, wlon = gcj02_to_wgs84(glat, glon)
    assert haversine_m(37.85, 112.55, wlat, wlon) < 0.01
    # The reference pair in the R geoChina docs (Tiananmen, checked there against google.cn maps):
    # WGS-84 39.90734, 116.39089 → GCJ-02 39.90874, 116.39713.
    blat, blon = wgs84_to_gcj02(39.90734, 116.39089)
    assert abs(blat - 39.90874) < 2e-4 and abs(blon - 116.39713) < 2e-4
    assert wgs84_to_gcj02(51.5, -0.12) == (51.5, -0.12)  # outside China: no shift


def test_a_gcj02_tile_source_shifts_what_is_drawn_and_the_pin_back() -> None:
    from backend.maps.config import MapConfig

    plain, gcj = MapConfig(), MapConfig(tiles="http://tiles.lan/{z}/{x}/{y}.png", crs="gcj02")
    assert plain.to_display(37.85, 112.55) == (37.85, 112.55) == plain.from_display(37.85, 112.55)
    shown = gcj.to_display(37.85, 112.55)
    assert shown != (37.85, 112.55)
    back = gcj.from_display(*shown)
    assert haversine_m(37.85, 112.55, *back) < 0.01
    assert not MapConfig(crs="gcj02").gcj  # no tiles: the boundaries are drawn as stored
