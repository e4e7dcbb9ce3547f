"""How the figures are shown and exported: the KPI table with its definitions, names, SVG, CSV/XLSX."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator
from datetime import date, datetime
from html import escape
from typing import Any

from openpyxl import Workbook

from backend.i18n import N_, gettext
from backend.organisation.tables import Unit
from backend.requests.reporting import KIND_LABELS
from backend.requests.service import STATUS_LABELS
from backend.routing.tables import Category
from backend.stats.facts import Fact
from backend.stats.kpis import BACKLOG_BUCKETS, SHOWN, Kpis
from backend.stats.service import (
    Filters,
    requests_behind,
    tz,
)


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    hours = seconds / 3600
    if hours < 48:
        return gettext("{n} 小时").format(n=f"{hours:.1f}")
    return gettext("{n} 天").format(n=f"{hours / 24:.1f}")


def kpi_rows(k: Kpis) -> list[dict[str, Any]]:
    rows = []
    for shown in SHOWN:
        value = getattr(k, shown.key)
        display = (fmt_rate(value) if shown.kind == "rate" else fmt_duration(value) if shown.kind == "duration"
                   else str(value))
        rows.append({"key": shown.key, "label": shown.label, "metric": shown.metric, "kind": shown.kind,
                     "value": value, "display": display, "definition": shown.definition})
    for bkey, blabel, _lo, _hi in BACKLOG_BUCKETS:
        # Labels composed here are translated here (the page's _() leaves a translated text as it is).
        span = gettext(blabel)
        rows.append({"key": f"backlog_{bkey}", "label": gettext(N_("积压 · {span}")).format(span=span),
                     "metric": f"backlog_{bkey}", "kind": "count", "value": k.backlog.get(bkey, 0),
                     "display": str(k.backlog.get(bkey, 0)),
                     "definition": gettext(N_("仍未办结、提交至今{span}的诉求数。")).format(span=span)})
    return rows


def export_value(row: dict[str, Any]) -> Any:
    """Numbers as numbers in exports: rates as fractions (4 decimals), durations in hours."""
    v = row["value"]
    if v is None:
        return ""
    if row["kind"] == "rate":
        return round(v, 6)
    if row["kind"] == "duration":
        return round(v / 3600, 3)
    return v


KPI_HEADER = ["指标", "数值", "单位", "口径说明"]


def kpi_table(k: Kpis) -> list[list[Any]]:
    unit = {"rate": "比例（0–1）", "duration": "小时", "count": "件/次"}
    return [[r["label"], export_value(r), unit[r["kind"]], r["definition"]] for r in kpi_rows(k)]


async def names() -> dict[str, dict[int, str]]:
    units = await Unit.select(Unit.id, Unit.name)
    cats = await Category.select(Category.id, Category.name)
    return {"unit": {u["id"]: u["name"] for u in units}, "category": {c["id"]: c["name"] for c in cats}}


REQUEST_HEADER = ["诉求编号", "类型", "类别", "街道", "社区", "状态", "提交时间", "首次受理时间", "最后办结时间",
                  "受理用时（小时）", "办结用时（小时）", "黄灯", "红灯", "重办次数", "评价次数", "满意评价次数",
                  "未评价结案", "曾上报至社区以上"]


def _local(value: datetime | None) -> str:
    return value.astimezone(tz()).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def request_row(x: Fact, n: dict[str, dict[int, str]]) -> list[Any]:
    """One exported request: no personal data (no name, phone, address or description)."""
    return [
        x.code, KIND_LABELS.get(x.kind, x.kind), n["category"].get(x.category, ""),
        n["unit"].get(x.street or 0, ""), n["unit"].get(x.community or 0, ""), STATUS_LABELS.get(x.status, x.status),
        _local(x.submitted_at), _local(x.first_accept), _local(x.last_resolve),
        "" if x.accept_seconds is None else round(x.accept_seconds / 3600, 3),
        "" if x.resolve_seconds is None else round(x.resolve_seconds / 3600, 3),
        x.yellow, x.red, x.reopens, x.rated, x.rated_good, "是" if x.not_rated else "否",
        "是" if x.above_community else "否",
    ]


def _csv_line(rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


async def csv_requests(f: Filters, metric: str, now: datetime) -> AsyncIterator[bytes]:
    """Streamed CSV: one chunked query at a time, so a huge range never sits in memory."""
    n = await names()
    yield "\ufeff".encode() + _csv_line([REQUEST_HEADER])  # BOM: Excel opens UTF-8 correctly
    async for part in requests_behind(f, metric, now=now):
        yield _csv_line([request_row(x, n) for x in part])


async def xlsx_requests(f: Filters, metric: str, now: datetime) -> AsyncIterator[bytes]:
    """Streamed XLSX: openpyxl's write-only sheet spools rows to disk; the file is then sent in chunks."""
    n = await names()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("诉求")
    ws.append(REQUEST_HEADER)
    async for part in requests_behind(f, metric, now=now):
        for x in part:
            ws.append(request_row(x, n))
    async for chunk in _send_workbook(wb):
        yield chunk


def csv_kpis(k: Kpis, f: Filters) -> bytes:
    return "\ufeff".encode() + _csv_line([*period_lines(f), KPI_HEADER, *kpi_table(k)])


async def xlsx_kpis(k: Kpis, f: Filters) -> AsyncIterator[bytes]:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("指标")
    for line in period_lines(f):
        ws.append(line)
    ws.append(KPI_HEADER)
    for row in kpi_table(k):
        ws.append(row)
    async for chunk in _send_workbook(wb):
        yield chunk


def period_lines(f: Filters) -> list[list[Any]]:
    return [["统计区间", f"{f.start.isoformat()} 至 {f.end.isoformat()}"],
            ["单位", f.unit_name or "全区"]]


async def _send_workbook(wb: Workbook) -> AsyncIterator[bytes]:
    import asyncio

    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        await asyncio.to_thread(wb.save, path)
        with open(path, "rb") as fh:  # noqa: ASYNC230 - small local reads between awaits
            while chunk := fh.read(256 * 1024):
                yield chunk
    finally:
        os.unlink(path)


# ---------------------------------------------------------------- the trend chart (server-side SVG)


def trend_svg(points: list[tuple[date, Kpis]], grain: str) -> str:
    """Bars of accepted (grey) and completed (red) per period; a line for satisfaction. Scales to any width."""
    width, height, pad_l, pad_b, pad_t = 720, 240, 40, 36, 16
    n = max(1, len(points))
    peak = max([p[1].accepted for p in points] + [1])
    plot_w, plot_h = width - pad_l - 8, height - pad_b - pad_t
    slot = plot_w / n
    bar = max(1.0, slot * 0.38)
    parts = [f'<svg class="trend" viewBox="0 0 {width} {height}" role="img" preserveAspectRatio="none" '
             f'aria-label="{escape(gettext("受理与办结趋势"))}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{width - 8}" y2="{pad_t + plot_h}" stroke="#999"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 10}" text-anchor="end" font-size="11">{peak}</text>',
             f'<text x="{pad_l - 4}" y="{pad_t + plot_h}" text-anchor="end" font-size="11">0</text>']
    line: list[str] = []
    label_every = max(1, n // 12)
    fmt = {"day": "%m-%d", "week": "%m-%d", "month": "%Y-%m"}[grain]
    for i, (key, k) in enumerate(points):
        x0 = pad_l + i * slot + slot * 0.1
        ha = plot_h * k.accepted / peak
        hc = plot_h * k.completed / peak
        tip = escape(gettext("{day} 受理 {a} 办结 {c} 满意度 {s}").format(
            day=key.isoformat(), a=k.accepted, c=k.completed, s=fmt_rate(k.satisfaction_rate)))
        parts.append(f'<g><title>{tip}</title>'
                     f'<rect x="{x0:.1f}" y="{pad_t + plot_h - ha:.1f}" width="{bar:.1f}" height="{ha:.1f}" '
                     f'fill="#9aa5b1"/>'
                     f'<rect x="{x0 + bar:.1f}" y="{pad_t + plot_h - hc:.1f}" width="{bar:.1f}" height="{hc:.1f}" '
                     f'fill="#c8102e"/></g>')
        if k.satisfaction_rate is not None:
            line.append(f"{x0 + bar:.1f},{pad_t + plot_h * (1 - k.satisfaction_rate):.1f}")
        if i % label_every == 0:
            parts.append(f'<text x="{x0:.1f}" y="{height - pad_b + 14}" font-size="11">{key.strftime(fmt)}</text>')
    if len(line) > 1:
        parts.append(f'<polyline points="{" ".join(line)}" fill="none" stroke="#1a7f37" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)
