"""Photos: process and store uploads (in a thread), attach them to an event, serve them with a permission check.

Files are written BEFORE the database transaction; the Photo rows are inserted inside it through the
``attach`` callback of the request service. If the transaction fails, the caller discards the files,
so no row ever points at a missing file and no half-written request exists.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from backend.accounts.service import Viewer
from backend.db import utcnow
from backend.media.processing import MAX_BYTES, PhotoError, Processed, process_image
from backend.media.storage import get_storage
from backend.media.tables import Photo
from backend.requests.service import EventAttach, can_view
from backend.requests.tables import Event, Request, Status

MAX_PHOTOS = 9
VARIANTS = ("display", "thumb")
# Decoding big photos takes memory: at most two at a time per process, whatever the number of uploads.
_processing = asyncio.Semaphore(2)

__all__ = ["MAX_BYTES", "MAX_PHOTOS", "PhotoError", "StoredPhoto"]


@dataclass(frozen=True)
class StoredPhoto:
    display_key: str
    thumb_key: str
    original_key: str
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredPhoto:
        return cls(str(data["display_key"]), str(data["thumb_key"]), str(data["original_key"]),
                   int(data["width"]), int(data["height"]))


def _store_sync(data: bytes, processed: Processed) -> StoredPhoto:
    now = utcnow()
    stem = f"{now:%Y/%m}/{uuid.uuid4().hex}"
    photo = StoredPhoto(
        display_key=f"photos/{stem}-display.jpg",
        thumb_key=f"photos/{stem}-thumb.jpg",
        original_key=f"originals/{stem}.{processed.original_ext}",
        width=processed.width,
        height=processed.height,
    )
    storage = get_storage()
    storage.put(photo.original_key, data)
    storage.put(photo.display_key, processed.display)
    storage.put(photo.thumb_key, processed.thumb)
    return photo


def _process_and_store(data: bytes, filename: str) -> StoredPhoto:
    return _store_sync(data, process_image(data, filename))


async def store_uploads(files: list[tuple[str, bytes]]) -> list[StoredPhoto]:
    """Process and store every upload, or none: on the first bad file the ones already stored are deleted."""
    if len(files) > MAX_PHOTOS:
        raise PhotoError(f"最多上传 {MAX_PHOTOS} 张照片（您选择了 {len(files)} 张）")
    stored: list[StoredPhoto] = []
    try:
        for name, data in files:
            async with _processing:
                stored.append(await asyncio.to_thread(_process_and_store, data, name))
    except BaseException:
        await discard(stored)
        raise
    return stored


def _discard_sync(photos: list[StoredPhoto]) -> None:
    storage = get_storage()
    for p in photos:
        for key in (p.display_key, p.thumb_key, p.original_key):
            storage.delete(key)


async def discard(photos: list[StoredPhoto]) -> None:
    if photos:
        await asyncio.to_thread(_discard_sync, list(photos))


def attacher(photos: list[StoredPhoto]) -> EventAttach | None:
    """The ``attach`` callback for submit()/transition(): inserts the Photo rows in the event's transaction."""
    if not photos:
        return None

    async def attach(request_id: int, event_id: int) -> None:
        now = utcnow()
        await Photo.insert(*[
            Photo(request=request_id, event=event_id, display_key=p.display_key, thumb_key=p.thumb_key,
                  original_key=p.original_key, width=p.width, height=p.height, created_at=now)
            for p in photos
        ])

    return attach


async def photos_by_event(request_id: int) -> dict[int, list[dict[str, Any]]]:
    rows = await Photo.select(Photo.id, Photo.event, Photo.width, Photo.height).where(
        Photo.request == request_id).order_by(Photo.id)
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["event"], []).append(r)
    return out


async def may_see_photo(viewer: Viewer | None, photo_id: int) -> bool:
    row = await Photo.select(Photo.request, Photo.event).where(Photo.id == photo_id).first()
    if row is None:
        return False
    req = await Request.select().where(Request.id == row["request"]).first()
    if req is None:
        return False
    event_public = True
    if row["event"] is not None:
        ev = await Event.select(Event.is_public).where(Event.id == row["event"]).first()
        event_public = bool(ev and ev["is_public"])
    if req["is_public"] and event_public and req["status"] != Status.withdrawn.value:
        return True
    return await can_view(viewer, req)


async def read_photo(viewer: Viewer | None, photo_id: int, variant: str) -> bytes | None:
    """The JPEG bytes of a display or thumb copy, or None if it does not exist or the viewer may not see it."""
    if variant not in VARIANTS:
        return None
    if not await may_see_photo(viewer, photo_id):
        return None
    row = await Photo.select(Photo.display_key, Photo.thumb_key).where(Photo.id == photo_id).first()
    key = row["display_key"] if variant == "display" else row["thumb_key"]
    try:
        return await asyncio.to_thread(get_storage().get, key)
    except FileNotFoundError:
        return None


# Drafts live an hour (refreshed on each re-shown form); a day leaves a wide margin before a file counts as lost.
ORPHAN_AGE_SECONDS = 24 * 3600


async def sweep_orphans(older_than: float = ORPHAN_AGE_SECONDS) -> int:
    """Delete stored files no Photo row points at (drafts never sent, a crash between store and commit)."""
    storage = get_storage()
    keys: list[str] = []
    for prefix in ("photos", "originals"):
        keys += await asyncio.to_thread(storage.older_than, prefix, older_than)
    removed = 0
    for i in range(0, len(keys), 300):
        chunk = keys[i:i + 300]
        rows = await Photo.select(Photo.display_key, Photo.thumb_key, Photo.original_key).where(
            Photo.display_key.is_in(chunk) | Photo.thumb_key.is_in(chunk) | Photo.original_key.is_in(chunk))
        used = {k for r in rows for k in r.values()}
        for key in chunk:
            if key not in used:
                await asyncio.to_thread(storage.delete, key)
                removed += 1
    return removed


async def count_photos(request_id: int) -> int:
    return await Photo.count().where(Photo.request == request_id)
