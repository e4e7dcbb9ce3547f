"""Map configuration from the environment, read once (kept here so the shared settings stay untouched).

- ``QG_MAP_TILES``: an optional tile URL template (``https://t{s}.tianditu.gov.cn/...&tk=KEY`` or a
  self-hosted ``http://tiles.lan/{z}/{x}/{y}.png``). Unset: the base map is the district's own
  boundaries, drawn from our API, which needs no internet.
- ``QG_MAP_TILES_CRS``: ``wgs84`` (default; Tianditu, OpenStreetMap servers) or ``gcj02`` (AMap, Tencent).
- ``QG_MAP_TILES_ATTRIBUTION``: the credit line the tile provider requires.
- ``QG_MAP_TILES_SUBDOMAINS``: e.g. ``01234567`` for Tianditu's t0…t7.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

from backend.maps.coords import gcj02_to_wgs84, wgs84_to_gcj02


@dataclass(frozen=True)
class MapConfig:
    tiles: str = ""
    crs: str = "wgs84"
    attribution: str = ""
    subdomains: str = "abc"

    @property
    def gcj(self) -> bool:
        return bool(self.tiles) and self.crs == "gcj02"

    def to_display(self, lat: float, lon: float) -> tuple[float, float]:
        """Stored WGS-84 → what the map draws."""
        return wgs84_to_gcj02(lat, lon) if self.gcj else (lat, lon)

    def from_display(self, lat: float, lon: float) -> tuple[float, float]:
        """A point picked on the map → WGS-84 to store."""
        return gcj02_to_wgs84(lat, lon) if self.gcj else (lat, lon)


@cache
def map_config() -> MapConfig:
    crs = os.environ.get("QG_MAP_TILES_CRS", "wgs84").strip().lower()
    return MapConfig(
        tiles=os.environ.get("QG_MAP_TILES", "").strip(),
        crs=crs if crs in ("wgs84", "gcj02") else "wgs84",
        attribution=os.environ.get("QG_MAP_TILES_ATTRIBUTION", "").strip(),
        subdomains=os.environ.get("QG_MAP_TILES_SUBDOMAINS", "abc").strip() or "abc",
    )
