"""Due-date arithmetic of periodic notices: months, quarters, years, clamping, and one day late."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from backend.notices import cadence as cad

TZ = ZoneInfo("Asia/Shanghai")


def test_monthly_period_and_due_day_in_the_next_month() -> None:
    p = cad.period_of("monthly", date(2026, 11, 17))
    assert (p.start, p.end, p.key) == (date(2026, 11, 1), date(2026, 11, 30), "2026-11")
    assert cad.due_date(p, 10) == date(2026, 12, 10)


def test_month_across_the_year_end_and_clamped_to_february() -> None:
    dec = cad.period_of("monthly", date(2026, 12, 31))
    assert cad.due_date(dec, 10) == date(2027, 1, 10)
    jan = cad.period_of("monthly", date(2027, 1, 5))
    assert cad.due_date(jan, 31) == date(2027, 2, 28)  # "the 31st" of a short month is its last day
    jan_leap = cad.period_of("monthly", date(2028, 1, 5))
    assert cad.due_date(jan_leap, 31) == date(2028, 2, 29)
    assert cad.previous(jan).key == "2026-12" and cad.following(dec).key == "2027-01"


@pytest.mark.parametrize(("day", "key", "start", "end", "due"), [
    (date(2026, 1, 1), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31), date(2026, 4, 20)),
    (date(2026, 5, 31), "2026-Q2", date(2026, 4, 1), date(2026, 6, 30), date(2026, 7, 20)),
    (date(2026, 9, 30), "2026-Q3", date(2026, 7, 1), date(2026, 9, 30), date(2026, 10, 20)),
    (date(2026, 12, 1), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31), date(2027, 1, 20)),
])
def test_quarters_due_the_20th_of_the_first_month_of_the_next_quarter(day, key, start, end, due) -> None:
    p = cad.period_of("quarterly", day)
    assert (p.key, p.start, p.end) == (key, start, end)
    assert cad.due_date(p, 20) == due
    assert cad.parse_key("quarterly", key) == p


def test_last_ended_period_and_yearly() -> None:
    assert cad.last_ended("quarterly", date(2027, 1, 3)).key == "2026-Q4"
    assert cad.last_ended("monthly", date(2027, 3, 1)).key == "2027-02"
    y = cad.last_ended("yearly", date(2027, 6, 1))
    assert y.key == "2026" and cad.due_date(y, 31) == date(2027, 1, 31)


def test_deadlines_yellow_after_the_due_day_red_after_grace_and_one_day_late() -> None:
    q3 = cad.parse_key("quarterly", "2026-Q3")
    yellow, red = cad.deadlines(q3, 20, 10, TZ)
    assert yellow == datetime(2026, 10, 21, 0, 0, tzinfo=TZ)  # the whole 20th is on time
    assert red == datetime(2026, 10, 31, 0, 0, tzinfo=TZ)
    on_time = datetime(2026, 10, 20, 23, 59, tzinfo=TZ)
    one_day_late = datetime(2026, 10, 21, 9, 0, tzinfo=TZ)
    assert on_time < yellow <= one_day_late < red


@pytest.mark.parametrize(("cadence", "key"), [("monthly", "2026-Q3"), ("quarterly", "2026-13"), ("yearly", "2026-01"),
                                              ("monthly", "2026-13"), ("quarterly", "26-Q1"), ("monthly", "")])
def test_period_keys_must_match_the_cadence(cadence: str, key: str) -> None:
    with pytest.raises(ValueError):
        cad.parse_key(cadence, key)
