"""Photos: stored copies carry no metadata, have orientation applied and the right sizes; bad files are refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from backend.media.processing import PhotoError, process_image
from backend.media.storage import get_storage
from backend.media.tables import Photo
from backend.requests.photos.tables import RequestPhoto
from backend.requests.tables import Request
from tests.support.factories import fresh_phone
from tests.support.photos import bomb_png, code_from, files, image, jpeg, report_data, truncated_jpeg


def _assert_clean(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    assert img.format == "JPEG"
    assert len(img.getexif()) == 0
    assert "exif" not in img.info and "comment" not in img.info and "icc_profile" not in img.info
    assert b"Exif" not in data and b"TestPhone" not in data and b"secret comment" not in data
    return img


async def test_uploaded_photo_is_stored_without_exif_or_gps(client) -> None:
    source = jpeg((2400, 1200), gps=True, orientation=6)  # rotated 90° by the camera
    src = Image.open(io.BytesIO(source))
    assert src.getexif().get_ifd(0x8825), "the test photo really has GPS data"
    await client.login_resident(fresh_phone())
    data = await report_data(client)
    r = await client.post("/report", data=data, files=files(source))
    assert r.status_code == 303
    req = await Request.objects().where(Request.code == code_from(r.headers["location"])).first()
    link = await RequestPhoto.select(RequestPhoto.photo).where(RequestPhoto.request == req.id).first()
    photo = await Photo.objects().where(Photo.id == link["photo"]).first()
    storage = get_storage()
    display = _assert_clean(storage.get(photo.display_key))
    thumb = _assert_clean(storage.get(photo.thumb_key))
    # Orientation 6 applied: a 2400×1200 landscape becomes portrait, longest side 1600.
    assert display.size == (800, 1600) and (photo.width, photo.height) == (800, 1600)
    assert max(thumb.size) == 320 and thumb.size[0] < thumb.size[1]
    # The green marker of the top-left corner moved to the top-right after rotation.
    assert display.convert("RGB").getpixel((display.width - 5, 5))[1] > 150
    # No original is kept: nothing of the camera's metadata (GPS) stays on disk.
    assert photo.original_key == ""
    assert not [p for p in (storage.root / "originals").rglob("*") if p.is_file()]  # type: ignore[attr-defined]
    served = await client.get(f"/media/{photo.id}/display")
    assert served.status_code == 200
    _assert_clean(served.content)


@pytest.mark.parametrize("fmt,mode", [("PNG", "RGBA"), ("WEBP", "RGB"), ("HEIF", "RGB"), ("PNG", "P")])
def test_accepted_formats_become_clean_jpegs(fmt: str, mode: str) -> None:
    out = process_image(image(fmt, (500, 250), mode), f"x.{fmt.lower()}")
    assert (out.width, out.height) == (500, 250)
    _assert_clean(out.display)
    assert max(Image.open(io.BytesIO(out.thumb)).size) == 320


@pytest.mark.parametrize("data,message", [
    (b"", "空文件"),
    (b"GIF89a not really", "不是支持的图片格式"),
    (truncated_jpeg(), "文件不完整或已损坏"),
    (bomb_png(), "像素尺寸过大"),
    (bomb_png(9000, 8000), "像素尺寸过大"),
    (b"\xff\xd8" + b"0" * (15 * 1024 * 1024), "超过 15 MB"),
])
def test_bad_files_are_refused_with_a_message(data: bytes, message: str) -> None:
    with pytest.raises(PhotoError) as exc:
        process_image(data, "坏照片.jpg")
    assert message in exc.value.message and "坏照片.jpg" in exc.value.message


async def test_sweep_removes_only_files_no_record_points_at(client) -> None:
    import os
    import time

    from backend.media.service import store_uploads, sweep_orphans

    # A request's photo (kept) and a draft's photo that was never sent (swept once old enough).
    await client.login_resident(fresh_phone())
    data = await report_data(client)
    r = await client.post("/report", data=data, files=files(jpeg()))
    req = await Request.objects().where(Request.code == code_from(r.headers["location"])).first()
    link = await RequestPhoto.select(RequestPhoto.photo).where(RequestPhoto.request == req.id).first()
    kept = await Photo.objects().where(Photo.id == link["photo"]).first()
    [orphan] = await store_uploads([("draft.jpg", jpeg())])
    storage = get_storage()
    old = time.time() - 3 * 86400
    for key in (kept.display_key, kept.thumb_key, orphan.display_key, orphan.thumb_key):
        path = storage.root / key  # type: ignore[attr-defined]
        os.utime(path, (old, old))
    assert await sweep_orphans() >= 2
    assert all(storage.exists(k) for k in (kept.display_key, kept.thumb_key))
    assert not any(storage.exists(k) for k in (orphan.display_key, orphan.thumb_key))
