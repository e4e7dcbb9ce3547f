"""KPIs of the command center, computed from the append-only event log. No Litestar imports.

Everything here is derived from ``event`` rows (which no path can edit or delete) plus the
request's immutable attributes (kind, category, place). The cached columns of ``request``
(status, resolved_at, …) are never read for a figure: they could drift, the events cannot.

Definitions (shown next to every figure on the dashboard, see ``DEFINITIONS``):

- cohort: the requests whose ``submit`` event lies in the period (local dates, both ends
  included) and that match the filters. Every figure below is about one cohort, so a rate
  never exceeds 100 % and the list behind each number is exactly the requests it counts.
- 受理数 accepted: cohort requests not withdrawn by their resident (the seed's "受理"), and not closed as a
  duplicate of another: one problem reported twice counts once, as its original (a duplicate is counted
  with the withdrawn ones, "撤回/重复"; its reporter follows the original as a supporter).
- 办结数 completed: accepted requests whose latest event leaves them resolved or closed.
- 办结率 completion rate: completed / accepted.
- 满意度 satisfaction: ratings "satisfied" + "basically satisfied" / all ratings given, counting
  every rating event (a dissatisfied rating stays counted after the reopen). Requests closed as
  "not rated" are shown separately and never counted as satisfied.
- 社区办结占比 share solved at community level: completed requests whose responsible unit was a
  community or grid in every event, / completed.
- time to accept: first accept (or direct answer) − submit; time to resolve: last resolution −
  submit, for completed requests; median and 90th percentile by nearest rank.
- yellow / red: light events (action "light") of accepted requests.
- 重办率 reopen rate: requests reopened at least once / requests resolved at least once.
- backlog: accepted requests still open now, by age since submit.
- level: the level of the unit responsible after the latest event (community / street / district).
- unit: the request arose in the unit's area (street, community or grid) or the unit or one of
  its sub-units was ever its lead (主办).

Two readers give the same figures (the property test checks both against a recomputation):
``dashboard()`` here reads the events directly (used for lists and exports, chunk by chunk), and
``backend.stats.rollup.dashboard()`` sums the worker's per-request rollup and reads live only the
requests changed since the rollup's watermark (used by the pages, cached under the newest event id).
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.db import utcnow
from backend.organisation.tables import LEVEL_OF_KIND, Unit
from backend.requests.tables import Kind, Status
from backend.routing.tables import Category
from backend.settings import get_settings

GOOD = ("satisfied", "basic")
OPEN = tuple(s.value for s in (Status.submitted, Status.assigned, Status.accepted, Status.returned))
DONE = (Status.resolved.value, Status.closed.value)
GRAINS = ("day", "week", "month")
LEVELS = ("community", "street", "district")
MAX_DAYS = 3660
MAX_BUCKETS = 400
BACKLOG_BUCKETS: tuple[tuple[str, str, float, float], ...] = (
    ("lt1d", "不足1天", 0, 1),
    ("d1_3", "1–3天", 1, 3),
    ("d3_7", "3–7天", 3, 7),
    ("d7_30", "7–30天", 7, 30),
    ("ge30d", "30天以上", 30, math.inf),
)
KIND_LABELS = {"help": "求助", "suggestion": "建议", "consultation": "咨询", "complaint": "投诉"}
LEVEL_LABELS = {"community": "社区（含网格）", "street": "街道", "district": "区级"}
STATUS_LABELS = {"submitted": "已提交", "assigned": "待受理", "accepted": "办理中", "resolved": "已办结",
                 "returned": "已退回待派单", "closed": "已结案", "withdrawn": "已撤回",
                 "duplicate": "重复诉求（已合并）"}


class FilterError(ValueError):
    """A period or filter the dashboard cannot use; the message says why (HTTP 400)."""


def tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    start: date  # local date, included
    end: date  # local date, included
    unit_id: int | None = None
    unit_path: str | None = None
    unit_name: str = ""
    level: str | None = None
    kind: str | None = None
    category_id: int | None = None
    grain: str = "day"

    @property
    def start_utc(self) -> datetime:
        return datetime.combine(self.start, datetime.min.time(), tz()).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """Exclusive end: local midnight after ``end``."""
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time(), tz()).astimezone(UTC)

    def query(self, **extra: Any) -> dict[str, str]:
        """URL parameters reproducing these filters (for links behind every number)."""
        q: dict[str, str] = {"start": self.start.isoformat(), "end": self.end.isoformat(), "grain": self.grain}
        if self.unit_id:
            q["unit"] = str(self.unit_id)
        if self.level:
            q["level"] = self.level
        if self.kind:
            q["kind"] = self.kind
        if self.category_id:
            q["category"] = str(self.category_id)
        q.update({k: str(v) for k, v in extra.items() if v is not None})
        return q


def _parse_date(value: str, label: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise FilterError(f"{label}“{value[:20]}”不是有效日期，请使用 年-月-日 格式，例如 2026-01-31") from exc


def _parse_int(value: str, label: str) -> int:
    try:
        n = int(value.strip())
    except ValueError as exc:
        raise FilterError(f"{label}参数“{value[:20]}”无效") from exc
    if n <= 0:
        raise FilterError(f"{label}参数“{value[:20]}”无效")
    return n


async def parse_filters(params: Mapping[str, str], scope_paths: Iterable[str], *, today: date | None = None,
                        default_days: int = 30) -> Filters:
    """Validate query parameters against the viewer's scope. Raises FilterError with a clear message."""
    today = today or utcnow().astimezone(tz()).date()
    raw_start, raw_end = (params.get("start") or "").strip(), (params.get("end") or "").strip()
    end = _parse_date(raw_end, "结束日期") if raw_end else today
    start = _parse_date(raw_start, "开始日期") if raw_start else end - timedelta(days=default_days - 1)
    if start > end:
        raise FilterError("开始日期不能晚于结束日期")
    if (end - start).days + 1 > MAX_DAYS:
        raise FilterError(f"统计区间最长 {MAX_DAYS} 天，请缩短区间")
    grain = (params.get("grain") or "").strip() or ("day" if (end - start).days < 62 else "month")
    if grain not in GRAINS:
        raise FilterError("趋势粒度只能是 按日、按周 或 按月")
    n_buckets = len(bucket_keys(start, end, grain))
    if n_buckets > MAX_BUCKETS:
        raise FilterError(f"按{ {'day': '日', 'week': '周', 'month': '月'}[grain] }显示将有 {n_buckets} 个时间段，"
                          f"最多 {MAX_BUCKETS} 个，请改用更粗的粒度或缩短区间")
    level = (params.get("level") or "").strip() or None
    if level is not None and level not in LEVELS:
        raise FilterError("层级只能是 社区、街道 或 区级")
    kind = (params.get("kind") or "").strip() or None
    if kind is not None and kind not in {k.value for k in Kind}:
        raise FilterError("诉求类型无效")
    category_id = None
    raw_cat = (params.get("category") or "").strip()
    if raw_cat:
        category_id = _parse_int(raw_cat, "类别")
        if not await Category.exists().where(Category.id == category_id):
            raise FilterError("所选类别不存在")
    scopes = tuple(scope_paths)
    if not scopes:
        raise FilterError("您没有可查看的单位范围")
    unit_id, unit_path, unit_name = None, None, ""
    raw_unit = (params.get("unit") or "").strip()
    if raw_unit:
        unit_id = _parse_int(raw_unit, "单位")
        row = await Unit.select(Unit.path, Unit.name).where(Unit.id == unit_id).first()
        if row is None:
            raise FilterError("所选单位不存在")
        if not any(row["path"].startswith(p) for p in scopes):
            raise FilterError("所选单位不在您的查看范围内")
        unit_path, unit_name = row["path"], row["name"]
    else:
        root = min(scopes, key=len)
        if len(scopes) > 1 and not all(p.startswith(root) for p in scopes):
            root = scopes[0]
        if root.count("/") > 2:  # below the district root: a subtree viewer (unit head)
            row = await Unit.select(Unit.id, Unit.name).where(Unit.path == root).first()
            if row:
                unit_id, unit_path, unit_name = row["id"], root, row["name"]
    return Filters(start, end, unit_id, unit_path, unit_name, level, kind, category_id, grain)


# ---------------------------------------------------------------- per-request facts from events


@dataclass(slots=True)
class Fact:
    """What the event log says about one cohort request (derived values computed once)."""

    id: int
    code: str
    kind: str
    category: int
    street: int | None
    community: int | None
    grid: int | None
    is_public: bool
    submitted_at: datetime
    status: str  # to_status of the latest event
    level: str  # level of the unit responsible after the latest event
    first_accept: datetime | None
    last_resolve: datetime | None
    resolutions: int
    reopens: int
    rated: int
    rated_good: int
    yellow: int
    red: int
    not_rated: int
    above_community: bool
    withdrawn: bool = False
    completed: bool = False
    is_open: bool = False
    accept_seconds: float | None = None
    resolve_seconds: float | None = None
    cross_lead: bool = False  # ever led by a unit other than its own street, community or grid

    def __post_init__(self) -> None:
        # A duplicate (issue 17) leaves the cohort like a withdrawal: the problem is counted once, as its original.
        self.withdrawn = self.status in (Status.withdrawn.value, Status.duplicate.value)
        self.completed = self.status in DONE
        self.is_open = self.status in OPEN
        if self.first_accept is not None:
            self.accept_seconds = (self.first_accept - self.submitted_at).total_seconds()
        if self.completed and self.last_resolve is not None:
            self.resolve_seconds = (self.last_resolve - self.submitted_at).total_seconds()


def _dt(value: Any) -> datetime | None:
    """A UTC-aware datetime from a raw row (strings from JSON values, datetimes from columns)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json(column: str, key: str) -> str:
    return f"({column}::jsonb ->> '{key}')"


async def _raw(sql: str, *args: Any) -> list[dict[str, Any]]:
    from backend.requests.tables import Event

    return await Event.raw(sql, *args)


def _cohort_where(f: Filters) -> tuple[str, list[Any]]:
    where = ["s.action = 'submit'", "s.created_at >= {}", "s.created_at < {}"]
    args: list[Any] = [f.start_utc, f.end_utc]
    if f.kind:
        where.append("r.kind = {}")
        args.append(f.kind)
    if f.category_id:
        where.append("r.category = {}")
        args.append(f.category_id)
    if f.unit_path:
        sub = "(SELECT id FROM unit WHERE path LIKE {})"
        where.append(f"(r.street IN {sub} OR r.community IN {sub} OR r.grid IN {sub} OR EXISTS ("
                     f"SELECT 1 FROM assignment a WHERE a.request = r.id AND a.role = 'lead' AND a.unit IN {sub}))")
        args += [f.unit_path + "%"] * 4
    return " AND ".join(where), args


async def cohort_chunks(f: Filters, chunk: int = 5000) -> AsyncIterator[list[int]]:
    """The cohort's request ids in ascending chunks.

    One indexed scan for the ids (a few bytes per request), then the heavy per-request work chunk by
    chunk, so memory stays bounded by the chunk size, not by the range.
    """
    where, args = _cohort_where(f)
    rows = await _raw(f"SELECT s.request AS id FROM event s JOIN request r ON r.id = s.request WHERE {where}", *args)
    ids = sorted(r["id"] for r in rows)
    del rows
    for i in range(0, len(ids), chunk):
        yield ids[i:i + chunk]


async def facts_for(ids: list[int]) -> list[Fact]:
    """One grouped pass over the events of these requests."""
    if not ids:
        return []
    marks, args = ",".join(str(int(i)) for i in ids), []  # plain integers: inlined, no placeholder cost
    score, color, reason = _json("e.data", "score"), _json("e.data", "color"), _json("e.data", "reason")
    rows = await _raw(f"""
        SELECT f.*, le.to_status AS status, lu.kind AS last_unit_kind,
          (SELECT COUNT(*) FROM assignment a WHERE a.request = f.id AND a.role = 'lead' AND a.unit NOT IN (
             COALESCE(f.street, 0), COALESCE(f.community, 0), COALESCE(f.grid, 0))) AS cross_leads FROM (
          SELECT r.id, r.code, r.kind, r.category, r.street, r.community, r.grid, r.is_public,
            MIN(CASE WHEN e.action = 'submit' THEN e.created_at END) AS submitted_at,
            MAX(e.id) AS last_id,
            MIN(CASE WHEN e.action IN ('accept', 'answer') THEN e.created_at END) AS first_accept,
            MAX(CASE WHEN e.action IN ('resolve', 'answer') THEN e.created_at END) AS last_resolve,
            SUM(CASE WHEN e.action IN ('resolve', 'answer') THEN 1 ELSE 0 END) AS resolutions,
            SUM(CASE WHEN e.action = 'reopen' THEN 1 ELSE 0 END) AS reopens,
            SUM(CASE WHEN e.action = 'rate' THEN 1 ELSE 0 END) AS rated,
            SUM(CASE WHEN e.action = 'rate' AND {score} IN ('satisfied', 'basic') THEN 1 ELSE 0 END) AS rated_good,
            SUM(CASE WHEN e.action = 'light' AND {color} = 'yellow' THEN 1 ELSE 0 END) AS yellow,
            SUM(CASE WHEN e.action = 'light' AND {color} = 'red' THEN 1 ELSE 0 END) AS red,
            SUM(CASE WHEN e.action = 'close' AND {reason} = 'not_rated' THEN 1 ELSE 0 END) AS not_rated,
            MAX(CASE WHEN u.kind IS NOT NULL AND u.kind NOT IN ('community', 'grid') THEN 1 ELSE 0 END)
              AS above_community
          FROM request r JOIN event e ON e.request = r.id LEFT JOIN unit u ON u.id = e.unit
          WHERE r.id IN ({marks})
          GROUP BY r.id, r.code, r.kind, r.category, r.street, r.community, r.grid, r.is_public
        ) f JOIN event le ON le.id = f.last_id LEFT JOIN unit lu ON lu.id = le.unit
        ORDER BY f.id""", *args)
    out = []
    for r in rows:
        out.append(Fact(
            id=r["id"], code=r["code"], kind=r["kind"], category=r["category"], street=r["street"],
            community=r["community"], grid=r["grid"], is_public=bool(r["is_public"]),
            submitted_at=_dt(r["submitted_at"]), status=r["status"],  # type: ignore[arg-type]
            level=LEVEL_OF_KIND.get(r["last_unit_kind"] or "", "community"),
            first_accept=_dt(r["first_accept"]), last_resolve=_dt(r["last_resolve"]),
            resolutions=int(r["resolutions"] or 0), reopens=int(r["reopens"] or 0), rated=int(r["rated"] or 0),
            rated_good=int(r["rated_good"] or 0), yellow=int(r["yellow"] or 0), red=int(r["red"] or 0),
            not_rated=int(r["not_rated"] or 0), above_community=bool(r["above_community"]),
            cross_lead=bool(r["cross_leads"]),
        ))
    return out


async def iter_facts(f: Filters, chunk: int = 5000) -> AsyncIterator[list[Fact]]:
    """Facts of the cohort, chunk by chunk (the level filter applies to the latest event)."""
    async for ids in cohort_chunks(f, chunk):
        facts = await facts_for(ids)
        if f.level:
            facts = [x for x in facts if x.level == f.level]
        if facts:
            yield facts


async def cohort_facts(f: Filters) -> list[Fact]:
    out: list[Fact] = []
    async for part in iter_facts(f):
        out += part
    return out


# ---------------------------------------------------------------- the figures


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


# metric → which requests it counts (the list behind each number); ``now`` for the backlog ages.
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


COUNT_FIELDS = ("submitted", "withdrawn", "accepted", "completed", "ratings", "ratings_good", "not_rated",
                "community_solved", "yellow", "red", "reopened", "resolved_once", "open")


def new_kpis() -> Kpis:
    return Kpis(backlog={key: 0 for key, *_ in BACKLOG_BUCKETS})


def accumulate(k: Kpis, facts: Iterable[Fact], now: datetime, accept_times: list[float] | None = None,
               resolve_times: list[float] | None = None) -> Kpis:
    """Add these requests to the counts (and their durations to the lists, when given)."""
    for x in facts:
        k.submitted += 1
        if x.withdrawn:
            k.withdrawn += 1
            continue
        k.accepted += 1
        if x.completed:
            k.completed += 1
            if not x.above_community:
                k.community_solved += 1
            if x.resolve_seconds is not None and resolve_times is not None:
                resolve_times.append(x.resolve_seconds)
        if x.accept_seconds is not None and accept_times is not None:
            accept_times.append(x.accept_seconds)
        k.ratings += x.rated
        k.ratings_good += x.rated_good
        k.not_rated += 1 if x.not_rated else 0
        k.yellow += x.yellow
        k.red += x.red
        if x.reopens:
            k.reopened += 1
        if x.resolutions:
            k.resolved_once += 1
        if x.is_open:
            k.open += 1
            k.backlog[backlog_bucket(x, now)] += 1
    return k


def add_counts(k: Kpis, counts: Mapping[str, Any]) -> Kpis:
    """Add pre-aggregated counts (from the rollup) to ``k``."""
    for name in COUNT_FIELDS:
        setattr(k, name, getattr(k, name) + int(counts.get(name) or 0))
    for key, *_ in BACKLOG_BUCKETS:
        k.backlog[key] += int(counts.get(f"backlog_{key}") or 0)
    return k


def finish(k: Kpis, accept_times: list[float] | None = None, resolve_times: list[float] | None = None) -> Kpis:
    k.ratings_bad = k.ratings - k.ratings_good
    k.completion_rate = ratio(k.completed, k.accepted)
    k.satisfaction_rate = ratio(k.ratings_good, k.ratings)
    k.community_share = ratio(k.community_solved, k.completed)
    k.reopen_rate = ratio(k.reopened, k.resolved_once)
    if accept_times is not None:
        k.accept_median, k.accept_p90 = percentile(accept_times, 0.5), percentile(accept_times, 0.9)
    if resolve_times is not None:
        k.resolve_median, k.resolve_p90 = percentile(resolve_times, 0.5), percentile(resolve_times, 0.9)
    return k


def compute(facts: Iterable[Fact], now: datetime | None = None) -> Kpis:
    accept_times: list[float] = []
    resolve_times: list[float] = []
    k = accumulate(new_kpis(), facts, now or utcnow(), accept_times, resolve_times)
    return finish(k, accept_times, resolve_times)


# ---------------------------------------------------------------- trend and ranking


def bucket_of(d: date, grain: str) -> date:
    if grain == "week":
        return d - timedelta(days=d.weekday())
    if grain == "month":
        return d.replace(day=1)
    return d


def bucket_keys(start: date, end: date, grain: str) -> list[date]:
    keys: list[date] = []
    d = bucket_of(start, grain)
    while d <= end:
        keys.append(d)
        if grain == "day":
            d += timedelta(days=1)
        elif grain == "week":
            d += timedelta(days=7)
        else:
            d = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return keys


def trend(facts: list[Fact], f: Filters, now: datetime) -> list[tuple[date, Kpis]]:
    groups: dict[date, list[Fact]] = {k: [] for k in bucket_keys(f.start, f.end, f.grain)}
    zone = tz()
    for x in facts:
        key = bucket_of(x.submitted_at.astimezone(zone).date(), f.grain)
        groups.setdefault(key, []).append(x)
    return [(key, compute(groups[key], now)) for key in sorted(groups)]


@dataclass
class RankRow:
    unit_id: int
    name: str
    kpis: Kpis


async def ranking(facts: list[Fact], f: Filters, scope_paths: Iterable[str],
                  now: datetime) -> tuple[str, list[RankRow]]:
    """Units one level below the viewed unit (streets of the district, communities of a street, grids of a
    community), ranked by completion rate, then satisfaction. Requests are placed by where they arose."""
    path = f.unit_path or min(scope_paths, key=len)
    parent = await Unit.select(Unit.id, Unit.kind).where(Unit.path == path).first()
    kind = parent["kind"] if parent else "district"
    children = {"district": ("street", "street", "各街道"), "street": ("community", "community", "各社区"),
                "community": ("grid", "grid", "各网格")}
    attr, child_kind, title = children.get(kind, (None, None, ""))
    if attr is None:
        return "", []
    units = await Unit.select(Unit.id, Unit.name).where(
        (Unit.kind == child_kind) & Unit.path.like(path + "%")).order_by(Unit.sort).order_by(Unit.id)
    by_unit: dict[int, list[Fact]] = {u["id"]: [] for u in units}
    for x in facts:
        uid = getattr(x, attr)
        if uid in by_unit:
            by_unit[uid].append(x)
    rows = [RankRow(u["id"], u["name"], compute(by_unit[u["id"]], now)) for u in units]
    rows.sort(key=lambda r: (-(r.kpis.completion_rate or 0), -(r.kpis.satisfaction_rate or 0), -r.kpis.accepted,
                             r.kpis.red))
    return title, rows


# ---------------------------------------------------------------- the dashboard as a whole


@dataclass
class Dashboard:
    filters: Filters
    kpis: Kpis
    trend: list[tuple[date, Kpis]]
    ranking_title: str
    ranking: list[RankRow]
    generated_at: datetime


async def dashboard(f: Filters, scope_paths: Iterable[str], *, now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    scopes = tuple(scope_paths)
    facts = await cohort_facts(f)
    title, ranks = await ranking(facts, f, scopes, now)
    return Dashboard(f, compute(facts, now), trend(facts, f, now), title, ranks, now)


async def requests_behind(f: Filters, metric: str, *, now: datetime | None = None,
                          chunk: int = 2000) -> AsyncIterator[list[Fact]]:
    """The requests a metric counts, chunk by chunk (lists and exports)."""
    now = now or utcnow()
    pred = metric_predicate(metric, now)
    if pred is None:
        raise FilterError("未知的统计指标")
    async for part in iter_facts(f, chunk):
        picked = [x for x in part if pred(x)]
        if picked:
            yield picked


async def last_event_id() -> int:
    rows = await _raw("SELECT MAX(id) AS m FROM event")
    return int(rows[0]["m"] or 0) if rows else 0


def with_period(f: Filters, start: date, end: date) -> Filters:
    return replace(f, start=start, end=end)



# ---------------------------------------------------------------- cache: any change shows at once, in every process

CACHE_SECONDS = 60  # bounds how stale the backlog ages may get; figures change key with every new event


async def cached(kind: str, parts: tuple, build: Callable[[], Any]) -> Any:
    """Memoise ``build()`` in Redis under a key that includes the newest event id.

    A new event anywhere gives a new key, so every web process sees every change on its next read;
    a wall screen polling every 15 s costs one ``MAX(id)`` while nothing happens. Redis trouble
    only costs speed, never correctness.
    """
    import base64
    import hashlib
    import logging
    import pickle

    from backend.redis import redis_client

    version = await last_event_id()
    key = f"qg:stats:{kind}:" + hashlib.sha1(repr((parts, version)).encode()).hexdigest()
    try:
        raw = await redis_client().get(key)
        if raw:
            return pickle.loads(base64.b64decode(raw))  # our own value, written below
    except Exception:
        logging.getLogger("qungong.stats").warning("stats cache unavailable", exc_info=True)
    value = await build()
    try:
        await redis_client().set(key, base64.b64encode(pickle.dumps(value)).decode(), ex=CACHE_SECONDS)
    except Exception:
        logging.getLogger("qungong.stats").warning("stats cache unavailable", exc_info=True)
    return value


async def cached_dashboard(f: Filters, scope_paths: Iterable[str]) -> Dashboard:
    from backend.stats import rollup

    scopes = tuple(sorted(scope_paths))
    return await cached("dash", (f, scopes), lambda: rollup.dashboard(f, scopes))
