"""Satisfaction ratings (满意度测评): one per resolution, by the resident who submitted the request."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.requests.tables import Request


class Score(str, Enum):
    satisfied = "satisfied"  # 满意
    basic = "basic"  # 基本满意
    dissatisfied = "dissatisfied"  # 不满意


class Rating(Table):
    request = ForeignKey(Request, index=True)
    # The resolve/answer event being rated: unique, so a resolution is rated at most once.
    resolution_event = Integer(unique=True)
    resident = ForeignKey(Account, index=True)
    score = Varchar(length=12, choices=Score)
    comment = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class SupporterRating(Table):
    """A supporter's (我也遇到了) rating of a resolution: shown on the request, never closing or reopening it
    (only the reporter's rating does) and not in the satisfaction rate (see backend.stats.kpis). One per
    supporter and resolution: a unique index in the raw migration."""

    request = ForeignKey(Request, index=True)
    resolution_event = Integer(index=True)
    account = ForeignKey(Account, index=True)
    score = Varchar(length=12, choices=Score)
    comment = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
