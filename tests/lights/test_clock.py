"""Deadlines: natural hours, and office hours on China's official working days (chinese-calendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.lights.clock import DEFAULT_RULES, RuleSpec, deadline, is_workday, parse_office_hours

BJ = ZoneInfo("Asia/Shanghai")
WORKING = RuleSpec(8, 16, "working", "09:00-12:00,13:30-17:30")


def bj(*args: int) -> datetime:
    return datetime(*args, tzinfo=BJ)


def test_natural_hours_ignore_holidays() -> None:
    start = bj(2026, 9, 30, 16, 0)
    assert deadline(start, 24, RuleSpec(24, 48)) == (start + timedelta(hours=24)).astimezone(UTC)
    assert deadline(start, 48, RuleSpec(24, 48)).tzinfo is not None


def test_national_day_2026_is_skipped() -> None:
    # 30 Sep 16:00 → 1.5 h that day; 1–7 Oct are holidays; 8 Oct 09:00–12:00 (3 h) + 13:30–17:00 (3.5 h).
    assert deadline(bj(2026, 9, 30, 16, 0), 8, WORKING) == bj(2026, 10, 8, 17, 0).astimezone(UTC)


def test_started_on_a_holiday_counts_from_the_next_working_morning() -> None:
    assert deadline(bj(2026, 10, 3, 10, 0), 1, WORKING) == bj(2026, 10, 8, 10, 0).astimezone(UTC)


def test_make_up_saturday_is_a_working_day() -> None:
    # Saturday 10 Oct 2026 is an official make-up working day; an ordinary Saturday is not.
    assert deadline(bj(2026, 10, 9, 17, 0), 2, WORKING) == bj(2026, 10, 10, 10, 30).astimezone(UTC)
    assert deadline(bj(2026, 10, 16, 17, 0), 2, WORKING) == bj(2026, 10, 19, 10, 30).astimezone(UTC)


def test_lunch_break_and_evening_do_not_count() -> None:
    assert deadline(bj(2026, 11, 24, 11, 0), 2, WORKING) == bj(2026, 11, 24, 14, 30).astimezone(UTC)
    assert deadline(bj(2026, 11, 24, 20, 0), 1, WORKING) == bj(2026, 11, 25, 10, 0).astimezone(UTC)


def test_office_hours_are_validated() -> None:
    assert len(parse_office_hours("09:00-12:00，13:30-17:30")) == 2
    for bad in ("", "9-12", "12:00-09:00", "09:00-12:00,11:00-13:00", "25:00-26:00"):
        with pytest.raises(ValueError):
            parse_office_hours(bad)


def test_the_seed_s_deadlines_are_the_defaults() -> None:
    """Without a rule of its own a category runs on the seed's deadlines: accept 24 h / 48 h, resolve 5 / 7 days."""
    assert DEFAULT_RULES == {"accept": RuleSpec(24.0, 48.0), "resolve": RuleSpec(120.0, 168.0)}
    assert DEFAULT_RULES["accept"].clock == "natural"


@pytest.mark.parametrize(("text", "spans"), [
    ("23:00-24:00", [(time(23, 0), time(23, 59, 59, 999999))]),  # up to midnight
    ("00:00-09:59,", [(time(0, 0), time(9, 59))]),  # a trailing comma is no span
    ("09:00-12:00,,13:30-17:30", [(time(9, 0), time(12, 0)), (time(13, 30), time(17, 30))]),
    ("09:00-12:00,12:00-13:00", [(time(9, 0), time(12, 0)), (time(12, 0), time(13, 0))]),  # touching: no overlap
    ("13:30-17:30, 08:59-12:00", [(time(8, 59), time(12, 0)), (time(13, 30), time(17, 30))]),  # sorted
])
def test_office_hours_at_their_limits(text: str, spans: list) -> None:
    assert parse_office_hours(text) == spans


@pytest.mark.parametrize("bad", ["24:00-23:00", "09:60-10:00", "09:00-10:60", "09:00-24:30", "09:00-25:00"])
def test_office_hours_out_of_the_clock_are_refused_with_their_reason(bad: str) -> None:
    with pytest.raises(ValueError, match="办公时间不正确"):
        parse_office_hours(bad)


def test_a_deadline_that_fills_a_span_ends_with_it() -> None:
    """3 office hours from 09:00 end at 12:00, before lunch, not at 13:30 after it."""
    assert deadline(bj(2026, 11, 24, 9, 0), 3, WORKING) == bj(2026, 11, 24, 12, 0).astimezone(UTC)


def test_an_empty_span_is_refused() -> None:
    with pytest.raises(ValueError, match="结束须晚于开始"):
        parse_office_hours("09:00-09:00")


def test_a_rule_cannot_be_changed_in_place() -> None:
    """DEFAULT_RULES is shared by every category without a rule: changing it in place would move every
    deadline at once. Rules are values (hashable, frozen)."""
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_RULES["accept"].yellow_hours = 1  # type: ignore[misc]
    assert len({RuleSpec(24, 48), RuleSpec(24.0, 48.0)}) == 1


def test_a_year_the_calendar_does_not_know_works_monday_to_friday() -> None:
    assert [is_workday(date(2200, 1, d)) for d in range(6, 13)] == [True] * 5 + [False] * 2  # Mon 6 Jan 2200
    assert deadline(bj(2200, 1, 10, 17, 0), 1, WORKING) == bj(2200, 1, 13, 9, 30).astimezone(UTC)  # Fri ½ h + Mon ½ h
