"""Image checks and derived copies: verify, apply orientation, strip all metadata, resize.

Pure and synchronous (CPU-bound Pillow work); the service runs it in a thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageFile, ImageOps
from pillow_heif import register_heif_opener

from backend.errors import DomainError
from backend.i18n import N_

register_heif_opener()
ImageFile.LOAD_TRUNCATED_IMAGES = False  # a truncated upload is refused, not half-decoded

MAX_BYTES = 15 * 1024 * 1024
# Phones reach 50 MP (8160×6120); anything larger is a decompression bomb for our purposes.
MAX_PIXELS = 52_000_000
# 8 bits per channel is what cameras deliver; 16-bit images cost double the memory and time for nothing.
EIGHT_BIT_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DISPLAY_SIDE = 1600
THUMB_SIDE = 320
# MPO: the multi-picture JPEG many phones write (depth or a second frame); its first frame is the photo.
ALLOWED_FORMATS = {"JPEG": "jpg", "MPO": "jpg", "PNG": "png", "WEBP": "webp", "HEIF": "heic"}


class PhotoError(DomainError):
    pass


@dataclass(frozen=True)
class Processed:
    display: bytes
    thumb: bytes
    width: int  # of the display copy
    height: int


def _label(name: str) -> str:
    name = (name or "").strip()[:40]
    return f"「{name}」" if name else N_("照片")


def _flatten(img: Image.Image) -> Image.Image:
    """RGB for JPEG: transparent areas on white, palettes and 16-bit and CMYK converted."""
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if img.mode != "RGB":
        return img.convert("RGB")
    return img


def _jpeg(img: Image.Image, quality: int) -> bytes:
    # A fresh image without .info: nothing of the original's metadata (EXIF, GPS, XMP, ICC, comments) can leak.
    clean = Image.new("RGB", img.size)
    clean.paste(img)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality, optimize=False, progressive=True)
    return out.getvalue()


def process_image(data: bytes, filename: str = "") -> Processed:
    """Check one upload and make its display and thumbnail copies. Raises PhotoError with a message for people."""
    label = _label(filename)
    if len(data) == 0:
        raise PhotoError(N_("{label}是空文件"), label=label)
    if len(data) > MAX_BYTES:
        raise PhotoError(N_("{label}超过 15 MB，请压缩后再上传"), label=label)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format or ""
            if fmt not in ALLOWED_FORMATS:
                raise PhotoError(N_("{label}不是支持的图片格式（仅支持 JPEG、PNG、WebP、HEIC）"), label=label)
            width, height = probe.size
            if width * height > MAX_PIXELS or width <= 0 or height <= 0:
                raise PhotoError(N_("{label}的像素尺寸过大（{width}×{height}），无法处理"), label=label, width=width,
                                 height=height)
            png_depth = data[24] if fmt == "PNG" and data[:8] == PNG_SIGNATURE and len(data) > 24 else 8
            if probe.mode not in EIGHT_BIT_MODES or png_depth > 8:
                raise PhotoError(N_("{label}是 16 位色深的图片，请转换为普通照片后再上传"), label=label)
            probe.verify()
        with Image.open(io.BytesIO(data)) as img:
            if fmt in ("JPEG", "MPO"):
                # Decode at a reduced scale straight away: a 12 MP photo decodes at 1/2 in a quarter of the memory.
                longest = max(width, height)
                if longest > DISPLAY_SIDE:
                    ratio = DISPLAY_SIDE / longest
                    img.draft("RGB", (max(1, int(width * ratio)), max(1, int(height * ratio))))
            img.load()
            # Resize before rotating: turning the small copy is cheaper than turning the full image.
            img.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
            oriented = ImageOps.exif_transpose(img)
            display = _flatten(oriented)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoError(N_("{label}的像素尺寸过大，无法处理"), label=label) from exc
    except Image.UnidentifiedImageError as exc:
        raise PhotoError(N_("{label}不是支持的图片格式（仅支持 JPEG、PNG、WebP、HEIC）"), label=label) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise PhotoError(N_("{label}文件不完整或已损坏，请重新选择"), label=label) from exc
    thumb = display.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return Processed(
        display=_jpeg(display, 82),
        thumb=_jpeg(thumb, 78),
        width=display.width,
        height=display.height,
    )
