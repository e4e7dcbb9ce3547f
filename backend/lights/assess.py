"""The annual assessment (年度考核): figures per unit and subtree for a period, computed from the
event log, the assignments and the explanation tasks — never from counters that can drift."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import aware, utcnow
from backend.errors import DomainError
from backend.i18n import N_, gettext
from backend.lights.tables import Explanation, LightClock
from backend.organisation.tables import Unit
from backend.requests.tables import Event
from backend.settings import get_settings

KIND_FILTERS = {"street": N_("街道"), "community": N_("社区"), "grid": N_("网格"), "department": N_("部门"),
                "section": N_("科室")}
SCORE_NOTE = N_("综合得分 = 按时受理率 × 40 + 按时办结率 × 40 + 按时说明率 × 20（无红灯说明任务时按满分计）")
DEFINITION = N_("每条诉求在每个承办单位有两个计时：受理和办结。"
              "一个计时在期间内到期（黄灯期限已到）或在期间内提前完成时计入："
              "黄灯期限前已受理、办结或转交（上报、派单、退回）为按时，期限已到仍未完成为超时；尚未到期且未完成的计时不计。"
              "按时率 = 按时的计时数 ÷ 计入的计时数。")
MIN_N = 5  # a unit with fewer counted accept clocks is shown but not ranked (one report must not top a ranking)
SMALL_SAMPLE_NOTE = N_("计入的受理计时少于 {n} 个的单位标为“样本不足”，不参与排名。")


class AssessError(DomainError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message, status=status)


@dataclass
class Period:
    start: date
    end: date  # inclusive

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        tz = ZoneInfo(get_settings().timezone)
        lo = datetime.combine(self.start, time.min, tz)
        hi = datetime.combine(date.fromordinal(self.end.toordinal() + 1), time.min, tz)
        return lo, hi

    @property
    def label(self) -> str:
        if self.start.month == 1 and self.start.day == 1 and self.end == date(self.start.year, 12, 31):
            return gettext("{year} 年度").format(year=self.start.year)
        return gettext("{start} 至 {end}").format(start=f"{self.start:%Y-%m-%d}", end=f"{self.end:%Y-%m-%d}")


def parse_period(year: str | None, start: str | None, end: str | None) -> Period:
    """Default: the current calendar year (Beijing time); or a year; or a start/end date range."""
    if start or end:
        try:
            s = date.fromisoformat(str(start))
            e = date.fromisoformat(str(end))
        except ValueError:
            raise AssessError(N_("请填写有效的起止日期（如 2026-01-01）")) from None
        if e < s:
            raise AssessError(N_("结束日期不能早于开始日期"))
        return Period(s, e)
    if year:
        try:
            y = int(year)
        except ValueError:
            raise AssessError(N_("请填写有效的年份")) from None
        if not (2000 <= y <= 2100):
            raise AssessError(N_("请填写有效的年份"))
        return Period(date(y, 1, 1), date(y, 12, 31))
    today = utcnow().astimezone(ZoneInfo(get_settings().timezone)).date()
    return Period(date(today.year, 1, 1), date(today.year, 12, 31))


@dataclass
class Figures:
    unit_id: int
    name: str
    kind: str
    path: str
    depth: int
    requests: set[int] = field(default_factory=set)
    accept_n: int = 0  # accept clocks counted in the period
    accepted_on_time: int = 0
    resolve_n: int = 0  # resolve clocks counted in the period
    resolved_on_time: int = 0
    yellow: int = 0
    red: int = 0
    explanations: int = 0
    explanations_on_time: int = 0
    ratings: int = 0
    ratings_good: int = 0
    notice_yellow: int = 0  # 村居公开: periodic notices overdue past their due day / past the grace period
    notice_red: int = 0
    rank: int | None = None

    @property
    def handled(self) -> int:
        return len(self.requests)

    @property
    def small_sample(self) -> bool:
        return 0 < self.accept_n < MIN_N

    @staticmethod
    def _rate(n: int, d: int) -> float | None:
        return n / d if d else None

    @property
    def accept_rate(self) -> float | None:
        return self._rate(self.accepted_on_time, self.accept_n)

    @property
    def resolve_rate(self) -> float | None:
        return self._rate(self.resolved_on_time, self.resolve_n)

    @property
    def explain_rate(self) -> float | None:
        return self._rate(self.explanations_on_time, self.explanations)

    @property
    def satisfaction(self) -> float | None:
        return self._rate(self.ratings_good, self.ratings)

    @property
    def score(self) -> float | None:
        if not self.accept_n:
            return None
        resolve = self.resolve_rate if self.resolve_rate is not None else 1.0  # nothing due to resolve yet
        explain = self.explain_rate if self.explain_rate is not None else 1.0
        return round(40 * (self.accept_rate or 0) + 40 * resolve + 20 * explain, 1)


def can_assess(viewer: Viewer | None, unit_path: str) -> bool:
    if viewer is None or not viewer.is_staff:
        return False
    if viewer.has_role(Role.assessor, Role.admin):
        return True
    return any(unit_path.startswith(m.unit_path) for m in viewer.memberships if m.role == Role.unit_head.value)


async def default_root(viewer: Viewer) -> int | None:
    if viewer.has_role(Role.assessor, Role.admin):
        row = await Unit.select(Unit.id).where(Unit.parent.is_null()).order_by(Unit.id).first()
        return row["id"] if row else None
    heads = viewer.unit_ids(Role.unit_head)
    return heads[0] if heads else None


class AssessedUnit(TypedDict):
    """A unit of the assessed subtree (the page's unit picker)."""

    id: int
    name: str
    kind: str
    path: str
    depth: int
    parent: int | None


class Assessment(TypedDict):
    """The assessment of a subtree for a period: its total, then each child (or unit of ``kind``), ranked."""

    root: AssessedUnit  # the root unit (read with all its columns)
    total: Figures
    rows: list[Figures]
    period: Period
    kind: str
    units: list[AssessedUnit]


def _data(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        return json.loads(value or "{}")
    except (TypeError, ValueError):
        return {}


async def assessment(viewer: Viewer, *, root_id: int | None, kind: str | None, period: Period) -> Assessment:
    """Rows: the root's subtree total, then each child (or every unit of ``kind``) with its subtree, ranked."""
    root_id = root_id or await default_root(viewer)
    root = await Unit.select().where(Unit.id == (root_id or 0)).first()
    if root is None:
        raise AssessError(N_("单位不存在"), 404)
    if not can_assess(viewer, root["path"]):
        raise AssessError(N_("您只能查看本单位及下级单位的考核"), 403)
    if kind and kind not in KIND_FILTERS:
        raise AssessError(N_("单位类型无效"))
    units = await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.path, Unit.depth, Unit.parent).where(
        Unit.path.like(root["path"] + "%")).order_by(Unit.path)
    if kind:
        chosen = [u for u in units if u["kind"] == kind and u["id"] != root["id"]]
    else:
        chosen = [u for u in units if u["parent"] == root["id"]]
    rows = [Figures(u["id"], u["name"], u["kind"], u["path"], u["depth"]) for u in [root, *chosen]]
    lo, hi = period.bounds
    prefix = root["path"] + "%"

    def add(path: str, fn: Any) -> None:
        for f in rows:
            if path.startswith(f.path):
                fn(f)

    # Per clock (one per lead assignment and stage): counted when it was decided in the period — its
    # yellow deadline came (and it had not stopped before it: late), or it stopped before its deadline
    # (accepted, resolved or handed on in time: on time). Clocks still running before their deadline wait.
    now = utcnow()
    in_period = ((LightClock.yellow_due_at >= lo) & (LightClock.yellow_due_at < hi)) | (
        (LightClock.stopped_at >= lo) & (LightClock.stopped_at < hi))
    for c in await LightClock.select(
            LightClock.request, LightClock.stage, LightClock.yellow_due_at, LightClock.stopped_at,
            LightClock.unit.path.as_alias("path")).where(in_period & LightClock.unit.path.like(prefix)):
        due, stop = aware(c["yellow_due_at"]), aware(c["stopped_at"])
        on_time = stop is not None and stop <= due  # type: ignore[operator]
        decided = stop if on_time else due
        if decided is None or decided > now or not (lo <= decided < hi):
            continue

        def bump(f: Figures, c: dict[str, Any] = c, on_time: bool = on_time) -> None:
            f.requests.add(c["request"])
            if c["stage"] == "accept":
                f.accept_n += 1
                f.accepted_on_time += on_time
            else:
                f.resolve_n += 1
                f.resolved_on_time += on_time

        add(c["path"], bump)

    # Lights lit in the period, charged to the unit of the assignment they belong to.
    for e in await Event.select(Event.data, Event.assignment.unit.path.as_alias("path")).where(
            (Event.action == "light") & (Event.created_at >= lo) & (Event.created_at < hi)
            & Event.assignment.unit.path.like(prefix)):
        color = _data(e["data"]).get("color")
        if color in ("yellow", "red"):
            add(e["path"], lambda f, c=color: setattr(f, c, getattr(f, c) + 1))

    # Explanation tasks opened in the period: on time = first submission before its deadline.
    for x in await Explanation.select(Explanation.first_submitted_at, Explanation.due_at,
                                      Explanation.unit.path.as_alias("path")).where(
            (Explanation.created_at >= lo) & (Explanation.created_at < hi) & Explanation.unit.path.like(prefix)):
        first = aware(x["first_submitted_at"])
        on_time = first is not None and first <= aware(x["due_at"])  # type: ignore[operator]

        def bump_x(f: Figures, on_time: bool = on_time) -> None:
            f.explanations += 1
            f.explanations_on_time += on_time

        add(x["path"], bump_x)

    # Satisfaction, once residents rate: the "rate" events, charged to the unit responsible at the time.
    for e in await Event.select(Event.data, Event.unit.path.as_alias("path")).where(
            (Event.action == "rate") & (Event.created_at >= lo) & (Event.created_at < hi)
            & Event.unit.path.like(prefix)):
        score = _data(e["data"]).get("score")
        if score in ("satisfied", "basic", "dissatisfied"):
            def bump_r(f: Figures, good: bool = score != "dissatisfied") -> None:
                f.ratings += 1
                f.ratings_good += good

            add(e["path"], bump_r)

    # 村居公开: overdue periodic notices of the publishing units (the notices domain's duty clock).
    from backend.notices.duties import counts_by_path

    for path, y, r in await counts_by_path(prefix, lo, hi):
        def bump_n(f: Figures, y: int = y, r: int = r) -> None:
            f.notice_yellow += y
            f.notice_red += r

        add(path, bump_n)

    return {"root": root, "total": rows[0], "rows": rank_units(rows[1:]), "period": period, "kind": kind or "",
            "units": units}


def rank_units(units: list[Figures]) -> list[Figures]:
    """Rank the units with a score and at least MIN_N counted accept clocks: higher score first, then more
    clocks, then by name; the others follow unranked, in the tree's order."""
    ranked = sorted((f for f in units if f.score is not None and f.accept_n >= MIN_N),
                    key=lambda f: (-f.score, -f.accept_n, f.name))
    for i, f in enumerate(ranked, 1):
        f.rank = i
    return sorted(units, key=lambda f: (f.rank is None, f.rank or 0, f.path))


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


HEADERS = ["排名", "单位", "诉求数", "按时受理", "按时受理率", "按时办结", "按时办结率", "黄灯", "红灯",
           "按时说明", "说明总数", "满意度", "综合得分", "受理计时数", "办结计时数", "评价数", "样本",
           "公开逾期黄灯", "公开逾期红灯"]
RATE_COLUMNS = (4, 6, 11)  # percentages (numbers in the XLSX, formatted as percent)


def table(result: Assessment, *, numbers: bool = False) -> list[list[Any]]:
    """One row per unit and the total. ``numbers``: rates as fractions and blanks as None (for XLSX cells)."""
    out: list[list[Any]] = []
    blank = None if numbers else "—"

    def rate(value: float | None) -> Any:
        return (value if value is not None else None) if numbers else pct(value)

    for f in [*result["rows"], result["total"]]:
        total = f is result["total"]
        rank: Any = "" if total else (f.rank if f.rank is not None else blank)
        name = f"{f.name}（合计）" if total else f.name
        out.append([rank, name, f.handled, f.accepted_on_time, rate(f.accept_rate), f.resolved_on_time,
                    rate(f.resolve_rate), f.yellow, f.red, f.explanations_on_time, f.explanations,
                    rate(f.satisfaction), blank if f.score is None else f.score, f.accept_n, f.resolve_n,
                    f.ratings, "样本不足" if f.small_sample and not total else "",
                    f.notice_yellow, f.notice_red])
    return out


def to_csv(result: Assessment) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADERS)
    w.writerows(table(result))
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens Chinese CSV correctly


def to_xlsx(result: Assessment) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "考核"
    ws.append([f"{result['total'].name} · {result['period'].label} 红黄灯考核"])
    ws.append(HEADERS)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for row in table(result, numbers=True):
        ws.append(row)
        for col in RATE_COLUMNS:
            ws.cell(row=ws.max_row, column=col + 1).number_format = "0.0%"
    ws.append([])
    ws.append([DEFINITION])
    ws.append([SCORE_NOTE])
    ws.append([SMALL_SAMPLE_NOTE.format(n=MIN_N)])
    ws.column_dimensions["B"].width = 28
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
