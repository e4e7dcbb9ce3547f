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


# The day cube (migration stats_2026_11_25t09_00…, read and written with SQL in rollup.py):
#   stats_day  (submitted_day, street, community, kind, category, level) → the facts' summed counts
#   stats_hist (submitted_day, street, metric 'a'|'r', bucket) → n durations in that bucket
# street/community are 0 where a fact has none, so that the key is unique on both engines.


class StatsState(Table):
    """Named counters of the rollup, e.g. the event-id watermark up to which facts are derived."""

    name = Varchar(length=40, unique=True)
    value = Integer(default=0)
