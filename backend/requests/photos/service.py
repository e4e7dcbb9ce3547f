"""A request's photos: stored by the media domain, linked here to the request and the event they came with.

Files are written BEFORE the request's transaction (``store_uploads``); the ``attacher`` callback of the
request service writes the Photo rows and their links inside it. If the transaction fails, the caller
discards the files (``discard``), so no row ever points at a missing file and no half-written request
exists. Who may see a photo is the request's rule (``can_view``).
"""

from __future__ import annotations

from typing import cast

from backend.accounts.service import Viewer
from backend.db import fetch_prepared
from backend.media.service import MAX_PHOTOS, StoredPhoto, discard, read_copy, save_rows, store_uploads
from backend.requests.photos.tables import RequestPhoto
from backend.requests.rows import EventPhoto
from backend.requests.service import EventAttach, can_view
from backend.requests.tables import Event, Request, Status

# The request pages use media's limit, storage and clean-up through this module.
__all__ = ["MAX_PHOTOS", "StoredPhoto", "attacher", "discard", "may_see_photo", "photos_by_event", "read_photo",
           "store_uploads"]


def attacher(photos: list[StoredPhoto]) -> EventAttach | None:
    """The ``attach`` callback for submit()/transition(): the Photo rows and their links, in the event's transaction."""
    if not photos:
        return None

    async def attach(request_id: int, event_id: int) -> None:
        ids = await save_rows(photos)
        await RequestPhoto.insert(*[RequestPhoto(photo=i, request=request_id, event=event_id) for i in ids])

    return attach


# Every request page reads it: prepared once per connection (fetch_prepared) rather than built by Piccolo.
_PHOTOS_BY_EVENT = ("SELECT rp.photo AS id, rp.event, p.width, p.height FROM request_photo rp "
                    "LEFT JOIN photo p ON p.id = rp.photo WHERE rp.request = $1 ORDER BY rp.photo")


async def photos_by_event(request_id: int) -> dict[int, list[EventPhoto]]:
    """Photos (media's id, width, height) of each event of a request."""
    out: dict[int, list[EventPhoto]] = {}
    for r in await fetch_prepared(_PHOTOS_BY_EVENT, request_id):
        out.setdefault(r["event"], []).append(cast(EventPhoto, dict(r)))
    return out


async def may_see_photo(viewer: Viewer | None, photo_id: int) -> bool:
    """Anyone, for a public event of a public request; else whoever may see the request."""
    row = await RequestPhoto.select(RequestPhoto.request, RequestPhoto.event).where(
        RequestPhoto.photo == photo_id).first()
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
    if not await may_see_photo(viewer, photo_id):
        return None
    return await read_copy(photo_id, variant)
