"""Stored photos: the metadata-free copies of one upload, for anyone.

Who a photo belongs to is recorded by its owner (a request's event: ``backend.requests.photos``; a wish:
``backend.wishes.tables.WishPhoto``), so this domain imports nobody's code. Files live in storage; rows are
written in the owner's transaction.
"""

from __future__ import annotations

from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class Photo(Table):
    # Storage keys. Display and thumb are metadata-free JPEGs; no original is kept (it would keep GPS).
    display_key = Varchar(length=200)
    thumb_key = Varchar(length=200)
    original_key = Varchar(length=200)
    width = Integer(default=0)  # of the display copy
    height = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
