"""Jurisdiction: a point (lon, lat) → grid → community → street, using the unit boundaries.

A shapely STRtree over the grid polygons answers each lookup; the index is built from the
database on first use and rebuilt when the boundaries change (``invalidate()``), so every process
derives it from the same truth and keeps nothing another process needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from backend.organisation.tables import Unit, UnitKind


@dataclass(frozen=True)
class Jurisdiction:
    grid_id: int | None
    community_id: int
    street_id: int


class JurisdictionIndex:
    def __init__(self, rows: list[dict]) -> None:
        """``rows``: units with id, kind, parent, boundary (GeoJSON)."""
        by_id = {r["id"]: r for r in rows}
        self._grids: list[tuple[int, int, int]] = []  # (grid, community, street)
        geoms: list[BaseGeometry] = []
        self._communities: list[tuple[int, int]] = []
        cgeoms: list[BaseGeometry] = []
        for r in rows:
            if not r["boundary"]:
                continue
            if r["kind"] == UnitKind.grid.value:
                community = by_id.get(r["parent"])
                if community is None:
                    continue
                self._grids.append((r["id"], community["id"], community["parent"]))
                geoms.append(shape(json.loads(r["boundary"])))
            elif r["kind"] == UnitKind.community.value:
                self._communities.append((r["id"], r["parent"]))
                cgeoms.append(shape(json.loads(r["boundary"])))
        self._geoms, self._cgeoms = geoms, cgeoms
        self._tree = STRtree(geoms) if geoms else None
        self._ctree = STRtree(cgeoms) if cgeoms else None

    def locate(self, lon: float, lat: float) -> Jurisdiction | None:
        p = Point(lon, lat)
        if self._tree is not None:
            hits = self._tree.query(p, predicate="intersects")
            if len(hits):
                grid, community, street = self._grids[int(min(hits))]
                return Jurisdiction(grid, community, street)
        if self._ctree is not None:  # a community without grids drawn
            hits = self._ctree.query(p, predicate="intersects")
            if len(hits):
                community, street = self._communities[int(min(hits))]
                return Jurisdiction(None, community, street)
        return None


_index: JurisdictionIndex | None = None


async def load_index() -> JurisdictionIndex:
    global _index
    if _index is None:
        rows = await Unit.select(Unit.id, Unit.kind, Unit.parent, Unit.boundary).where(
            Unit.kind.is_in([UnitKind.grid.value, UnitKind.community.value]) & (Unit.active == True)  # noqa: E712
        )
        _index = JurisdictionIndex(rows)
    return _index


def invalidate() -> None:
    global _index
    _index = None


async def locate(lon: float, lat: float) -> Jurisdiction | None:
    """The grid, community and street containing the point, or None outside the district."""
    return (await load_index()).locate(lon, lat)
