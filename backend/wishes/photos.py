"""Wish photos: re-encoded to metadata-free JPEGs (display ≤1600 px, thumb ≤320 px) under media_dir/wishes.

Pillow work is CPU-bound and synchronous: callers run ``store_photo`` in a thread.
"""

from __future__ import annotations

import io
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

from backend.settings import get_settings

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 50_000_000  # larger is a decompression bomb for our purposes
DISPLAY_SIDE = 1600
THUMB_SIDE = 320
FORMATS = {"JPEG", "PNG", "WEBP", "GIF", "MPO"}


class PhotoError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class StoredPhoto:
    display_key: str
    thumb_key: str
    width: int
    height: int


def media_root() -> Path:
    return get_settings().media_dir / "wishes"


def _jpeg(img: Image.Image, quality: int) -> bytes:
    # A fresh image carries no EXIF/GPS/ICC/comments of the original.
    clean = Image.new("RGB", img.size)
    clean.paste(img)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def encode(data: bytes, filename: str = "") -> tuple[bytes, bytes, int, int]:
    """Check one upload and return (display JPEG, thumb JPEG, width, height)."""
    label = f"「{filename[:40]}」" if filename else "照片"
    if not data:
        raise PhotoError(f"{label}是空文件")
    if len(data) > MAX_BYTES:
        raise PhotoError(f"{label}超过 10 MB，请压缩后再上传")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in FORMATS:
                raise PhotoError(f"{label}不是支持的图片格式（JPEG、PNG、WebP）")
            if probe.width * probe.height > MAX_PIXELS:
                raise PhotoError(f"{label}的像素尺寸过大")
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (DISPLAY_SIDE, DISPLAY_SIDE))  # JPEG: decode at a reduced scale
            img.load()
            oriented = ImageOps.exif_transpose(img)
            if oriented.mode in ("RGBA", "LA", "P"):
                rgba = oriented.convert("RGBA")
                rgb = Image.new("RGB", rgba.size, (255, 255, 255))
                rgb.paste(rgba, mask=rgba.getchannel("A"))
            else:
                rgb = oriented.convert("RGB")
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(f"{label}的像素尺寸过大") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoError(f"{label}不是有效的图片文件") from exc
    rgb.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.LANCZOS)
    thumb = rgb.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    return _jpeg(rgb, 82), _jpeg(thumb, 75), rgb.width, rgb.height


def _write(key: str, data: bytes) -> None:
    path = media_root() / key
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # readers never see half a file


def store_photo(data: bytes, filename: str = "") -> StoredPhoto:
    display, thumb, width, height = encode(data, filename)
    token = secrets.token_hex(12)
    key = f"{token[:2]}/{token}"
    _write(key + ".jpg", display)
    _write(key + "_t.jpg", thumb)
    return StoredPhoto(display_key=key + ".jpg", thumb_key=key + "_t.jpg", width=width, height=height)


def read_photo(key: str) -> bytes | None:
    root = media_root().resolve()
    path = (root / key).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path.read_bytes()


def delete_photo(p: StoredPhoto) -> None:
    for key in (p.display_key, p.thumb_key):
        (media_root() / key).unlink(missing_ok=True)
