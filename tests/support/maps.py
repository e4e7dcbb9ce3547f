"""Shared set-up for the maps tests: a fresh category (so other tests' requests never show up nearby) and
requests placed by coordinates in 海西社区 (LX-1 of the demo district)."""

from __future__ import annotations

import math
from datetime import datetime

from backend.accounts.service import Viewer
from backend.maps.coords import EARTH_RADIUS_M
from backend.requests import service
from backend.requests.service import NewRequest
from backend.requests.tables import Request
from backend.routing.geo import locate
from backend.routing.tables import Category
from tests.support.factories import unique
from tests.support.people import resident

# Inside 海西社区 (LX-1: lon 112.52–112.53, lat 37.845–37.8525), away from its edges.
HAIXI = (37.8487, 112.5245)


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0] + math.degrees(metres / EARTH_RADIUS_M), point[1]


def east_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    return point[0], point[1] + math.degrees(metres / EARTH_RADIUS_M) / math.cos(math.radians(point[0]))


async def fresh_category() -> int:
    cat = Category(code=unique("maps_"), name="测试类别", icon="")
    await cat.save()
    return cat.id


async def report_at(point: tuple[float, float], category_id: int, *, reporter: Viewer | None = None,
                    is_public: bool = True, description: str = "路灯坏了", now: datetime | None = None) -> Request:
    reporter = reporter or await resident()
    where = await locate(point[1], point[0])
    assert where is not None, point
    req, created = await service.submit(NewRequest(
        kind="help", category_id=category_id, description=description, community_id=where.community_id,
        grid_id=where.grid_id, street_id=where.street_id, lat=point[0], lon=point[1], is_public=is_public),
        reporter, now=now)
    assert created
    return req
