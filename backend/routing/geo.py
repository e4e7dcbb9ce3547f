"""Jurisdiction: a point (lon, lat) → grid → community → street, using the unit boundaries.

A shapely STRtree over the grid polygons answers each lookup; the index is built from the
database on first use and rebuilt when the boundaries change: whoever edits a boundary publishes a
new token in Redis (``boundaries_changed()``) and every process compares it before a lookup. As a
safety net (a lost token write), an index is also rebuilt after ``MAX_AGE_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass

from shapely import STRtree
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from backend.organisation.tables import Unit, UnitKind
from backend.redis import redis_client

log = logging.getLogger("qungong.geo")


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
# The boundaries token the local index was built from. Any process that edits boundaries writes a new
# random token to Redis (``boundaries_changed``); every process compares before a lookup and rebuilds
# when it differs, so no web process or worker keeps answering from stale polygons.
_index_token: str | None = None
BOUNDARIES_KEY = "routing:boundaries:token"
MAX_AGE_SECONDS = 300
_built_at = 0.0


async def _current_token() -> str | None:
    try:
        return await redis_client().get(BOUNDARIES_KEY)
    except Exception:  # Redis down: keep answering from the index we have
        log.warning("cannot read the boundaries token; using the local jurisdiction index")
        return _index_token


async def load_index() -> JurisdictionIndex:
    global _index, _index_token, _built_at
    token = await _current_token()
    if _index is None or token != _index_token or time.monotonic() - _built_at > MAX_AGE_SECONDS:
        rows = await Unit.select(Unit.id, Unit.kind, Unit.parent, Unit.boundary).where(
            Unit.kind.is_in([UnitKind.grid.value, UnitKind.community.value]) & (Unit.active == True)
        )
        _index, _index_token, _built_at = JurisdictionIndex(rows), token, time.monotonic()
    return _index


def invalidate() -> None:
    """Drop this process's index (the next lookup rebuilds it)."""
    global _index
    _index = None


async def boundaries_changed() -> None:
    """Call after committing a boundary change: every process rebuilds its index on its next lookup."""
    invalidate()
    try:
        await redis_client().set(BOUNDARIES_KEY, secrets.token_hex(8))
    except Exception:  # the change is committed; other processes pick it up within MAX_AGE_SECONDS
        log.exception("cannot publish the boundaries token; other processes may use old boundaries")


async def locate(lon: float, lat: float) -> Jurisdiction | None:
    """The grid, community and street containing the point, or None outside the district."""
    return (await load_index()).locate(lon, lat)
