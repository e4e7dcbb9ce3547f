"""The KPI rollup: one row per request, derived by the worker from that request's events.

It is a cache, never a source: every row records the newest event it was derived from, and the
dashboard recomputes live from the event log every request whose events are newer than the rollup's
watermark. Deleting the whole table loses speed, never a number.
"""

from __future__ import annotations

from piccolo.columns import Boolean, DoublePrecision, Integer, Timestamptz, Varchar
from piccolo.table import Table


class StatsFact(Table):
    request = Integer(unique=True)
    code = Varchar(length=20, default="")
    kind = Varchar(length=15, default="", index=True)
    category = Integer(default=0, index=True)
    street = Integer(null=True, default=None, index=True)
    community = Integer(null=True, default=None, index=True)
    grid = Integer(null=True, default=None)
    is_public = Boolean(default=True)
    level = Varchar(length=12, default="community")
    status = Varchar(length=12, default="")
    submitted_at = Timestamptz(index=True)
    submitted_day = Varchar(length=10, default="")  # local date, for the trend
    # 0/1 integers so that SUM() works the same on both engines
    withdrawn = Integer(default=0)
    completed = Integer(default=0)
    is_open = Integer(default=0)
    above_community = Integer(default=0)
    accept_secs = DoublePrecision(null=True, default=None)
    resolve_secs = DoublePrecision(null=True, default=None)
    resolutions = Integer(default=0)
    reopens = Integer(default=0)
    rated = Integer(default=0)
    rated_good = Integer(default=0)
    yellow = Integer(default=0)
    red = Integer(default=0)
    not_rated = Integer(default=0)
    last_event = Integer(default=0)
    # duration buckets (rollup.duration_bucket) of accepted requests' times, for exact percentiles
    accept_bucket = Integer(null=True, default=None)
    resolve_bucket = Integer(null=True, default=None)
    cross_lead = Integer(default=0)  # ever led by a unit other than its own street, community or grid


class _CubeRow:
    """The cube's key and sums (a Piccolo mixin: the day cube and the month cube have the same columns).

    street/community are 0 where a fact has none, so that the key is unique. The key's unique index
    carries the sums (INCLUDE, in the SQL migrations), so a period is read from the index alone."""

    submitted_day = Varchar(length=10)
    street = Integer()
    community = Integer()
    kind = Varchar(length=15)
    category = Integer()
    level = Varchar(length=12)
    submitted = Integer(default=0)
    withdrawn = Integer(default=0)
    accepted = Integer(default=0)
    completed = Integer(default=0)
    community_solved = Integer(default=0)
    ratings = Integer(default=0)
    ratings_good = Integer(default=0)
    not_rated = Integer(default=0)
    yellow = Integer(default=0)
    red = Integer(default=0)
    reopened = Integer(default=0)
    resolved_once = Integer(default=0)


class StatsDay(_CubeRow, Table):
    """The day cube: the facts' counts summed by (local day, street, community, kind, category, level)."""


class StatsMonth(_CubeRow, Table):
    """The month cube: the day cube summed by month, keyed by the month's first day (``submitted_day`` =
    "2026-03-01"), so that a year is twelve months of rows instead of 365 days of them. Kept with the day
    cube, in the same transaction (rollup.py)."""


class _HistRow:
    """How many time-to-accept ('a') / time-to-resolve ('r') values fall into each duration bucket."""

    submitted_day = Varchar(length=10)
    street = Integer()
    metric = Varchar(length=1)
    bucket = Integer()
    n = Integer(default=0)


class StatsHist(_HistRow, Table):
    """The durations by (local day, street): the exact percentiles are read from the one bucket holding each rank."""


class StatsMonthHist(_HistRow, Table):
    """The durations by (month's first day, street), kept with the day histograms."""


class StatsState(Table):
    """Named counters of the rollup, e.g. the event-id watermark up to which facts are derived."""

    name = Varchar(length=40, unique=True)
    value = Integer(default=0)
