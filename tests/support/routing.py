"""Helpers for the routing tests: demo places, new requests at a point, reading a request's state."""

from __future__ import annotations

import re
from typing import Any

from backend.accounts.service import Viewer
from backend.requests import service
from backend.requests.service import NewRequest
from backend.requests.tables import Assignment, Event, Request
from backend.routing.geo import locate
from backend.routing.tables import Category
from tests.support.people import resident

# Points inside the demo district's synthetic boundaries (backend/demo.py): MQ is the third street,
# lon 112.56–112.58, lat 37.845–37.86; its first community 南海街一社区 (MQ-1) and grid MQ-1-1 sit at the
# south-west corner. LX-1-1 is 海西社区's first grid at the district's south-west corner.
MQ_1_1 = (112.562, 37.846)
LX_1_1 = (112.5205, 37.8455)
LX_1_2 = (112.5255, 37.8455)


async def category(code: str) -> Category:
    cat = await Category.objects().where(Category.code == code).first()
    assert cat is not None, code
    return cat


async def submit_at(
    point: tuple[float, float],
    category_code: str = "garbage",
    reporter: Viewer | None = None,
    description: str = "需要处理的问题",
    **kw: Any,
) -> tuple[Request, Viewer]:
    """Submit like the report form does when the phone gives a location: the place decides the community."""
    reporter = reporter or await resident()
    where = await locate(*point)
    assert where is not None, point
    cat = await category(category_code)
    req, created = await service.submit(
        NewRequest(
            kind="help",
            category_id=cat.id,
            description=description,
            community_id=where.community_id,
            grid_id=where.grid_id,
            street_id=where.street_id,
            lon=point[0],
            lat=point[1],
            **kw,
        ),
        reporter,
    )
    assert created
    return req, reporter


async def state(request_id: int) -> dict[str, Any]:
    return await Request.select().where(Request.id == request_id).first()


async def open_leads(request_id: int) -> list[dict[str, Any]]:
    return await Assignment.select().where(
        (Assignment.request == request_id) & (Assignment.role == "lead") & (Assignment.is_open == True)
    )


async def open_assists(request_id: int) -> list[dict[str, Any]]:
    return await Assignment.select().where(
        (Assignment.request == request_id) & (Assignment.role == "assist") & (Assignment.is_open == True)
    )


async def actions(request_id: int) -> list[str]:
    rows = await Event.select(Event.action).where(Event.request == request_id).order_by(Event.id)
    return [r["action"] for r in rows]


def hidden_version(html: str) -> int:
    m = re.search(r'name="version" value="(\d+)"', html)
    assert m, "the form carries the version"
    return int(m.group(1))
