"""Uploads (issue 15, items 4 and 14): hourly limits before any processing, bounded pixels and bit depth,
a draft's files deleted when it expires, MPO accepted, no original (with its GPS) kept on disk."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from backend.media import service as media
from backend.media.processing import PhotoError, process_image
from backend.media.storage import get_storage
from backend.media.tables import Photo
from backend.requests.photos.tables import RequestPhoto
from backend.requests.tables import Request
from tests.support.factories import fresh_phone
from tests.support.photos import code_from, files, jpeg, report_data


def _files_on_disk() -> int:
    root = get_storage().root  # type: ignore[attr-defined]
    return sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0


def png16(width: int = 64, height: int = 64) -> bytes:
    """A 48-bit RGB PNG (16 bits per channel), which Pillow would open as plain RGB."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x12\x34\x56\x78\x9a\xbc" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_sixteen_bit_images_are_refused_before_decoding() -> None:
    img = Image.new("I;16", (64, 64))
    out = io.BytesIO()
    img.save(out, "PNG")
    for data in (out.getvalue(), png16()):
        with pytest.raises(PhotoError, match="16 位"):
            process_image(data, "scan.png")


def test_more_pixels_than_a_phone_camera_are_refused() -> None:
    from tests.support.photos import bomb_png

    with pytest.raises(PhotoError, match="像素尺寸过大"):
        process_image(bomb_png(8000, 8000), "big.png")  # 64 MP: the probe's 8000×8000 PNGs
    process_image(jpeg((4000, 3000)), "phone.jpg")  # 12 MP is fine


def test_mpo_phone_photos_are_accepted_as_clean_jpegs() -> None:
    first, second = Image.new("RGB", (400, 300), "red"), Image.new("RGB", (400, 300), "blue")
    exif = Image.Exif()
    exif[0x8825] = {2: (37.0, 51.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    first.save(out, "MPO", save_all=True, append_images=[second], exif=exif)
    assert Image.open(io.BytesIO(out.getvalue())).format == "MPO"
    done = process_image(out.getvalue(), "IMG_0001.jpg")
    clean = Image.open(io.BytesIO(done.display))
    assert clean.format == "JPEG" and len(clean.getexif()) == 0 and (done.width, done.height) == (400, 300)
    assert clean.getpixel((10, 10))[0] > 200  # the first frame (red), not the second


async def test_anonymous_uploads_are_limited_before_anything_is_written(client, monkeypatch) -> None:
    monkeypatch.setitem(media.UPLOAD_LIMITS, "session", (4, 50 * 1024 * 1024))
    before = _files_on_disk()
    data = await report_data(client)
    r = await client.post("/report", data=data, files=files(jpeg(), jpeg(), jpeg()))
    assert r.status_code == 303  # three photos kept in the draft
    assert _files_on_disk() == before + 6  # display + thumb each, no original
    data = await report_data(client)
    r = await client.post("/report", data=data, files=files(jpeg(), jpeg()))
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0 and "上传的照片太多" in r.text
    assert _files_on_disk() == before + 6  # refused before any processing or writing


async def test_the_per_ip_limit_catches_fresh_sessions(client, new_client, monkeypatch) -> None:
    monkeypatch.setitem(media.UPLOAD_LIMITS, "ip", (3, 50 * 1024 * 1024))
    statuses = []
    for _ in range(3):
        async with new_client() as fresh:  # no cookies: a new session each time
            data = await report_data(fresh)
            statuses.append((await fresh.post("/report", data=data, files=files(jpeg(), jpeg()))).status_code)
    assert statuses == [303, 429, 429]


async def test_an_expired_drafts_files_are_deleted(client) -> None:
    data = await report_data(client)
    r = await client.post("/report", data=data, files=files(jpeg()))
    assert r.status_code == 303
    from backend.redis import redis_client

    held = await redis_client().zrange(media.DRAFT_FILES, 0, -1)
    assert len(held) == 2
    assert await media.sweep_expired_drafts() == 0  # the draft still lives: its files stay
    # The draft expires (an hour later): its files go at the next sweep.
    await redis_client().zadd(media.DRAFT_FILES, {k: time.time() - 1 for k in held})
    assert await media.sweep_expired_drafts() == 2
    storage = get_storage()
    assert not any(storage.exists(k if isinstance(k, str) else k.decode()) for k in held)


async def test_a_draft_that_became_a_request_keeps_its_files(client) -> None:
    data = await report_data(client)
    r = await client.post("/report", data=data, files=files(jpeg()))
    await client.login_resident(fresh_phone())
    resumed = await client.get(r.headers["location"].split("next=")[1])
    assert 'name="drafted" value="1"' in resumed.text
    r = await client.post("/report", data=data | {"drafted": "1"})  # what the resumed form sends
    req = await Request.objects().where(Request.code == code_from(r.headers["location"])).first()
    link = await RequestPhoto.select(RequestPhoto.photo).where(RequestPhoto.request == req.id).first()
    photo = await Photo.objects().where(Photo.id == link["photo"]).first()
    from backend.redis import redis_client

    await redis_client().zadd(media.DRAFT_FILES, {photo.display_key: 0, photo.thumb_key: 0})
    assert await media.sweep_expired_drafts() == 0
    assert get_storage().exists(photo.display_key)


async def test_originals_kept_by_earlier_versions_are_swept() -> None:
    storage = get_storage()
    storage.put("originals/2026/01/legacy.jpg", jpeg(gps=True))
    await media.sweep_orphans()
    assert not storage.exists("originals/2026/01/legacy.jpg")
