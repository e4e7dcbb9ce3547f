"""A wish's photos (the wish itself, the proof of fulfilment): stored by the media domain, linked here.

Files are written before the wish's transaction; the Photo rows and their links inside it; if the
transaction fails the caller discards the files.
"""

from __future__ import annotations

from collections.abc import Sequence

from backend.media.processing import PhotoError
from backend.media.service import StoredPhoto, discard, save_rows, store_uploads
from backend.media.tables import Photo
from backend.wishes.rules import WishError
from backend.wishes.tables import WishPhoto


async def store_photos(files: Sequence[tuple[bytes, str]]) -> list[StoredPhoto]:
    """Re-encode uploads in media's thread pool; on any bad file, remove what was stored and refuse."""
    try:
        return await store_uploads([(filename, data) for data, filename in files])
    except PhotoError as exc:
        raise WishError(exc.message, "photos") from exc


async def discard_photos(stored: Sequence[StoredPhoto]) -> None:
    await discard(list(stored))


async def attach_photos(wish_id: int, stored: Sequence[StoredPhoto], kind: str,
                        claim_id: int | None = None) -> list[int]:
    """Inside the wish's transaction: the Photo rows and their links; the links' ids, in order."""
    ids = []
    for photo_id in await save_rows(list(stored)):
        rows = await WishPhoto.insert(WishPhoto(wish=wish_id, claim=claim_id, kind=kind, photo=photo_id)).returning(
            WishPhoto.id)
        ids.append(rows[0]["id"])
    return ids


async def remove_photos(wish_id: int, kind: str, link_ids: Sequence[int]) -> None:
    """Inside the wish's transaction: drop these photos of the wish (media's orphan sweep removes the files)."""
    gone = await WishPhoto.delete().where(
        (WishPhoto.wish == wish_id) & (WishPhoto.kind == kind) & WishPhoto.id.is_in(list(link_ids))
    ).returning(WishPhoto.photo)
    if gone:
        await Photo.delete().where(Photo.id.is_in([r["photo"] for r in gone]))
