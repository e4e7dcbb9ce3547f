"""Photos attached to a request's events. Files live in storage; rows are written in the event's transaction."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.requests.tables import Event, Request


class Photo(Table):
    request = ForeignKey(Request, index=True)
    event = ForeignKey(Event, null=True, default=None, index=True)
    # Storage keys. Display and thumb are metadata-free JPEGs; the original is kept privately, never served.
    display_key = Varchar(length=200)
    thumb_key = Varchar(length=200)
    original_key = Varchar(length=200)
    width = Integer(default=0)  # of the display copy
    height = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
