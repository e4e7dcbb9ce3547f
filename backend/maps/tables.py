"""Supporters of a request ("我也遇到了"): residents who have the same problem and follow it instead of
filing it again, and reporters whose own request was merged into it as a duplicate."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.requests.tables import Request


class SupportSource(str, Enum):
    me_too = "me_too"  # the resident pressed 我也遇到了
    duplicate = "duplicate"  # the resident's own request was marked a duplicate of this one


class Support(Table):
    # One support per (request, account): a unique index in the raw migration.
    request = ForeignKey(Request, index=True)
    account = ForeignKey(Account, index=True)
    source = Varchar(length=12, choices=SupportSource, default=SupportSource.me_too)
    created_at = Timestamptz(default=TimestamptzNow())
