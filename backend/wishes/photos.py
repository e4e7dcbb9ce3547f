"""A wish's photos (the wish itself, the proof of fulfilment): stored by the media domain, linked here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from backend.wishes.photo_files import PhotoError, StoredPhoto, delete_photo, store_photo
from backend.wishes.rules import WishError
from backend.wishes.tables import (
    WishPhoto,
)

log = logging.getLogger("qungong.wishes")


async def store_photos(files: Sequence[tuple[bytes, str]]) -> list[StoredPhoto]:
    """Re-encode uploads in a thread; on any bad file, remove what was stored and refuse."""
    stored: list[StoredPhoto] = []
    try:
        for data, filename in files:
            stored.append(await asyncio.to_thread(store_photo, data, filename))
    except PhotoError as exc:
        discard_photos(stored)
        raise WishError(exc.message, "photos") from exc
    return stored


def discard_photos(stored: Sequence[StoredPhoto]) -> None:
    for p in stored:
        try:
            delete_photo(p)
        except OSError:
            log.warning("could not delete photo %s", p.display_key)


async def attach_photos(wish_id: int, stored: Sequence[StoredPhoto], kind: str,
                        claim_id: int | None = None) -> list[int]:
    ids = []
    for p in stored:
        rows = await WishPhoto.insert(WishPhoto(
            wish=wish_id, claim=claim_id, kind=kind, display_key=p.display_key, thumb_key=p.thumb_key,
            width=p.width, height=p.height)).returning(WishPhoto.id)
        ids.append(rows[0]["id"])
    return ids
