"""KPIs of the command center, computed from the append-only event log. No Litestar imports.

Everything here is derived from ``event`` rows (which no path can edit or delete) plus the
request's immutable attributes (kind, category, place). The cached columns of ``request``
(status, resolved_at, …) are never read for a figure: they could drift, the events cannot.

What each figure is and how it is computed lives in ``backend.stats.kpis`` (its definitions are shown
next to every figure); a request's facts in ``backend.stats.facts``. Here: the filters, reading the
facts of a cohort from the events, trends, rankings and the cache. Filters:

- level: the level of the unit responsible after the latest event (community / street / district).
- unit: the request arose in the unit's area (street, community or grid) or the unit or one of
  its sub-units was ever its lead (主办).

Two readers give the same figures (the property test checks both against a recomputation):
``dashboard()`` here reads the events directly (used for lists and exports, chunk by chunk), and
``backend.stats.rollup.dashboard()`` sums the worker's per-request rollup and reads live only the
requests changed since the rollup's watermark (used by the pages, cached under the newest event id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.db import utcnow
from backend.errors import DomainError
from backend.i18n import N_
from backend.organisation.tables import LEVEL_OF_KIND, Unit
from backend.requests.tables import Kind
from backend.routing.tables import Category
from backend.settings import get_settings
from backend.stats.facts import GOOD, Fact
from backend.stats.kpis import (
    Kpis,
    compute,
    metric_predicate,
    ranking_key,
)

GRAINS = ("day", "week", "month")
LEVELS = ("community", "street", "district")
MAX_DAYS = 3660
MAX_BUCKETS = 400
# The dashboard's level filter names levels as units, not as routing targets (routing.LEVEL_LABELS).
LEVEL_LABELS = {"community": "社区（含网格）", "street": "街道", "district": "区级"}


class FilterError(DomainError, ValueError):
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
        raise FilterError(N_("{label}“{value}”不是有效日期，请使用 年-月-日 格式，例如 2026-01-31"), label=label,
                          value=value[:20]) from exc


def _parse_int(value: str, label: str) -> int:
    try:
        n = int(value.strip())
    except ValueError as exc:
        raise FilterError(N_("{label}参数“{value}”无效"), label=label, value=value[:20]) from exc
    if n <= 0:
        raise FilterError(N_("{label}参数“{value}”无效"), label=label, value=value[:20])
    return n


async def parse_filters(params: Mapping[str, str], scope_paths: Iterable[str], *, today: date | None = None,
                        default_days: int = 30) -> Filters:
    """Validate query parameters against the viewer's scope. Raises FilterError with a clear message."""
    today = today or utcnow().astimezone(tz()).date()
    raw_start, raw_end = (params.get("start") or "").strip(), (params.get("end") or "").strip()
    end = _parse_date(raw_end, N_("结束日期")) if raw_end else today
    start = _parse_date(raw_start, N_("开始日期")) if raw_start else end - timedelta(days=default_days - 1)
    if start > end:
        raise FilterError(N_("开始日期不能晚于结束日期"))
    if (end - start).days + 1 > MAX_DAYS:
        raise FilterError(N_("统计区间最长 {max} 天，请缩短区间"), max=MAX_DAYS)
    grain = (params.get("grain") or "").strip() or ("day" if (end - start).days < 62 else "month")
    if grain not in GRAINS:
        raise FilterError(N_("趋势粒度只能是 按日、按周 或 按月"))
    n_buckets = len(bucket_keys(start, end, grain))
    if n_buckets > MAX_BUCKETS:
        raise FilterError(N_("按{grain}显示将有 {n} 个时间段，最多 {max} 个，请改用更粗的粒度或缩短区间"),
                          grain={"day": N_("日"), "week": N_("周"), "month": N_("月")}[grain], n=n_buckets,
                          max=MAX_BUCKETS)
    level = (params.get("level") or "").strip() or None
    if level is not None and level not in LEVELS:
        raise FilterError(N_("层级只能是 社区、街道 或 区级"))
    kind = (params.get("kind") or "").strip() or None
    if kind is not None and kind not in {k.value for k in Kind}:
        raise FilterError(N_("诉求类型无效"))
    category_id = None
    raw_cat = (params.get("category") or "").strip()
    if raw_cat:
        category_id = _parse_int(raw_cat, N_("类别"))
        if not await Category.exists().where(Category.id == category_id):
            raise FilterError(N_("所选类别不存在"))
    scopes = tuple(scope_paths)
    if not scopes:
        raise FilterError(N_("您没有可查看的单位范围"))
    unit_id, unit_path, unit_name = None, None, ""
    raw_unit = (params.get("unit") or "").strip()
    if raw_unit:
        unit_id = _parse_int(raw_unit, N_("单位"))
        row = await Unit.select(Unit.path, Unit.name).where(Unit.id == unit_id).first()
        if row is None:
            raise FilterError(N_("所选单位不存在"))
        if not any(row["path"].startswith(p) for p in scopes):
            raise FilterError(N_("所选单位不在您的查看范围内"))
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
    good = ", ".join(f"'{g}'" for g in GOOD)  # the scores that count as satisfied (facts.GOOD), constants
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
            SUM(CASE WHEN e.action = 'rate' AND {score} IN ({good}) THEN 1 ELSE 0 END) AS rated_good,
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
    children = {"district": ("street", "street", N_("各街道")), "street": ("community", "community", N_("各社区")),
                "community": ("grid", "grid", N_("各网格"))}
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
    rows.sort(key=lambda r: ranking_key(r.kpis))
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
        raise FilterError(N_("未知的统计指标"))
    async for part in iter_facts(f, chunk):
        picked = [x for x in part if pred(x)]
        if picked:
            yield picked


async def last_event_id() -> int:
    rows = await _raw("SELECT MAX(id) AS m FROM event")
    return int(rows[0]["m"] or 0) if rows else 0


def with_period(f: Filters, start: date, end: date) -> Filters:
    return replace(f, start=start, end=end)
