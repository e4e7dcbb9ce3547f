"""Jurisdiction: the place decides the community; boundaries edited by an admin reach every process."""

from __future__ import annotations

import json

from backend.demo import rect
from backend.organisation.service import create_unit
from backend.organisation.tables import Unit
from backend.redis import redis_client
from backend.requests import service
from backend.requests.service import NewRequest
from backend.routing import geo
from tests.support.factories import unique
from tests.support.people import resident, staff, unit
from tests.support.routing import LX_1_1, MQ_1_1, category


async def test_a_place_outside_the_reporters_community_goes_to_the_place() -> None:
    """A resident of 海西社区 (柳巷街道) reports something in 庙前街道: the request belongs to the place."""
    mq, mq_1, grid = await unit("MQ"), await unit("MQ-1"), await unit("MQ-1-1")
    where = await geo.locate(*MQ_1_1)
    assert where == geo.Jurisdiction(grid.id, mq_1.id, mq.id)
    home = await geo.locate(*LX_1_1)
    assert home is not None and home.community_id == (await unit("LX-1")).id
    toilet = await category("public_toilet")
    req, _ = await service.submit(
        NewRequest(
            kind="help",
            category_id=toilet.id,
            description="公厕坏了",
            community_id=where.community_id,
            grid_id=where.grid_id,
            street_id=where.street_id,
            lon=MQ_1_1[0],
            lat=MQ_1_1[1],
        ),
        await resident(),
    )
    assert (req.street, req.community, req.grid) == (mq.id, mq_1.id, grid.id)
    assert (req.current_unit, req.current_person) == (mq_1.id, (await staff("wg_mq_1_1")).id)


async def test_outside_every_boundary_is_none() -> None:
    assert await geo.locate(100.0, 30.0) is None
    assert await geo.locate(112.5199, 37.8455) is None  # just west of the district


async def _far_grid() -> tuple[Unit, Unit, float, float]:
    """A community and grid of our own, far from the demo district, so editing it disturbs no one."""
    lon, lat = 120.0 + (hash(unique("x")) % 1000) / 100, 30.0
    community = await create_unit(
        name=unique("测试社区"),
        kind="community",
        code=unique("TC"),
        parent_id=(await unit("MQ")).id,
        boundary=rect(lon, lat, 0.01, 0.01),
    )
    grid = await create_unit(
        name=unique("测试网格"),
        kind="grid",
        code=unique("TG"),
        parent_id=community.id,
        boundary=rect(lon, lat, 0.01, 0.01),
    )
    await geo.boundaries_changed()
    return community, grid, lon, lat


async def test_boundary_change_by_another_process_is_seen() -> None:
    community, grid, lon, lat = await _far_grid()
    inside = (lon + 0.005, lat + 0.005)
    assert (await geo.locate(*inside)).grid_id == grid.id
    # Another process moves the grid (writes the database, then the shared token) without touching our memory.
    await Unit.update({Unit.boundary: rect(lon + 1, lat, 0.01, 0.01)}).where(Unit.id.is_in([grid.id, community.id]))
    await redis_client().set(geo.BOUNDARIES_KEY, "changed-elsewhere-" + unique("t"))
    assert await geo.locate(*inside) is None
    assert (await geo.locate(inside[0] + 1, inside[1])).grid_id == grid.id


async def test_admin_sets_a_boundary_and_checks_a_point(client) -> None:
    _community, grid, lon, lat = await _far_grid()
    await client.login_staff("admin")
    page = await client.get("/admin/boundaries")
    assert page.status_code == 200 and grid.code in page.text
    moved = rect(lon + 2, lat, 0.01, 0.01)
    for text, message in (
        ("", "请填写边界"),
        ("{not json", "不是有效的 GeoJSON"),
        (json.dumps({"type": "Point", "coordinates": [1, 2]}), "必须是多边形"),
        (json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}), "自相交"),
        (json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [400, 0], [400, 1], [0, 0]]]}), "经度、纬度"),
    ):
        r = await client.post("/admin/boundaries", data={"unit": grid.id, "boundary": text})
        assert r.status_code == 400 and message in r.text, message
    r = await client.post("/admin/boundaries", data={"unit": (await unit("YZQ-ZHZX")).id, "boundary": moved})
    assert r.status_code == 400 and "只能为街道、社区或网格设置边界" in r.text
    assert (await Unit.select(Unit.boundary).where(Unit.id == grid.id).first())["boundary"] == rect(
        lon, lat, 0.01, 0.01
    )
    r = await client.post("/admin/boundaries", data={"unit": grid.id, "boundary": moved})
    assert r.status_code == 303
    found = await client.get("/admin/boundaries", params={"lon": lon + 2.005, "lat": lat + 0.005})
    assert found.status_code == 200 and grid.name in found.text
    outside = await client.get("/admin/boundaries", params={"lon": 0, "lat": 0})
    assert "不在本区任何辖区内" in outside.text
    bad = await client.get("/admin/boundaries", params={"lon": "abc", "lat": 1})
    assert bad.status_code == 400 and "有效的经度和纬度" in bad.text
    await client.login_staff("zhzx")
    assert (await client.get("/admin/boundaries")).status_code == 403


async def test_report_from_outside_every_boundary_is_refused(client) -> None:
    import uuid

    from backend.requests.tables import Request

    key = uuid.uuid4().hex
    await client.login_resident("13800000001")
    r = await client.post(
        "/report",
        data={
            "kind": "help",
            "category": (await category("garbage")).id,
            "description": "在区外",
            "lon": 100.0,
            "lat": 30.0,
            "is_public": "1",
            "idempotency_key": key,
        },
    )
    assert r.status_code == 400 and "范围" in r.text
    assert not await Request.exists().where(Request.idempotency_key == key)
