"""Command-center dashboard, the lists behind its numbers, exports, and the public statistics page."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.response import Stream

from backend.accounts.tables import Role
from backend.db import utcnow
from backend.i18n import N_
from backend.organisation.tables import Unit
from backend.requests.reporting import KIND_LABELS
from backend.requests.service import STATUS_LABELS
from backend.requests.tables import Kind
from backend.routing.tables import Category
from backend.stats import cache, kpis, present, service
from backend.stats.facts import Fact
from backend.stats.kpis import METRIC_LABELS
from backend.stats.public import parse_year, public_stats
from backend.stats.service import FilterError, Filters
from backend.web.guards import roles, viewer_of
from backend.web.render import page

DASHBOARD_ROLES = (Role.dispatcher, Role.assessor, Role.admin, Role.unit_head)
LIST_LIMIT = 300


def scope_paths(request: Request) -> list[str]:
    """Dispatchers, assessors and admins see the whole district; unit heads their own subtree."""
    viewer = viewer_of(request)
    wanted = {r.value for r in DASHBOARD_ROLES}
    return sorted({m.scope_path for m in viewer.memberships if m.role in wanted}) if viewer else []


def _params(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.query_params.items() if isinstance(v, str)}


async def _choices(scopes: list[str]) -> dict[str, Any]:
    where = None
    for p in scopes:
        cond = Unit.path.like(p + "%")
        where = cond if where is None else where | cond
    units = await Unit.select(Unit.id, Unit.name, Unit.depth, Unit.kind).where(where).order_by(Unit.path) \
        if where is not None else []
    cats = await Category.select(Category.id, Category.name).order_by(Category.sort)
    return {"units": units, "categories": cats, "kinds": KIND_LABELS,
            "levels": service.LEVEL_LABELS, "kind_values": [k.value for k in Kind]}


def _filename(f: Filters, stem: str, ext: str) -> str:
    return f"{stem}_{f.start.isoformat()}_{f.end.isoformat()}.{ext}"


def _disposition(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=\"{name}\"", "Cache-Control": "no-store"}


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _trend_rows(board: service.Dashboard) -> list[dict[str, Any]]:
    """Each period of the trend with the query of its own requests (every number links to its list)."""
    f = board.filters
    keys = [key for key, _k in board.trend]
    rows = []
    for i, (key, k) in enumerate(board.trend):
        end = keys[i + 1] - timedelta(days=1) if i + 1 < len(keys) else f.end
        start = max(key, f.start)
        end = min(end, f.end)
        rows.append({"key": key, "k": k, "accepted_q": urlencode(
            service.with_period(f, start, end).query(metric="accepted")), "completed_q": urlencode(
            service.with_period(f, start, end).query(metric="completed"))})
    return rows


class DashboardController(Controller):
    path = "/dashboard"
    guards = [roles(*DASHBOARD_ROLES)]

    async def _filters(self, request: Request) -> Filters:
        return await service.parse_filters(_params(request), scope_paths(request))  # FilterError: a 400 page

    @get("")
    async def dashboard(self, request: Request) -> Response:
        scopes = scope_paths(request)
        params = _params(request)
        ctx: dict[str, Any] = {"params": params, **await _choices(scopes)}
        try:
            f = await service.parse_filters(params, scopes)
        except FilterError as exc:
            return page(request, "stats/dashboard.html", ctx | {"error": str(exc), "board": None}, status_code=400)
        board = await cache.cached_dashboard(f, scopes)
        from backend.knowledge.service import self_served_count  # answered by the knowledge base (issue 18)

        kb = {"kb_self_served": await self_served_count(f.start_utc, f.end_utc)}
        return page(request, "stats/dashboard.html", ctx | self._board_ctx(board) | kb, block="live")

    def _board_ctx(self, board: service.Dashboard) -> dict[str, Any]:
        f = board.filters
        return {
            "board": board, "f": f, "error": None,
            "rows": present.kpi_rows(board.kpis), "ranking_definition": kpis.RANKING_DEFINITION,
            "q": lambda **extra: urlencode(f.query(**extra)),
            "svg": present.trend_svg(board.trend, f.grain),
            "fmt_rate": present.fmt_rate, "fmt_duration": present.fmt_duration,
            "backlog_buckets": kpis.BACKLOG_BUCKETS,
            "trend_rows": _trend_rows(board),
        }

    @get("/requests")
    async def requests_list(self, request: Request, metric: str = "accepted") -> Response:
        f = await self._filters(request)
        if kpis.metric_predicate(metric, utcnow()) is None:
            raise FilterError(N_("未知的统计指标"))
        items: list[Fact] = []
        total = 0
        async for part in service.requests_behind(f, metric):
            total += len(part)
            room = LIST_LIMIT - len(items)
            if room > 0:
                items += part[:room]
        names = await present.names()
        return page(request, "stats/requests.html", {
            "f": f, "metric": metric, "metric_label": METRIC_LABELS.get(metric, metric), "items": items,
            "total": total, "limit": LIST_LIMIT, "names": names, "q": urlencode(f.query(metric=metric)),
            "status_labels": STATUS_LABELS, "kind_labels": KIND_LABELS,
            "back": urlencode(f.query()),
        })

    @get("/requests.csv")
    async def requests_csv(self, request: Request, metric: str = "accepted") -> Stream:
        f = await self._metric_filters(request, metric)
        return Stream(present.csv_requests(f, metric, utcnow()), media_type="text/csv; charset=utf-8",
                      headers=_disposition(_filename(f, f"requests_{metric}", "csv")))

    @get("/requests.xlsx")
    async def requests_xlsx(self, request: Request, metric: str = "accepted") -> Stream:
        f = await self._metric_filters(request, metric)
        return Stream(present.xlsx_requests(f, metric, utcnow()), media_type=XLSX,
                      headers=_disposition(_filename(f, f"requests_{metric}", "xlsx")))

    async def _metric_filters(self, request: Request, metric: str) -> Filters:
        f = await self._filters(request)
        if kpis.metric_predicate(metric, utcnow()) is None:
            raise FilterError(N_("未知的统计指标"))
        return f

    @get("/kpis.csv")
    async def kpis_csv(self, request: Request) -> Response:
        f = await self._filters(request)
        board = await cache.cached_dashboard(f, scope_paths(request))
        return Response(present.csv_kpis(board.kpis, f), media_type="text/csv; charset=utf-8",
                        headers=_disposition(_filename(f, "kpis", "csv")))

    @get("/kpis.xlsx")
    async def kpis_xlsx(self, request: Request) -> Stream:
        f = await self._filters(request)
        board = await cache.cached_dashboard(f, scope_paths(request))
        return Stream(present.xlsx_kpis(board.kpis, f), media_type=XLSX,
                      headers=_disposition(_filename(f, "kpis", "xlsx")))


class PublicStatsController(Controller):
    path = "/public/stats"

    @get("")
    async def public(self, request: Request, year: str | None = None) -> Response:
        now: datetime = utcnow()
        y = parse_year(year, now.astimezone(service.tz()).date())  # FilterError: a 400 page saying why
        stats = await cache.cached("public", (y, now.astimezone(service.tz()).date()), lambda: public_stats(y))
        return page(request, "stats/public.html", {"s": stats, "fmt_rate": present.fmt_rate,
                                                   "definitions": kpis.shown(kpis.PUBLIC_KEYS),
                                                   "years": list(range(now.astimezone(service.tz()).year, 2019, -1))})

