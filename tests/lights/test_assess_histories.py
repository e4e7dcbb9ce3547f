"""The assessment (年度考核) on hand-made histories with known answers: a table of steps → expected figures.

Each row is one request in a category of its own, with its own natural-hours rules (accept: yellow 24 h,
red 48 h; resolve: yellow 120 h, red 168 h), submitted to 海西社区 (LX-1) on a day of 2019 that no other
test uses, and read as the assessor reads it: 柳巷街道 (LX) with its communities, over the 20 days around
that day. A step is ``(op, hours after submission)``; ``sweep`` lights what is due at that moment (as the
worker would), ``explain`` is the head's explanation of the red light. Each test first lights what earlier
rows left running, before its own period, so no row's leftovers reach another's figures.

Figures: (requests handled, accept clocks counted, accepted on time, resolve clocks counted, resolved on
time, yellow, red, explanations, explained on time, ratings, good ratings).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.lights import assess
from backend.lights import service as lights
from backend.lights.assess import Period
from backend.lights.tables import Explanation, LightRule
from backend.ratings import service as ratings
from tests.support.history import History, fresh_category, hours
from tests.support.people import staff, unit

BEIJING = ZoneInfo("Asia/Shanghai")
FIGURES = ("handled", "accept_n", "accepted_on_time", "resolve_n", "resolved_on_time", "yellow", "red",
           "explanations", "explanations_on_time", "ratings", "ratings_good")
Fig = tuple[int, int, int, int, int, int, int, int, int, int, int]

# name, steps, figures of 海西社区 (LX-1), figures of the street's total (LX: its own clocks too)
CASES: list[tuple[str, list[tuple[str, float]], Fig, Fig]] = [
    ("accepted and resolved in time, satisfied", [("accept", 1), ("resolve", 5), ("rate:satisfied", 9)],
     (1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1), (1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1)),
    ("accepted after its yellow light, basically satisfied",
     [("sweep", 25), ("accept", 30), ("resolve", 40), ("rate:basic", 45)],
     (1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1), (1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1)),
    ("never accepted: yellow and red, explained in time", [("sweep", 49), ("explain", 60)],
     (1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0), (1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0)),
    ("never accepted: red explained after the 24 hours", [("sweep", 49), ("explain", 80)],
     (1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0), (1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0)),
    ("accepted exactly at the yellow deadline: on time", [("accept", 24), ("resolve", 120)],
     (1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0)),
    ("resolved after its yellow deadline", [("accept", 2), ("resolve", 121)],
     (1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)),
    # handing on in time is acting in time: the community's clocks stop on time, the street's run anew
    ("escalated in time, the street acts in time", [("escalate", 2), ("accept", 3), ("resolve", 10)],
     (1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0), (1, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0)),
    ("escalated in time, the street lets it go yellow", [("escalate", 2), ("sweep", 27), ("accept", 28),
                                                         ("resolve", 30)],
     (1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0), (1, 2, 1, 2, 2, 1, 0, 0, 0, 0, 0)),
    ("dissatisfied: handled again by the same unit, with new clocks",
     [("accept", 1), ("resolve", 5), ("rate:dissatisfied", 9), ("accept", 10), ("resolve", 20)],
     (1, 2, 2, 2, 2, 0, 0, 0, 0, 1, 0), (1, 2, 2, 2, 2, 0, 0, 0, 0, 1, 0)),
    ("withdrawn before acceptance: its clocks stopped in time", [("withdraw", 1)],
     (1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0), (1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0)),
]


def day_of(i: int) -> date:
    return date(2019, 1, 10) + timedelta(days=30 * i)  # one month of 2019 per row: rows never meet


def at_ten(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=BEIJING)


async def category_with_rules() -> int:
    cat = await fresh_category()
    for stage, yellow, red in (("accept", 24.0, 48.0), ("resolve", 120.0, 168.0)):
        await LightRule(category=cat.id, stage=stage, yellow_hours=yellow, red_hours=red, clock="natural").save()
    return cat.id


async def explain(request_id: int, when: datetime) -> None:
    ex = await Explanation.select().where(Explanation.request == request_id).first()
    assert ex is not None, "the red light opened an explanation task"
    head = await staff("haixi_head")
    await lights.submit_explanation(ex["id"], head, reason="人手不足", measures="已增派人员",
                                    promised_at=when + timedelta(days=2), now=when)


async def play(cat_id: int, steps: list[tuple[str, float]], start: datetime, community: str = "LX-1") -> History:
    h = await History.submit(cat_id, start, community=community)
    for op, after in steps:
        when = start + hours(after)
        if op.startswith("rate:"):
            await ratings.rate(h.id, h.reporter, op.removeprefix("rate:"), now=when)
        elif op == "sweep":
            await lights.sweep(now=when)
        elif op == "explain":
            await explain(h.id, when)
        elif op == "withdraw":
            await h.do(op, when, actor=h.reporter)
        else:
            await h.do(op, when)
    return h


async def read(period: Period) -> tuple[dict[str, assess.Figures], assess.Figures]:
    result = await assess.assessment(await staff("zzb"), root_id=(await unit("LX")).id, kind=None, period=period)
    return {f.path: f for f in result["rows"]}, result["total"]


def figures(f: assess.Figures) -> Fig:
    return tuple(getattr(f, name) for name in FIGURES)  # type: ignore[return-value]


@pytest.mark.parametrize(("name", "steps", "community", "street"), CASES, ids=[c[0] for c in CASES])
async def test_one_history(name: str, steps: list[tuple[str, float]], community: Fig, street: Fig) -> None:
    i = [c[0] for c in CASES].index(name)
    day = day_of(i)
    await lights.sweep(now=at_ten(day) - timedelta(days=4))  # earlier rows' leftover lights: before the period
    await play(await category_with_rules(), steps, at_ten(day))
    rows, total = await read(Period(day - timedelta(days=3), day + timedelta(days=16)))
    lx1 = rows[(await unit("LX-1")).path]
    assert figures(lx1) == community, name
    assert figures(total) == street, name
    for other in rows.values():  # the street's other communities handled nothing
        if other.path != lx1.path:
            assert figures(other) == (0,) * len(FIGURES), (name, other.name)


async def test_only_clocks_due_or_stopped_in_the_period_count() -> None:
    """A clock counts in the period its yellow deadline comes in (late) or it stops in before that deadline
    (on time); one still running before its deadline counts nowhere yet."""
    cat = await category_with_rules()
    end = date(2019, 12, 10)
    first = Period(date(2019, 12, 1), end)
    second = Period(end + timedelta(days=1), end + timedelta(days=10))
    await lights.sweep(now=at_ten(date(2019, 11, 30)))
    late_evening = at_ten(end) + hours(12)  # 22:00 on the period's last day
    # accepted at 01:00 the next day: on time, in `second`; never resolved: late when its 120 h are up
    await play(cat, [("accept", 3)], late_evening)
    await play(cat, [], late_evening)  # never acted on: late in `second`, for both clocks
    _rows, total = await read(first)
    assert figures(total) == (0,) * len(FIGURES)
    _rows, total = await read(second)
    assert figures(total) == (2, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0)
    assert total.accept_rate == 0.5 and total.resolve_rate == 0.0


async def test_rates_score_and_small_samples() -> None:
    """Rates over the clocks counted (not the requests); the score's weights; a unit with fewer than 5
    counted accept clocks is shown, marked and not ranked; a unit with 5 or more is ranked."""
    cat = await category_with_rules()
    day = date(2019, 11, 5)
    start = at_ten(day)
    await lights.sweep(now=start - timedelta(days=3))
    plans = [
        [("accept", 1), ("resolve", 5), ("rate:satisfied", 9)],
        [("accept", 1), ("resolve", 5), ("rate:dissatisfied", 9), ("accept", 10), ("resolve", 130)],
        [("accept", 30), ("resolve", 40), ("rate:basic", 45)],
        [("escalate", 2), ("accept", 3), ("resolve", 10)],
    ]
    for n, plan in enumerate(plans):
        await play(cat, plan, start + hours(n * 0.1))
    await play(cat, [("sweep", 49), ("explain", 80)], start + hours(0.5))  # in LX-1 too
    await play(cat, [("accept", 1), ("resolve", 2)], start + hours(0.6), community="LX-2")
    rows, total = await read(Period(day - timedelta(days=2), day + timedelta(days=17)))
    lx1, lx2 = rows[(await unit("LX-1")).path], rows[(await unit("LX-2")).path]
    # LX-1 accept clocks: 1 ✓, 1 ✓ + redo 1 ✓, 30 h ✗, escalated ✓, never accepted ✗ → 6 counted, 4 on time
    # resolve clocks: ✓, ✓ + redo at 130 h after reopening (121 h: late) ✗, ✓, escalated ✓, never ✗ → 6, 4
    assert (lx1.accept_n, lx1.accepted_on_time, lx1.resolve_n, lx1.resolved_on_time) == (6, 4, 6, 4)
    assert lx1.accept_rate == 4 / 6 and lx1.resolve_rate == 4 / 6
    assert (lx1.ratings, lx1.ratings_good, lx1.satisfaction) == (3, 2, 2 / 3)
    assert (lx1.explanations, lx1.explanations_on_time, lx1.explain_rate) == (1, 0, 0.0)
    assert lx1.score == round(40 * 4 / 6 + 40 * 4 / 6 + 20 * 0.0, 1)
    assert lx1.handled == 5 and not lx1.small_sample and lx1.rank == 1
    assert (lx2.accept_n, lx2.small_sample, lx2.rank) == (1, True, None)
    assert lx2.score == 100.0  # shown, but a single report cannot top the ranking
    assert rows[(await unit("LX-3")).path].small_sample is False  # nothing counted: no figure, no mark
    # the street's total: its own clocks (the escalated request's) on top of its communities'
    assert (total.accept_n, total.accepted_on_time) == (6 + 1 + 1, 4 + 1 + 1)
    table = assess.table({"rows": [lx1, lx2], "total": total})
    assert table[0][4] == "66.7%" and table[0][11] == "66.7%" and table[0][16] == ""
    assert table[1][0] == "—" and table[1][16] == "样本不足"



async def test_the_first_instant_of_a_period_counts_and_the_first_after_it_does_not() -> None:
    """Period = one Beijing day [lo, hi). Clocks decided, lights lit, explanations opened and ratings given
    exactly at lo count; exactly at hi they belong to the next day. Clocks decided before lo do not count,
    even when their deadline falls in the period."""
    cat = await category_with_rules()
    day = date(2018, 6, 10)  # no other test uses 2018
    period = Period(day, day)
    lo, hi = period.bounds
    await play(cat, [("accept", 1), ("resolve", 2), ("rate:satisfied", 10)], lo - hours(10))  # E: decided before
    await play(cat, [], lo - hours(24))  # A: its accept deadline is lo, never accepted: late at lo; red at hi
    await play(cat, [], lo - hours(48))  # G: red at lo (yellow before): its explanation opens at lo
    await play(cat, [("accept", 1)], lo - hours(1))  # D: accepted at lo, in time
    await play(cat, [("accept", 0)], lo)  # D2: accepted at lo as it came in (its deadline is at hi)
    await play(cat, [("accept", 2)], hi - hours(2))  # C: accepted at hi
    await play(cat, [], hi - hours(24))  # B: its accept deadline is hi
    await play(cat, [("accept", 1), ("resolve", 2), ("rate:satisfied", 10)], hi - hours(10))  # R: rated at hi
    await lights.sweep(now=lo)
    await lights.sweep(now=hi)
    rows, _total = await read(period)
    lx1 = rows[(await unit("LX-1")).path]
    # accept clocks: A late, D and D2 on time, R on time (stopped at hi - 9 h); resolve clocks: R on time;
    # lights at lo: A's yellow, G's yellow and red (A's red and B's yellow are at hi); explanations: G's
    # (A's opens at hi); ratings: E's (R's is at hi)
    assert figures(lx1) == (4, 4, 3, 1, 1, 2, 1, 1, 0, 1, 1)


async def test_a_kind_lists_every_unit_of_that_kind_under_the_root_and_not_the_root() -> None:
    street = await unit("LX")
    period = Period(date(2018, 7, 1), date(2018, 7, 31))
    result = await assess.assessment(await staff("zzb"), root_id=street.id, kind="community", period=period)
    from backend.organisation.tables import Unit

    communities = await Unit.select(Unit.id).where(Unit.path.like(street.path + "%") & (Unit.kind == "community"))
    assert sorted(f.unit_id for f in result["rows"]) == sorted(r["id"] for r in communities)
    assert result["total"].unit_id == street.id and street.id not in {f.unit_id for f in result["rows"]}
    assert {f.kind for f in result["rows"]} == {"community"} and len(result["rows"]) > 1


async def test_an_explanation_submitted_exactly_at_its_deadline_is_on_time() -> None:
    cat = await category_with_rules()
    start = at_ten(date(2017, 3, 10))  # no other test uses 2017
    await lights.sweep(now=start - timedelta(days=4))
    h = await play(cat, [("sweep", 49)], start)
    ex = await Explanation.select(Explanation.due_at).where(Explanation.request == h.id).first()
    await explain(h.id, ex["due_at"])
    rows, _total = await read(Period(date(2017, 3, 8), date(2017, 3, 25)))
    lx1 = rows[(await unit("LX-1")).path]
    assert (lx1.explanations, lx1.explanations_on_time) == (1, 1)


async def test_a_supporters_rating_enters_no_figure() -> None:
    """Only the reporter's rating counts (a supporter's 我也遇到了 rating is shown on the request's page)."""
    from backend.maps import service as maps
    from tests.support.people import resident

    cat = await category_with_rules()
    start = at_ten(date(2017, 4, 10))
    await lights.sweep(now=start - timedelta(days=4))
    h = await play(cat, [("accept", 1)], start)
    neighbour = await resident()
    await maps.support(h.id, neighbour)
    await h.do("resolve", start + hours(5))
    await ratings.rate_as_supporter(h.id, neighbour, "dissatisfied", now=start + hours(7))
    await ratings.rate(h.id, h.reporter, "satisfied", now=start + hours(9))
    rows, total = await read(Period(date(2017, 4, 8), date(2017, 4, 25)))
    lx1 = rows[(await unit("LX-1")).path]
    assert (lx1.ratings, lx1.ratings_good) == (1, 1) and (total.ratings, total.ratings_good) == (1, 1)


async def test_a_clock_still_running_in_the_current_period_counts_nowhere_yet() -> None:
    """This year's assessment, read today: a request that came in just now has clocks whose deadlines are
    in the period but still to come; they count once decided, not before."""
    from backend.db import utcnow

    today = utcnow().astimezone(BEIJING).date()
    period = Period(today - timedelta(days=1), today + timedelta(days=30))
    cat = await category_with_rules()
    rows, _total = await read(period)
    lx1_path = (await unit("LX-1")).path
    before = figures(rows[lx1_path])
    await play(cat, [], utcnow())
    rows, _total = await read(period)
    assert figures(rows[lx1_path]) == before


async def test_overdue_notice_duties_count_for_their_unit_and_its_street_on_the_day_they_lit() -> None:
    """村居公开 in the assessment: each duty's yellow and red light, in the period it lit, charged to the
    community and to its street's total."""
    from backend.notices import duties
    from backend.notices.tables import NoticeDuty
    from tests.support.notices import community_with_staff

    community_id, _author, _reviewer = await community_with_staff()
    jan21, jan31 = at_ten(date(2027, 1, 21)), at_ten(date(2027, 1, 31))
    await duties.ensure_duties(jan21)
    await duties.flip(jan21)
    await duties.flip(jan31)
    mine = await NoticeDuty.select(NoticeDuty.yellow_lit_at, NoticeDuty.red_lit_at).where(
        NoticeDuty.unit == community_id)

    def lit_on(column: str, day: datetime) -> int:
        return sum(1 for d in mine if d[column] == day)

    expected = {jan21: (lit_on("yellow_lit_at", jan21), lit_on("red_lit_at", jan21)),
                jan31: (lit_on("yellow_lit_at", jan31), lit_on("red_lit_at", jan31))}
    assert expected[jan21][0] >= 4 and expected[jan21][1] >= 1 and expected[jan31][1] >= 1
    assert expected[jan31][0] == 0  # every yellow lit at the due day
    for day, (yellow, red) in expected.items():
        rows, total = await read(Period(day.date(), day.date()))
        row = next(f for f in rows.values() if f.unit_id == community_id)
        assert (row.notice_yellow, row.notice_red) == (yellow, red), day
        assert sum(f.notice_red for f in rows.values()) <= total.notice_red and total.notice_red >= red
        assert sum(f.notice_yellow for f in rows.values()) <= total.notice_yellow
    rows, _total = await read(Period(date(2027, 1, 22), date(2027, 1, 30)))  # between: nothing lit
    row = next(f for f in rows.values() if f.unit_id == community_id)
    assert (row.notice_yellow, row.notice_red) == (0, 0)


async def test_without_a_unit_an_assessor_reads_the_district_and_a_head_their_own_unit() -> None:
    from backend.lights.assess import AssessError

    period = Period(date(2017, 5, 1), date(2017, 5, 31))
    district = await assess.assessment(await staff("zzb"), root_id=None, kind=None, period=period)
    assert district["root"]["parent"] is None and district["root"]["id"] == (await unit("YZQ")).id
    assert district["kind"] == ""
    own = await assess.assessment(await staff("haixi_head"), root_id=None, kind=None, period=period)
    assert own["root"]["id"] == (await unit("LX-1")).id
    communities = await assess.assessment(await staff("zzb"), root_id=None, kind="community", period=period)
    assert communities["kind"] == "community"
    with pytest.raises(AssessError) as refused:
        await assess.assessment(await staff("zzb"), root_id=10**9, kind=None, period=period)
    assert refused.value.status == 404
    with pytest.raises(AssessError) as nothing:  # a grid worker heads no unit: no unit to assess at all
        await assess.assessment(await staff("wg_lx_1_1"), root_id=None, kind=None, period=period)
    assert nothing.value.status == 404
