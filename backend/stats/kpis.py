"""What each KPI is, in one place: its name, the definition shown next to it, and how it is computed,
from one request's facts (the direct reader, the live delta) and as SQL over the rollup's facts (the
worker's day cube). The dashboard, the exports and the rollup all read these lists.

- a request closed as a duplicate of another counts with the withdrawn ones (撤回/重复): one problem reported
  twice counts once, as its original; its reporter follows the original as a supporter.
- a supporter's rating (我也遇到了, issue 17; ``supporter_rate`` events) is shown on the request and enters no
  figure: satisfaction is one rating per problem, its reporter's, so a problem many people share is not
  weighed many times, and only the reporter's dissatisfied rating reopens it.
- cohort: the requests whose ``submit`` event lies in the period (local dates, both ends included)
  and that match the filters. Every figure is about one cohort, so a rate never exceeds 100 % and the
  list behind each number is exactly the requests it counts.
- a figure's facts come from the append-only event log only (``backend.stats.facts.Fact``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.db import utcnow
from backend.i18n import N_
from backend.stats.facts import Fact

BACKLOG_BUCKETS: tuple[tuple[str, str, float, float], ...] = (
    ("lt1d", N_("不足1天"), 0, 1),
    ("d1_3", N_("1–3天"), 1, 3),
    ("d3_7", N_("3–7天"), 3, 7),
    ("d7_30", N_("7–30天"), 7, 30),
    ("ge30d", N_("30天以上"), 30, math.inf),
)


@dataclass(frozen=True)
class Count:
    """A count over the cohort: what one request adds to it, in Python and in SQL over a ``stats_fact`` row
    ``x`` (summed into the ``stats_day`` column of the same name)."""

    name: str
    per_fact: Callable[[Fact], int]
    sql: str


def _kept(add: Callable[[Fact], int]) -> Callable[[Fact], int]:
    """Everything but ``submitted`` and ``withdrawn`` counts accepted requests only (not withdrawn)."""
    return lambda x: 0 if x.withdrawn else add(x)


COUNTS: tuple[Count, ...] = (
    Count("submitted", lambda x: 1, "COUNT(*)"),
    Count("withdrawn", lambda x: int(x.withdrawn), "SUM(x.withdrawn)"),
    Count("accepted", _kept(lambda x: 1), "SUM(1 - x.withdrawn)"),
    Count("completed", _kept(lambda x: int(x.completed)), "SUM(x.completed)"),
    Count("community_solved", _kept(lambda x: int(x.completed and not x.above_community)),
          "SUM(CASE WHEN x.completed = 1 AND x.above_community = 0 THEN 1 ELSE 0 END)"),
    Count("ratings", _kept(lambda x: x.rated), "SUM(CASE WHEN x.withdrawn = 0 THEN x.rated ELSE 0 END)"),
    Count("ratings_good", _kept(lambda x: x.rated_good), "SUM(CASE WHEN x.withdrawn = 0 THEN x.rated_good ELSE 0 END)"),
    Count("not_rated", _kept(lambda x: int(x.not_rated > 0)),
          "SUM(CASE WHEN x.withdrawn = 0 AND x.not_rated > 0 THEN 1 ELSE 0 END)"),
    Count("yellow", _kept(lambda x: x.yellow), "SUM(CASE WHEN x.withdrawn = 0 THEN x.yellow ELSE 0 END)"),
    Count("red", _kept(lambda x: x.red), "SUM(CASE WHEN x.withdrawn = 0 THEN x.red ELSE 0 END)"),
    Count("reopened", _kept(lambda x: int(x.reopens > 0)),
          "SUM(CASE WHEN x.withdrawn = 0 AND x.reopens > 0 THEN 1 ELSE 0 END)"),
    Count("resolved_once", _kept(lambda x: int(x.resolutions > 0)),
          "SUM(CASE WHEN x.withdrawn = 0 AND x.resolutions > 0 THEN 1 ELSE 0 END)"),
)
# rates: name → (numerator, denominator), both counts
RATES: dict[str, tuple[str, str]] = {
    "completion_rate": ("completed", "accepted"),
    "satisfaction_rate": ("ratings_good", "ratings"),
    "community_share": ("community_solved", "completed"),
    "reopen_rate": ("reopened", "resolved_once"),
}
# durations: name → the Fact attribute whose values are ranked (nearest rank at 50 % and 90 %)
DURATIONS: dict[str, str] = {"accept": "accept_seconds", "resolve": "resolve_seconds"}
PERCENTILES = (0.5, 0.9)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


@dataclass
class Kpis:
    submitted: int = 0
    withdrawn: int = 0
    accepted: int = 0
    completed: int = 0
    completion_rate: float | None = None
    ratings: int = 0
    ratings_good: int = 0
    ratings_bad: int = 0
    not_rated: int = 0
    satisfaction_rate: float | None = None
    community_solved: int = 0
    community_share: float | None = None
    accept_median: float | None = None
    accept_p90: float | None = None
    resolve_median: float | None = None
    resolve_p90: float | None = None
    yellow: int = 0
    red: int = 0
    reopened: int = 0
    resolved_once: int = 0
    reopen_rate: float | None = None
    open: int = 0
    backlog: dict[str, int] = field(default_factory=dict)


def backlog_bucket(fact: Fact, now: datetime) -> str:
    age_days = (now - fact.submitted_at).total_seconds() / 86400
    for key, _label, lo, hi in BACKLOG_BUCKETS:
        if lo <= age_days < hi:
            return key
    return BACKLOG_BUCKETS[0][0]  # submitted "in the future" (clock skew): youngest bucket


def new_kpis() -> Kpis:
    return Kpis(backlog={key: 0 for key, *_ in BACKLOG_BUCKETS})


def accumulate(k: Kpis, facts: Iterable[Fact], now: datetime, accept_times: list[float] | None = None,
               resolve_times: list[float] | None = None) -> Kpis:
    """Add these requests to the counts (and their durations to the lists, when given)."""
    for x in facts:
        for c in COUNTS:
            setattr(k, c.name, getattr(k, c.name) + c.per_fact(x))
        if x.withdrawn:
            continue
        if accept_times is not None and x.accept_seconds is not None:
            accept_times.append(x.accept_seconds)
        if resolve_times is not None and x.completed and x.resolve_seconds is not None:
            resolve_times.append(x.resolve_seconds)
        if x.is_open:  # the backlog depends on the moment of reading: never pre-aggregated
            k.open += 1
            k.backlog[backlog_bucket(x, now)] += 1
    return k


def add_counts(k: Kpis, counts: Mapping[str, Any]) -> Kpis:
    """Add pre-aggregated counts (from the rollup) to ``k``."""
    for name in [c.name for c in COUNTS] + ["open"]:
        setattr(k, name, getattr(k, name) + int(counts.get(name) or 0))
    for key, *_ in BACKLOG_BUCKETS:
        k.backlog[key] += int(counts.get(f"backlog_{key}") or 0)
    return k


def finish(k: Kpis, accept_times: list[float] | None = None, resolve_times: list[float] | None = None) -> Kpis:
    k.ratings_bad = k.ratings - k.ratings_good
    for name, (num, den) in RATES.items():
        setattr(k, name, ratio(getattr(k, num), getattr(k, den)))
    for name, values in (("accept", accept_times), ("resolve", resolve_times)):
        if values is not None:
            setattr(k, f"{name}_median", percentile(values, PERCENTILES[0]))
            setattr(k, f"{name}_p90", percentile(values, PERCENTILES[1]))
    return k


def compute(facts: Iterable[Fact], now: datetime | None = None) -> Kpis:
    accept_times: list[float] = []
    resolve_times: list[float] = []
    k = accumulate(new_kpis(), facts, now or utcnow(), accept_times, resolve_times)
    return finish(k, accept_times, resolve_times)


# ---------------------------------------------------------------- the lists behind the numbers

# metric → which requests it counts; ``now`` for the backlog ages.
def metric_predicate(metric: str, now: datetime) -> Callable[[Fact], bool] | None:
    preds: dict[str, Callable[[Fact], bool]] = {
        "submitted": lambda x: True,
        "withdrawn": lambda x: x.withdrawn,
        "accepted": lambda x: not x.withdrawn,
        "completed": lambda x: x.completed,
        "not_completed": lambda x: not x.withdrawn and not x.completed,
        "rated": lambda x: not x.withdrawn and x.rated > 0,
        "satisfied": lambda x: not x.withdrawn and x.rated_good > 0,
        "dissatisfied": lambda x: not x.withdrawn and x.rated > x.rated_good,
        "not_rated": lambda x: not x.withdrawn and x.not_rated > 0,
        "community": lambda x: x.completed and not x.above_community,
        "above_community": lambda x: x.completed and x.above_community,
        "accept_time": lambda x: not x.withdrawn and x.first_accept is not None,
        "resolve_time": lambda x: x.completed,
        "yellow": lambda x: not x.withdrawn and x.yellow > 0,
        "red": lambda x: not x.withdrawn and x.red > 0,
        "reopened": lambda x: not x.withdrawn and x.reopens > 0,
        "resolved_once": lambda x: not x.withdrawn and x.resolutions > 0,
        "open": lambda x: x.is_open,
    }
    for key, _label, _lo, _hi in BACKLOG_BUCKETS:
        preds[f"backlog_{key}"] = (lambda k: lambda x: x.is_open and backlog_bucket(x, now) == k)(key)
    return preds.get(metric)


METRIC_LABELS = {
    "submitted": "提交", "withdrawn": "撤回", "accepted": "受理", "completed": "办结", "not_completed": "未办结",
    "rated": "已评价", "satisfied": "满意或基本满意", "dissatisfied": "不满意", "not_rated": "未评价自动结案",
    "community": "社区层面办结", "above_community": "经街道或区级办结", "accept_time": "已受理",
    "resolve_time": "已办结", "yellow": "亮过黄灯", "red": "亮过红灯", "reopened": "重新办理过",
    "resolved_once": "办结过", "open": "未办结（积压）",
    **{f"backlog_{k}": f"积压 {label}" for k, label, _lo, _hi in BACKLOG_BUCKETS},
}


# ---------------------------------------------------------------- what the page shows next to each figure


@dataclass(frozen=True)
class Shown:
    key: str  # a Kpis attribute
    label: str
    metric: str  # the list behind the number
    kind: str  # count | rate | duration
    definition: str


SHOWN: tuple[Shown, ...] = (
    Shown("accepted", N_("受理数"), "accepted", "count",
          N_("统计期内提交（以“提交”事件时间为准）且未被居民撤回、也未被合并为重复诉求的诉求数（同一问题只计一次）。")),
    Shown("completed", N_("办结数"), "completed", "count",
          N_("受理数中，最新一条事件使其处于“已办结”或“已结案”的诉求数（被重新办理且尚未再次办结的不计）。")),
    Shown("completion_rate", N_("办结率"), "completed", "rate",
          N_("办结数 ÷ 受理数。")),
    Shown("satisfaction_rate", N_("满意度"), "satisfied", "rate",
          N_("（“满意”+“基本满意”评价次数）÷ 全部评价次数；每一次评价都计入，不满意后重新办理的仍计入；"
          "逾期未评价自动结案的不计入分子也不计入分母，单独列出。")),
    Shown("ratings", N_("评价次数"), "rated", "count",
          N_("居民对办理结果作出的评价总次数。")),
    Shown("ratings_bad", N_("不满意次数"), "dissatisfied", "count",
          N_("评价为“不满意”的次数（每次均退回原承办单位重新办理）。")),
    Shown("not_rated", N_("未评价结案数"), "not_rated", "count",
          N_("办结后居民逾期未评价、由系统自动结案的诉求数；从不计为满意。")),
    Shown("community_share", N_("社区层面办结占比"), "community", "rate",
          N_("办结数中，全过程的承办单位始终是社区或网格（从未上报到街道、区级或部门）的诉求所占比例。")),
    Shown("accept_median", N_("受理用时（中位数）"), "accept_time", "duration",
          N_("从提交到首次受理（或直接答复）的时长，取中位数（最近秩法）。")),
    Shown("accept_p90", N_("受理用时（第90百分位）"), "accept_time", "duration",
          N_("同上，取第 90 百分位（最近秩法）。")),
    Shown("resolve_median", N_("办结用时（中位数）"), "resolve_time", "duration",
          N_("已办结诉求从提交到最后一次办结（或答复）的时长，取中位数。")),
    Shown("resolve_p90", N_("办结用时（第90百分位）"), "resolve_time", "duration",
          N_("同上，取第 90 百分位。")),
    Shown("yellow", N_("黄灯次数"), "yellow", "count",
          N_("受理或办理超时亮黄灯的次数（来自亮灯事件）。")),
    Shown("red", N_("红灯次数"), "red", "count",
          N_("受理或办理超时亮红灯的次数（来自亮灯事件）；红灯须书面说明。")),
    Shown("reopen_rate", N_("重办率"), "reopened", "rate",
          N_("至少被重新办理一次的诉求数 ÷ 至少办结过一次的诉求数。")),
    Shown("open", N_("积压（未办结）"), "open", "count",
          N_("受理数中当前仍未办结的诉求数，下方按提交至今的时长分段。")),
)

# The public statistics page's figures (its definitions are these, word for word).
PUBLIC_KEYS = ("accepted", "completion_rate", "satisfaction_rate", "community_share", "not_rated")


def shown(keys: Iterable[str]) -> list[Shown]:
    by_key = {s.key: s for s in SHOWN}
    return [by_key[k] for k in keys]


# The dashboard's ranking of units: its order and the sentence shown above it.
RANKING_DEFINITION = N_("按诉求发生地归属单位统计；先按办结率、再按满意度排序。")


def ranking_key(k: Kpis) -> tuple[float, float, int, int]:
    """Completion rate, then satisfaction (both descending); then more accepted, then fewer red lights."""
    return (-(k.completion_rate or 0), -(k.satisfaction_rate or 0), -k.accepted, k.red)

