"""The assessment's rules that need no database: the period's bounds and name, the score and the small
sample, who may assess, the ranking, and the exported table's blanks.

(Found by the mutation run of issue 24: changing any of these left every other test green.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from backend.accounts.service import MembershipView, Viewer
from backend.lights.assess import MIN_N, Figures, Period, can_assess, rank_units, table


def test_a_period_runs_from_its_first_local_midnight_to_the_midnight_after_its_last_day() -> None:
    lo, hi = Period(date(2025, 3, 1), date(2025, 3, 31)).bounds
    # Beijing midnight is 16:00 UTC the day before
    assert lo.astimezone(UTC) == datetime(2025, 2, 28, 16, 0, tzinfo=UTC)
    assert hi.astimezone(UTC) == datetime(2025, 3, 31, 16, 0, tzinfo=UTC)
    one_day = Period(date(2025, 3, 1), date(2025, 3, 1)).bounds
    assert (one_day[1] - one_day[0]).total_seconds() == 24 * 3600


@pytest.mark.parametrize(("start", "end", "label"), [
    (date(2025, 1, 1), date(2025, 12, 31), "2025 年度"),
    (date(2025, 1, 1), date(2025, 12, 30), "2025-01-01 至 2025-12-30"),
    (date(2025, 1, 2), date(2025, 12, 31), "2025-01-02 至 2025-12-31"),
    (date(2025, 2, 1), date(2025, 12, 31), "2025-02-01 至 2025-12-31"),
    (date(2025, 3, 1), date(2025, 3, 31), "2025-03-01 至 2025-03-31"),
    (date(2025, 1, 1), date(2026, 12, 31), "2025-01-01 至 2026-12-31"),
])
def test_a_period_is_named_a_year_only_when_it_is_one(start: date, end: date, label: str) -> None:
    assert Period(start, end).label == label


def figures(name: str, path: str, *, accept_n: int = 0, accepted: int = 0, resolve_n: int = 0, resolved: int = 0,
            explanations: int = 0, explained: int = 0) -> Figures:
    return Figures(unit_id=abs(hash(path)) % 10_000, name=name, kind="community", path=path, depth=2,
                   accept_n=accept_n, accepted_on_time=accepted, resolve_n=resolve_n, resolved_on_time=resolved,
                   explanations=explanations, explanations_on_time=explained)


def test_the_score_counts_nothing_due_as_on_time_and_a_small_sample_below_min_n() -> None:
    assert figures("a", "/1/").score is None  # no accept clock: no score
    only_accept = figures("b", "/2/", accept_n=2, accepted=1)
    assert only_accept.score == 40 * 0.5 + 40 + 20  # nothing due to resolve or explain yet: on time
    mixed = figures("c", "/3/", accept_n=4, accepted=4, resolve_n=4, resolved=1, explanations=2, explained=0)
    assert mixed.score == 40 + 10 + 0
    none_in_time = figures("h", "/8/", accept_n=2, accepted=0, resolve_n=2, resolved=2)
    assert none_in_time.score == 0 + 40 + 20  # a rate of 0 is a rate, not "nothing due"
    thirds = figures("g", "/7/", accept_n=3, accepted=2)
    assert thirds.score == 86.7  # 40 × 2/3 + 40 + 20, to one decimal
    assert figures("d", "/4/", accept_n=MIN_N - 1).small_sample
    assert not figures("e", "/5/", accept_n=MIN_N).small_sample
    assert not figures("f", "/6/").small_sample  # nothing counted: not a sample at all


def _viewer(kind: str, memberships: tuple[MembershipView, ...] = ()) -> Viewer:
    return Viewer(id=1, kind=kind, name="x", phone=None, username=None, public_title="", is_party_member=False,
                  memberships=memberships)


def test_only_staff_with_the_right_role_or_head_of_the_unit_may_assess() -> None:
    head = MembershipView(unit_id=2, unit_name="LX", unit_kind="street", unit_path="/1/2/", role="unit_head",
                          designated=False)
    worker = MembershipView(unit_id=2, unit_name="LX", unit_kind="street", unit_path="/1/2/", role="street_staff",
                            designated=False)
    assessor = MembershipView(unit_id=1, unit_name="区", unit_kind="district", unit_path="/1/", role="assessor",
                              designated=False)
    assert not can_assess(None, "/1/2/")
    assert not can_assess(_viewer("resident"), "/1/2/")
    assert can_assess(_viewer("staff", (assessor,)), "/1/9/")
    assert can_assess(_viewer("staff", (head,)), "/1/2/3/")
    assert not can_assess(_viewer("staff", (head,)), "/1/9/")
    assert not can_assess(_viewer("staff", (worker,)), "/1/2/")


def test_units_rank_by_score_then_more_clocks_then_name_and_small_samples_follow_unranked() -> None:
    units = [
        figures("丙", "/1/3/", accept_n=MIN_N, accepted=MIN_N),  # score 100, fewer clocks
        figures("甲", "/1/1/", accept_n=MIN_N + 3, accepted=MIN_N + 3),  # score 100, more clocks
        figures("乙", "/1/2/", accept_n=MIN_N + 3, accepted=MIN_N + 3),  # ties with 甲: by name
        figures("丁", "/1/4/", accept_n=10, accepted=5),  # score 80
        figures("戊", "/1/0/", accept_n=MIN_N - 1, accepted=MIN_N - 1),  # small sample: unranked
        figures("己", "/1/00/"),  # nothing counted: unranked
    ]
    ordered = rank_units(units)
    assert [(f.name, f.rank) for f in ordered] == [
        ("乙", 1), ("甲", 2), ("丙", 3), ("丁", 4), ("戊", None), ("己", None)]


def test_the_table_shows_dashes_but_exports_empty_cells() -> None:
    ranked = figures("甲", "/1/1/", accept_n=MIN_N, accepted=MIN_N)
    ranked.rank = 1
    unscored = figures("乙", "/1/2/")
    total = figures("柳巷街道", "/1/", accept_n=MIN_N, accepted=MIN_N)
    result = {"root": None, "total": total, "rows": [ranked, unscored], "period": Period(date(2025, 1, 1),
              date(2025, 12, 31)), "kind": "", "units": []}
    shown = table(result)  # type: ignore[arg-type]
    assert shown[0][:5] == [1, "甲", 0, MIN_N, "100.0%"] and shown[0][12] == 100.0
    assert shown[1][0] == "—" and shown[1][4] == "—" and shown[1][12] == "—"
    assert shown[2][0] == "" and shown[2][1] == "柳巷街道（合计）"
    cells = table(result, numbers=True)  # type: ignore[arg-type]
    assert cells[0][4] == 1.0 and cells[0][12] == 100.0
    assert cells[1][0] is None and cells[1][4] is None and cells[1][12] is None
