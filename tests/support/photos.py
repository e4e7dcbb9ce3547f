"""Images for upload tests, and a helper that fills the report form over HTTP."""

from __future__ import annotations

import io
import re
import struct
import zlib
from typing import Any

from PIL import ExifTags, Image

from backend.routing.tables import Category
from tests.support.people import unit

HAIXI_POINT = {"lat": "37.8465", "lon": "112.5225"}  # inside grid LX-1-1 of 海西社区
OUTSIDE_POINT = {"lat": "39.9042", "lon": "116.4074"}  # Beijing: outside the district


def jpeg(size: tuple[int, int] = (800, 600), *, gps: bool = True, orientation: int = 1,
         color: tuple[int, int, int] = (180, 40, 40)) -> bytes:
    """A JPEG with camera EXIF, optionally GPS coordinates and an orientation tag."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestPhone"
    exif[ExifTags.Base.Model] = "Secret Model 9"
    exif[ExifTags.Base.Orientation] = orientation
    if gps:
        g = exif.get_ifd(ExifTags.IFD.GPSInfo)
        g[ExifTags.GPS.GPSLatitudeRef] = "N"
        g[ExifTags.GPS.GPSLatitude] = (37.0, 50.0, 47.0)
        g[ExifTags.GPS.GPSLongitudeRef] = "E"
        g[ExifTags.GPS.GPSLongitude] = (112.0, 31.0, 21.0)
    img = Image.new("RGB", size, color)
    # A marker in the top-left corner so orientation can be checked after processing.
    img.paste((10, 200, 10), (0, 0, size[0] // 4, size[1] // 4))
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=85, comment=b"secret comment")
    return out.getvalue()


def image(fmt: str, size: tuple[int, int] = (300, 200), mode: str = "RGB") -> bytes:
    img = Image.new(mode, size, (20, 90, 200, 128) if mode == "RGBA" else (20, 90, 200))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg((1200, 900), gps=False)
    return data[: len(data) // 2]


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression bomb as far as the header says)."""
    data = image("PNG", (8, 8))
    ihdr_at = data.index(b"IHDR")
    body = struct.pack(">II", width, height) + data[ihdr_at + 12: ihdr_at + 17]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + body) & 0xFFFFFFFF)
    return data[:ihdr_at] + b"IHDR" + body + crc + data[ihdr_at + 4 + 13 + 4:]


async def category_id(code: str = "garbage") -> int:
    cat = await Category.objects().where(Category.code == code).first()
    assert cat is not None
    return cat.id


def form_key(html: str) -> str:
    m = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert m, "the form carries an idempotency key"
    return m.group(1)


async def report_data(client: Any, url: str = "/report", **fields: Any) -> dict[str, str]:
    """A valid report form (fresh key from the page), with ``fields`` overriding."""
    r = await client.get(url)
    assert r.status_code == 200, r.text
    community = await unit("LX-1")
    data = {
        "kind": "help", "category": str(await category_id()), "description": "楼道里堆满了垃圾，已经一周没人清理",
        "community": str(community.id), "address": "柳巷南路 18 号 3 单元", "is_public": "1",
        "idempotency_key": form_key(r.text),
    }
    data.update({k: str(v) for k, v in fields.items()})
    return data


def files(*blobs: bytes, name: str = "photo.jpg", mime: str = "image/jpeg") -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("photos", (f"{i}-{name}", b, mime)) for i, b in enumerate(blobs)]


def code_from(location: str) -> str:
    m = re.search(r"/report/done/([A-Z0-9]+)", location)
    assert m, location
    return m.group(1)
