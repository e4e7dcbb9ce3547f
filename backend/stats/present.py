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

from backend.organisation.tables import Unit
from backend.routing.tables import Category
from backend.stats.service import (
    BACKLOG_BUCKETS,
    KIND_LABELS,
    STATUS_LABELS,
    Fact,
    Filters,
    Kpis,
    requests_behind,
    tz,
)

# (key, label, metric behind the number, kind of value, definition). The definitions are shown on the page.
KPI_SPEC: tuple[tuple[str, str, str, str, str], ...] = (
    ("accepted", "受理数", "accepted", "count",
     "统计期内提交（以“提交”事件时间为准）且未被居民撤回、也未被合并为重复诉求的诉求数（同一问题只计一次）。"),
    ("completed", "办结数", "completed", "count",
     "受理数中，最新一条事件使其处于“已办结”或“已结案”的诉求数（被重新办理且尚未再次办结的不计）。"),
    ("completion_rate", "办结率", "completed", "rate", "办结数 ÷ 受理数。"),
    ("satisfaction_rate", "满意度", "satisfied", "rate",
     "（“满意”+“基本满意”评价次数）÷ 全部评价次数；每一次评价都计入，不满意后重新办理的仍计入；"
     "逾期未评价自动结案的不计入分子也不计入分母，单独列出。"),
    ("ratings", "评价次数", "rated", "count", "居民对办理结果作出的评价总次数。"),
    ("ratings_bad", "不满意次数", "dissatisfied", "count", "评价为“不满意”的次数（每次均退回原承办单位重新办理）。"),
    ("not_rated", "未评价结案数", "not_rated", "count", "办结后居民逾期未评价、由系统自动结案的诉求数；从不计为满意。"),
    ("community_share", "社区层面办结占比", "community", "rate",
     "办结数中，全过程的承办单位始终是社区或网格（从未上报到街道、区级或部门）的诉求所占比例。"),
    ("accept_median", "受理用时（中位数）", "accept_time", "duration",
     "从提交到首次受理（或直接答复）的时长，取中位数（最近秩法）。"),
    ("accept_p90", "受理用时（第90百分位）", "accept_time", "duration", "同上，取第 90 百分位（最近秩法）。"),
    ("resolve_median", "办结用时（中位数）", "resolve_time", "duration",
     "已办结诉求从提交到最后一次办结（或答复）的时长，取中位数。"),
    ("resolve_p90", "办结用时（第90百分位）", "resolve_time", "duration", "同上，取第 90 百分位。"),
    ("yellow", "黄灯次数", "yellow", "count", "受理或办理超时亮黄灯的次数（来自亮灯事件）。"),
    ("red", "红灯次数", "red", "count", "受理或办理超时亮红灯的次数（来自亮灯事件）；红灯须书面说明。"),
    ("reopen_rate", "重办率", "reopened", "rate", "至少被重新办理一次的诉求数 ÷ 至少办结过一次的诉求数。"),
    ("open", "积压（未办结）", "open", "count", "受理数中当前仍未办结的诉求数，下方按提交至今的时长分段。"),
)


def fmt_rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f}%"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    hours = seconds / 3600
    if hours < 48:
        return f"{hours:.1f} 小时"
    return f"{hours / 24:.1f} 天"


def kpi_rows(k: Kpis) -> list[dict[str, Any]]:
    rows = []
    for key, label, metric, kind, definition in KPI_SPEC:
        value = getattr(k, key)
        display = (fmt_rate(value) if kind == "rate" else fmt_duration(value) if kind == "duration"
                   else str(value))
        rows.append({"key": key, "label": label, "metric": metric, "kind": kind, "value": value,
                     "display": display, "definition": definition})
    for bkey, blabel, _lo, _hi in BACKLOG_BUCKETS:
        rows.append({"key": f"backlog_{bkey}", "label": f"积压 · {blabel}", "metric": f"backlog_{bkey}",
                     "kind": "count", "value": k.backlog.get(bkey, 0), "display": str(k.backlog.get(bkey, 0)),
                     "definition": f"仍未办结、提交至今{blabel}的诉求数。"})
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
             f'aria-label="受理与办结趋势" xmlns="http://www.w3.org/2000/svg">',
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
        tip = escape(f"{key.isoformat()} 受理 {k.accepted} 办结 {k.completed} 满意度 {fmt_rate(k.satisfaction_rate)}")
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
