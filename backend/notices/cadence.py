"""Due-date arithmetic of periodic notices (pure: no database, no clock of its own).

A periodic type's notice for a period (a month, a quarter, a year) is due by ``due_day`` of the first
month after the period (clamped to that month's length: "the 31st" of February is the 28th or 29th).
It is on time when published by the end of that day (local time); the yellow light lights at that
instant, the red one ``grace_days`` later.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PERIODIC = ("monthly", "quarterly", "yearly")
_KEY = re.compile(r"^(\d{4})(?:-(?:(\d{2})|Q([1-4])))?$")


@dataclass(frozen=True)
class Period:
    cadence: str
    start: date
    end: date  # inclusive

    @property
    def key(self) -> str:
        if self.cadence == "monthly":
            return f"{self.start:%Y-%m}"
        if self.cadence == "quarterly":
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}"

    @property
    def label(self) -> str:
        """In the reader's language (read while a page renders)."""
        from backend.i18n import gettext

        if self.cadence == "monthly":
            return gettext("{y} 年 {m} 月").format(y=self.start.year, m=self.start.month)
        if self.cadence == "quarterly":
            return gettext("{y} 年第 {q} 季度").format(y=self.start.year, q=(self.start.month - 1) // 3 + 1)
        return gettext("{y} 年度").format(y=self.start.year)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def period_of(cadence: str, day: date) -> Period:
    """The period of ``cadence`` that contains ``day``."""
    if cadence == "monthly":
        return Period(cadence, day.replace(day=1), _month_end(day.year, day.month))
    if cadence == "quarterly":
        first = 3 * ((day.month - 1) // 3) + 1
        return Period(cadence, date(day.year, first, 1), _month_end(day.year, first + 2))
    if cadence == "yearly":
        return Period(cadence, date(day.year, 1, 1), date(day.year, 12, 31))
    raise ValueError(f"not a periodic cadence: {cadence}")


def previous(period: Period) -> Period:
    return period_of(period.cadence, period.start - timedelta(days=1))


def following(period: Period) -> Period:
    return period_of(period.cadence, period.end + timedelta(days=1))


def last_ended(cadence: str, today: date) -> Period:
    """The latest period that has ended before ``today`` (the one whose notice is coming due)."""
    return previous(period_of(cadence, today))


def parse_key(cadence: str, key: str) -> Period:
    """'2026-11' (monthly), '2026-Q3' (quarterly), '2026' (yearly) → the period. Raises ValueError."""
    m = _KEY.match((key or "").strip())
    if not m:
        raise ValueError("期间格式不正确")
    year, month, quarter = int(m.group(1)), m.group(2), m.group(3)
    if not 2000 <= year <= 2100:
        raise ValueError("期间年份不正确")
    if cadence == "monthly" and month and 1 <= int(month) <= 12:
        return period_of(cadence, date(year, int(month), 1))
    if cadence == "quarterly" and quarter:
        return period_of(cadence, date(year, 3 * (int(quarter) - 1) + 1, 1))
    if cadence == "yearly" and not month and not quarter:
        return period_of(cadence, date(year, 1, 1))
    raise ValueError("期间与公开周期不符")


def due_date(period: Period, due_day: int) -> date:
    """The last day on which the period's notice is on time."""
    after = period.end + timedelta(days=1)  # the first day of the first month after the period
    return after.replace(day=min(max(due_day, 1), calendar.monthrange(after.year, after.month)[1]))


def deadlines(period: Period, due_day: int, grace_days: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """(yellow, red) instants: the end of the due day (local midnight after it), and grace days later."""
    yellow = datetime.combine(due_date(period, due_day) + timedelta(days=1), time.min, tz)
    return yellow, yellow + timedelta(days=max(grace_days, 1))


def recent_periods(cadence: str, today: date, count: int = 8) -> list[Period]:
    """The current period and the ones before it, newest first (the choices of a notice's period)."""
    out = [period_of(cadence, today)]
    while len(out) < count:
        out.append(previous(out[-1]))
    return out
