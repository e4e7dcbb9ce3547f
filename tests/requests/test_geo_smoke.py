from backend.routing.geo import locate
from tests.support.people import unit


async def test_point_in_haixi_first_grid_and_outside_district() -> None:
    grid = await unit("LX-1-1")
    j = await locate(112.5205, 37.8455)
    assert j is not None and j.grid_id == grid.id and j.community_id == grid.parent
    assert await locate(100.0, 30.0) is None
