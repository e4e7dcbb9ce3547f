"""Generate the PNG app icons (192 and 512 px) with Pillow; run once when the design changes:

    .venv/bin/python -m backend.pwa.icons

The files are committed, so the app needs no font at run time.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from backend.pwa.assets import STATIC_DIR

RED = (176, 0, 32)
FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for path in FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def make_icon(size: int) -> Image.Image:
    # Full-bleed background: also valid as a "maskable" icon (the glyph sits inside the safe zone).
    img = Image.new("RGB", (size, size), RED)
    draw = ImageDraw.Draw(img)
    font = _font(int(size * 0.5))
    draw.text((size / 2, size / 2), "群", fill="white", font=font, anchor="mm")
    return img


def main() -> None:
    for size in (192, 512):
        out = STATIC_DIR / "icons" / f"icon-{size}.png"
        make_icon(size).save(out, "PNG", optimize=True)
        print(out, out.stat().st_size)


if __name__ == "__main__":
    main()
