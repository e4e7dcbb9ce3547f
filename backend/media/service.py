"""Photos for anyone: process and store uploads (in a thread), write their rows, read them back, sweep orphans.

Files are written BEFORE the owner's database transaction; the Photo rows are inserted inside it
(``save_rows``) together with the owner's link (a request's event, a wish). If the transaction fails, the
caller discards the files, so no row ever points at a missing file. This domain imports no owner's code:
the permission to see a photo is the owner's (``backend.requests.photos``, ``backend.wishes``).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from backend.db import utcnow
from backend.i18n import N_
from backend.media.processing import MAX_BYTES, PhotoError, Processed, process_image
from backend.media.storage import get_storage
from backend.media.tables import Photo

MAX_PHOTOS = 9
VARIANTS = ("display", "thumb")
# Decoding big photos takes memory and CPU: a pool of two threads per process for all of it, each photo
# queued on its own, so one request with nine big photos cannot hold the pool while others wait behind it
# (and image work never takes the default executor's threads from the rest of the app).
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="photos")

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


def _store_sync(processed: Processed) -> StoredPhoto:
    now = utcnow()
    stem = f"{now:%Y/%m}/{uuid.uuid4().hex}"
    # No original is kept: it would keep the camera's metadata (GPS above all) on disk.
    photo = StoredPhoto(
        display_key=f"photos/{stem}-display.jpg",
        thumb_key=f"photos/{stem}-thumb.jpg",
        original_key="",
        width=processed.width,
        height=processed.height,
    )
    storage = get_storage()
    storage.put(photo.display_key, processed.display)
    storage.put(photo.thumb_key, processed.thumb)
    return photo


def _process_and_store(data: bytes, filename: str) -> StoredPhoto:
    return _store_sync(process_image(data, filename))


async def store_uploads(files: list[tuple[str, bytes]]) -> list[StoredPhoto]:
    """Process and store every upload, or none: on the first bad file the ones already stored are deleted."""
    if len(files) > MAX_PHOTOS:
        raise PhotoError(N_("最多上传 {max} 张照片（您选择了 {n} 张）"), max=MAX_PHOTOS, n=len(files))
    stored: list[StoredPhoto] = []
    try:
        loop = asyncio.get_running_loop()
        for name, data in files:
            stored.append(await loop.run_in_executor(_pool, _process_and_store, data, name))
    except BaseException:
        await discard(stored)
        raise
    return stored


def _discard_sync(photos: list[StoredPhoto]) -> None:
    storage = get_storage()
    for p in photos:
        for key in (p.display_key, p.thumb_key, p.original_key):
            if key:
                storage.delete(key)


async def discard(photos: list[StoredPhoto]) -> None:
    if photos:
        await asyncio.to_thread(_discard_sync, list(photos))


async def save_rows(photos: list[StoredPhoto]) -> list[int]:
    """Inside the owner's transaction: one Photo row per stored photo; their ids, in order."""
    if not photos:
        return []
    now = utcnow()
    rows = await Photo.insert(*[
        Photo(display_key=p.display_key, thumb_key=p.thumb_key, original_key=p.original_key, width=p.width,
              height=p.height, created_at=now)
        for p in photos
    ]).returning(Photo.id)
    return [r["id"] for r in rows]


def read_file(key: str) -> bytes | None:
    """The bytes stored under ``key``, or None when there is no such file (synchronous: plain file I/O)."""
    try:
        return get_storage().get(key)
    except (FileNotFoundError, ValueError):
        return None


async def read_copy(photo_id: int, variant: str) -> bytes | None:
    """The JPEG bytes of a photo's display or thumb copy, or None. The owner checks who may see it first."""
    if variant not in VARIANTS:
        return None
    row = await Photo.select(Photo.display_key, Photo.thumb_key).where(Photo.id == photo_id).first()
    if row is None:
        return None
    return await asyncio.to_thread(read_file, row["display_key"] if variant == "display" else row["thumb_key"])


# Drafts live an hour (refreshed on each re-shown form); a day leaves a wide margin before a file counts as lost.
ORPHAN_AGE_SECONDS = 24 * 3600


async def sweep_orphans(older_than: float = ORPHAN_AGE_SECONDS) -> int:
    """Delete stored files no Photo row points at (drafts never sent, a crash between store and commit),
    and every original kept by earlier versions (they carry the camera's metadata)."""
    storage = get_storage()
    removed = 0
    for key in await asyncio.to_thread(storage.older_than, "originals", -1):
        await asyncio.to_thread(storage.delete, key)
        removed += 1
    if removed:
        await Photo.update({Photo.original_key: ""}).where(Photo.original_key != "")
    keys: list[str] = await asyncio.to_thread(storage.older_than, "photos", older_than)
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


# ---------------------------------------------------------------- upload quotas and expired drafts

# Counted before any image is decoded or written: photos and bytes per hour, per IP and per session
# (or account). Staff are accountable by name: no per-IP limit (a community office shares one IP).
UPLOAD_LIMITS = {"ip": (60, 300 * 1024 * 1024), "session": (30, 150 * 1024 * 1024),
                 "staff": (200, 1000 * 1024 * 1024)}
_QUOTA_LUA = """
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local b = redis.call('INCRBY', KEYS[2], ARGV[2])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], 3600) end
if redis.call('TTL', KEYS[2]) < 0 then redis.call('EXPIRE', KEYS[2], 3600) end
return {n, b, redis.call('TTL', KEYS[1])}
"""


class UploadQuotaExceeded(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("upload quota")
        self.retry_after = max(int(retry_after), 1)


async def take_upload_quota(files: list[tuple[str, bytes]], *, ip: str, holder: str, staff: bool) -> None:
    """Count these uploads against the hourly limits; raise ``UploadQuotaExceeded`` once over."""
    if not files:
        return
    from backend.redis import redis_client

    count, size = len(files), sum(len(d) for _, d in files)
    checks = [("staff" if staff else "session", holder)] + ([] if staff else [("ip", ip)])
    for kind, who in checks:
        max_count, max_bytes = UPLOAD_LIMITS[kind]
        n, b, ttl = await redis_client().eval(_QUOTA_LUA, 2, f"upload:{kind}:{who}:n", f"upload:{kind}:{who}:b",
                                              count, size)
        if int(n) > max_count or int(b) > max_bytes:
            raise UploadQuotaExceeded(int(ttl))


DRAFT_FILES = "qg:draft-files"  # photo keys held only by a draft, scored by when that draft expires


async def hold_for_draft(photos: list[StoredPhoto], expires_in: int) -> None:
    """Files of a draft (re)saved for ``expires_in`` seconds: deleted once it expires (``sweep_expired_drafts``)."""
    from backend.redis import redis_client

    if photos:
        until = time.time() + expires_in + 60
        await redis_client().zadd(DRAFT_FILES, {k: until for p in photos for k in (p.display_key, p.thumb_key)})


async def sweep_expired_drafts() -> int:
    """Delete the files of drafts that expired without becoming a request (no Photo row points at them)."""
    from backend.redis import redis_client

    r = redis_client()
    keys = [k if isinstance(k, str) else k.decode() for k in await r.zrangebyscore(DRAFT_FILES, 0, time.time())]
    if not keys:
        return 0
    rows = await Photo.select(Photo.display_key, Photo.thumb_key).where(
        Photo.display_key.is_in(keys) | Photo.thumb_key.is_in(keys))
    used = {k for row in rows for k in row.values()}
    removed = 0
    for key in keys:
        if key not in used:
            await asyncio.to_thread(get_storage().delete, key)
            removed += 1
    await r.zrem(DRAFT_FILES, *keys)
    return removed
