"""Which stored photo (media's Photo) belongs to which request and event: the requests' side of a photo."""

from __future__ import annotations

from piccolo.columns import ForeignKey
from piccolo.table import Table

from backend.media.tables import Photo
from backend.requests.tables import Event, Request


class RequestPhoto(Table):
    photo = ForeignKey(Photo, unique=True)  # one owner per stored photo
    request = ForeignKey(Request, index=True)
    event = ForeignKey(Event, null=True, default=None, index=True)
