"""The unit tree: district → streets → communities → grids; departments and sections under the district."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class UnitKind(str, Enum):
    district = "district"
    street = "street"
    community = "community"
    grid = "grid"
    command_center = "command_center"
    department = "department"
    section = "section"
    office = "office"  # e.g. 区委组织部 (the organisation department, the assessor)


# Levels of the four-level linkage; departments and the command center act at district level.
LEVEL_OF_KIND: dict[str, str] = {
    "grid": "community",
    "community": "community",
    "street": "street",
    "district": "district",
    "command_center": "district",
    "department": "district",
    "section": "district",
    "office": "district",
}


class Unit(Table):
    name = Varchar(length=100)
    name_en = Varchar(length=150, default="")
    kind = Varchar(length=20, choices=UnitKind, index=True)
    parent = ForeignKey("self", null=True, default=None)
    # Materialised path of ids, e.g. "/1/4/23/": a subtree is ``path LIKE '/1/4/%'`` on both engines.
    path = Varchar(length=255, index=True, default="")
    depth = Integer(default=0)
    code = Varchar(length=40, unique=True)
    # GeoJSON geometry (Polygon/MultiPolygon) in lon/lat, for streets, communities and grids.
    boundary = Text(null=True, default=None)
    phone = Varchar(length=30, default="")
    sort = Integer(default=0)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
