"""The rules beside the figures, without a database: the list behind each number holds exactly the requests
that number counts, the backlog's age bands meet at their edges, and the units' ranking order.

(Found by the mutation run of issue 24: changing any of these left every other test green.)
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from backend.requests.tables import Status
from backend.stats import kpis
from backend.stats.facts import Fact

NOW = datetime(2025, 3, 20, 4, 0, tzinfo=UTC)
T0 = NOW - timedelta(days=2)


def _facts() -> list[Fact]:
    """Every status with every combination of what a request's events can have added up to."""
    out: list[Fact] = []
    combos = itertools.product(
        [s.value for s in Status], range(3), range(3), (0, 1), (0, 2), (0, 1), (0, 1), (0, 1), (False, True),
        (False, True))
    for status, rated, good, yellow, red, reopens, resolutions, not_rated, above, accepted in combos:
        if good > rated:
            continue
        done = status in (Status.resolved.value, Status.closed.value)
        out.append(Fact(
            id=len(out), code=f"F{len(out)}", kind="help", category=1, street=None, community=None, grid=None,
            is_public=True, submitted_at=T0, status=status, level="community",
            first_accept=T0 + timedelta(hours=1) if accepted or done else None,
            last_resolve=T0 + timedelta(hours=5) if done else None, resolutions=max(resolutions, int(done)),
            reopens=reopens, rated=rated, rated_good=good, yellow=yellow, red=red, not_rated=not_rated,
            above_community=above))
    return out


FACTS = _facts()


def _counted(fact: Fact) -> tuple[kpis.Kpis, list[float], list[float]]:
    """What one request adds to the figures, through the code that computes them."""
    accept: list[float] = []
    resolve: list[float] = []
    return kpis.accumulate(kpis.new_kpis(), [fact], NOW, accept, resolve), accept, resolve


# metric (the list a figure links to) → whether one request is among those its figure counts
COUNTED_BY = {
    "submitted": lambda k, a, r: k.submitted > 0,
    "withdrawn": lambda k, a, r: k.withdrawn > 0,
    "accepted": lambda k, a, r: k.accepted > 0,
    "completed": lambda k, a, r: k.completed > 0,
    "not_completed": lambda k, a, r: k.accepted > 0 and k.completed == 0,
    "rated": lambda k, a, r: k.ratings > 0,
    "satisfied": lambda k, a, r: k.ratings_good > 0,
    "dissatisfied": lambda k, a, r: k.ratings - k.ratings_good > 0,
    "not_rated": lambda k, a, r: k.not_rated > 0,
    "community": lambda k, a, r: k.community_solved > 0,
    "above_community": lambda k, a, r: k.completed > 0 and k.community_solved == 0,
    "accept_time": lambda k, a, r: bool(a),
    "resolve_time": lambda k, a, r: bool(r),
    "yellow": lambda k, a, r: k.yellow > 0,
    "red": lambda k, a, r: k.red > 0,
    "reopened": lambda k, a, r: k.reopened > 0,
    "resolved_once": lambda k, a, r: k.resolved_once > 0,
    "open": lambda k, a, r: k.open > 0,
}


@pytest.mark.parametrize("metric", sorted(COUNTED_BY))
def test_the_list_behind_a_figure_is_what_the_figure_counts(metric: str) -> None:
    pred = kpis.metric_predicate(metric, NOW)
    assert pred is not None
    listed = {f.id for f in FACTS if pred(f)}
    counted = {f.id for f in FACTS if COUNTED_BY[metric](*_counted(f))}
    assert listed == counted
    assert listed and (metric == "submitted" or len(listed) < len(FACTS))  # the check saw both sides


def test_every_list_is_checked() -> None:
    shown = {s.metric for s in kpis.SHOWN} | {"submitted", "withdrawn", "not_completed", "above_community"}
    assert shown <= set(COUNTED_BY)


@pytest.mark.parametrize(("age", "band"), [
    (timedelta(hours=-1), "lt1d"),  # submitted "in the future" (clock skew): the youngest band
    (timedelta(0), "lt1d"),
    (timedelta(days=1) - timedelta(seconds=1), "lt1d"),
    (timedelta(days=1), "d1_3"),
    (timedelta(days=3) - timedelta(seconds=1), "d1_3"),
    (timedelta(days=3), "d3_7"),
    (timedelta(days=7) - timedelta(seconds=1), "d3_7"),
    (timedelta(days=7), "d7_30"),
    (timedelta(days=30) - timedelta(seconds=1), "d7_30"),
    (timedelta(days=30), "ge30d"),
    (timedelta(days=4000), "ge30d"),
])
def test_backlog_bands_meet_at_their_edges(age: timedelta, band: str) -> None:
    fact = Fact(id=1, code="F1", kind="help", category=1, street=None, community=None, grid=None, is_public=True,
                submitted_at=NOW - age, status=Status.assigned.value, level="community", first_accept=None,
                last_resolve=None, resolutions=0, reopens=0, rated=0, rated_good=0, yellow=0, red=0, not_rated=0,
                above_community=False)
    assert kpis.backlog_bucket(fact, NOW) == band
    k = kpis.compute([fact], NOW)
    assert k.backlog[band] == 1 and sum(k.backlog.values()) == 1
    assert kpis.metric_predicate(f"backlog_{band}", NOW)(fact)


def _unit(completion: float | None, satisfaction: float | None, accepted: int, red: int) -> kpis.Kpis:
    return kpis.Kpis(completion_rate=completion, satisfaction_rate=satisfaction, accepted=accepted, red=red)


def test_units_rank_by_completion_then_satisfaction_then_accepted_then_fewer_reds() -> None:
    units = {
        "none_yet": _unit(None, None, 0, 0),  # nothing accepted: after every unit with a rate
        "low": _unit(0.5, 0.99, 50, 0),
        "high_unrated": _unit(0.9, None, 40, 0),  # no rating yet counts as 0, so the tie goes on to accepted
        "high_zero": _unit(0.9, 0.0, 30, 0),
        "high_good_many": _unit(0.9, 0.8, 20, 3),
        "high_good_fewer_reds": _unit(0.9, 0.8, 20, 1),
        "high_good_more": _unit(0.9, 0.8, 25, 9),
        "high_better": _unit(0.9, 0.95, 1, 0),
    }
    order = sorted(units, key=lambda name: kpis.ranking_key(units[name]))
    assert order == ["high_better", "high_good_more", "high_good_fewer_reds", "high_good_many", "high_unrated",
                     "high_zero", "low", "none_yet"]


def test_percentiles_take_the_nearest_rank() -> None:
    assert kpis.percentile([], 0.5) is None
    assert kpis.percentile([7.0], 0.5) == 7.0 and kpis.percentile([7.0], 0.9) == 7.0
    assert kpis.percentile([2.0, 1.0], 0.5) == 1.0  # the smallest value with half the values at or below it
    assert kpis.percentile([float(v) for v in range(1, 11)], 0.9) == 9.0


def test_the_counts_and_the_shown_definitions_cannot_be_changed_at_run_time() -> None:
    """One module defines each figure and the words shown beside it: nothing else may alter either."""
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        kpis.SHOWN[0].definition = "别的说法"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        kpis.COUNTS[0].sql = "1"  # type: ignore[misc]
