"""Pure deadline arithmetic: natural hours, or office hours on China's official working days.

Working days come from the ``chinese-calendar`` package (holidays and make-up working days as
announced by the State Council), never from a hand-written list.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

from backend.settings import get_settings

DEFAULT_OFFICE_HOURS = "09:00-12:00,13:30-17:30"
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class RuleSpec:
    yellow_hours: float
    red_hours: float
    clock: str = "natural"  # "natural" | "working"
    office_hours: str = DEFAULT_OFFICE_HOURS


# The seed: 24 h to yellow, 48 h to red for acceptance; resolution 5 and 7 days.
DEFAULT_RULES: dict[str, RuleSpec] = {
    "accept": RuleSpec(24.0, 48.0),
    "resolve": RuleSpec(120.0, 168.0),
}


def parse_office_hours(text: str) -> list[tuple[time, time]]:
    """'09:00-12:00,13:30-17:30' → sorted, non-overlapping spans. Raises ValueError with a message."""
    spans: list[tuple[time, time]] = []
    for part in (text or "").replace("，", ",").split(","):
        if not part.strip():
            continue
        m = _SPAN.match(part)
        if not m:
            raise ValueError(f"办公时间格式不正确：“{part.strip()}”，应为 09:00-12:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError(f"办公时间不正确：“{part.strip()}”")
        start = time(h1, m1)
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError(f"办公时间的结束须晚于开始：“{part.strip()}”")
        spans.append((start, end))
    if not spans:
        raise ValueError("请至少填写一段办公时间")
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise ValueError("办公时间段不能重叠")
    return spans


def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the package does not know yet: plain Monday–Friday
        return day.weekday() < 5


def deadline(start: datetime, hours: float, rule: RuleSpec) -> datetime:
    """The instant ``hours`` of the rule's clock after ``start`` (UTC-aware in, UTC-aware out)."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if rule.clock != "working":
        return (start + timedelta(hours=hours)).astimezone(UTC)
    tz = ZoneInfo(get_settings().timezone)
    spans = parse_office_hours(rule.office_hours)
    remaining = timedelta(hours=hours)
    local = start.astimezone(tz)
    day = local.date()
    for _ in range(3700):  # ten years of days: far beyond any rule
        if is_workday(day):
            for a, b in spans:
                s = max(datetime.combine(day, a, tz), local)
                e = datetime.combine(day, b, tz)
                if e <= s:
                    continue
                if e - s >= remaining:
                    return (s + remaining).astimezone(UTC)
                remaining -= e - s
        day += timedelta(days=1)
    raise ValueError("deadline too far away")
