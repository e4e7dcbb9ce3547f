"""What one request's events say, derived once (backend/stats/facts.py): a table of the request's latest
status and times → the derived facts every KPI reads. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.stats.facts import DONE, GOOD, OPEN, Fact

T0 = datetime(2025, 4, 10, 2, 0, tzinfo=UTC)


def fact(status: str, *, accepted_after: float | None = 1, resolved_after: float | None = None, **kw) -> Fact:
    return Fact(id=1, code="YZ1", kind="help", category=1, street=None, community=None, grid=None, is_public=True,
                submitted_at=T0, status=status, level="community",
                first_accept=None if accepted_after is None else T0 + timedelta(hours=accepted_after),
                last_resolve=None if resolved_after is None else T0 + timedelta(hours=resolved_after),
                resolutions=0, reopens=0, rated=0, rated_good=0, yellow=0, red=0, not_rated=0, above_community=False,
                **kw)


# status, resolved after (h) → withdrawn, completed, open, resolve seconds
CASES = [
    ("submitted", None, False, False, True, None),
    ("assigned", None, False, False, True, None),
    ("accepted", 5, False, False, True, None),  # resolved once, reopened: no resolve time until done again
    ("returned", None, False, False, True, None),
    ("resolved", 5, False, True, False, 5 * 3600.0),
    ("closed", 7, False, True, False, 7 * 3600.0),
    ("closed", None, False, True, False, None),  # closed without a resolution event: no duration invented
    ("withdrawn", None, True, False, False, None),
    ("duplicate", None, True, False, False, None),  # counted once, as its original
]


@pytest.mark.parametrize(("status", "resolved_after", "withdrawn", "completed", "is_open", "resolve_seconds"), CASES)
def test_derived_facts(status: str, resolved_after: float | None, withdrawn: bool, completed: bool, is_open: bool,
                       resolve_seconds: float | None) -> None:
    x = fact(status, resolved_after=resolved_after)
    assert (x.withdrawn, x.completed, x.is_open, x.resolve_seconds) == (withdrawn, completed, is_open,
                                                                         resolve_seconds)
    assert x.accept_seconds == 3600.0 and x.cross_lead is False


def test_not_accepted_has_no_accept_time_and_the_sets_are_the_seed_s() -> None:
    assert fact("assigned", accepted_after=None).accept_seconds is None
    assert GOOD == ("satisfied", "basic")
    assert set(OPEN) == {"submitted", "assigned", "accepted", "returned"} and set(DONE) == {"resolved", "closed"}
