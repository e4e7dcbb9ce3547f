"""Every KPI on small hand-made histories with known answers: a table of steps → expected figures.

Each row is one request in a category of its own, read by both readers (live from the events, and the
worker's rollup with no re-read overlap, i.e. from the day cube); both must give the expected figures.
A step is ``(op, hours after submission)``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from unittest.mock import patch

import pytest

from backend.organisation.tables import Unit
from backend.ratings import service as ratings
from backend.stats import rollup, service
from backend.stats.service import Filters
from tests.support.history import History, fresh_category, hours
from tests.support.people import staff

T0 = datetime(2025, 4, 10, 2, 0, tzinfo=UTC)  # 10:00 Beijing time
NOW = datetime(2025, 5, 20, 2, 0, tzinfo=UTC)
APRIL = (date(2025, 4, 1), date(2025, 4, 30))

# op → figures; omitted figures are 0 (or None for rates)
CASES: list[tuple[str, list[tuple[str, float]], dict[str, float | None]]] = [
    ("satisfied", [("accept", 1), ("resolve", 5), ("rate:satisfied", 9)],
     dict(accepted=1, completed=1, community_solved=1, ratings=1, ratings_good=1, resolved_once=1,
          satisfaction_rate=1.0, completion_rate=1.0)),
    ("basically satisfied", [("accept", 1), ("resolve", 5), ("rate:basic", 9)],
     dict(accepted=1, completed=1, community_solved=1, ratings=1, ratings_good=1, resolved_once=1,
          satisfaction_rate=1.0, completion_rate=1.0)),
    ("dissatisfied reopens", [("accept", 1), ("resolve", 5), ("rate:dissatisfied", 9)],
     dict(accepted=1, ratings=1, ratings_good=0, reopened=1, resolved_once=1, open=1,
          satisfaction_rate=0.0, completion_rate=0.0)),
    ("dissatisfied, redone, satisfied", [("accept", 1), ("resolve", 5), ("rate:dissatisfied", 9), ("accept", 10),
                                         ("resolve", 20), ("rate:satisfied", 30)],
     dict(accepted=1, completed=1, community_solved=1, ratings=2, ratings_good=1, reopened=1, resolved_once=1,
          satisfaction_rate=0.5, completion_rate=1.0)),
    ("not rated in time", [("accept", 1), ("resolve", 5), ("not_rated", 6)],
     dict(accepted=1, completed=1, community_solved=1, not_rated=1, resolved_once=1, completion_rate=1.0)),
    ("withdrawn", [("withdraw", 1)], dict(submitted=1, withdrawn=1, accepted=0)),
    ("waiting", [], dict(accepted=1, open=1, completion_rate=0.0)),
    ("escalated to the street", [("escalate", 1), ("accept", 2), ("resolve", 8)],
     dict(accepted=1, completed=1, community_solved=0, resolved_once=1, completion_rate=1.0)),
    ("dispatched to a department's section", [("dispatch_section", 2), ("accept", 3), ("resolve", 40)],
     dict(accepted=1, completed=1, community_solved=0, resolved_once=1, completion_rate=1.0)),
    ("dispatched to a street", [("dispatch_street", 2), ("accept", 3), ("resolve", 40)],
     dict(accepted=1, completed=1, community_solved=0, resolved_once=1, completion_rate=1.0)),
    ("yellow then red, still open", [("yellow", 24), ("red", 48), ("accept", 50)],
     dict(accepted=1, yellow=1, red=1, open=1, completion_rate=0.0)),
    ("yellow only, then done", [("yellow", 24), ("accept", 25), ("resolve", 26)],
     dict(accepted=1, completed=1, community_solved=1, yellow=1, resolved_once=1, completion_rate=1.0)),
    ("consultation answered", [("answer", 3)],
     dict(accepted=1, completed=1, community_solved=1, resolved_once=1, completion_rate=1.0)),
]
COUNTS = ("submitted", "withdrawn", "accepted", "completed", "community_solved", "ratings", "ratings_good",
          "not_rated", "yellow", "red", "reopened", "resolved_once", "open")


async def play(cat_id: int, steps: list[tuple[str, float]], at: datetime, kind: str = "help") -> History:
    h = await History.submit(cat_id, at, kind=kind)
    for op, after in steps:
        when = at + hours(after)
        if op.startswith("rate:"):
            await ratings.rate(h.id, h.reporter, op.removeprefix("rate:"), now=when)
        elif op == "not_rated":
            assert await ratings.auto_close(h.id, now=when + timedelta(days=8))
        elif op in ("yellow", "red"):
            await h.light(op, when)
        elif op == "withdraw":
            await h.do(op, when, actor=h.reporter)
        elif op.startswith("dispatch_"):
            await h.do("escalate", when)  # community → street
            await h.do("escalate", when)  # street → command center
            code = "LX" if op == "dispatch_street" else "CGJ-HWK"
            target = await Unit.select(Unit.id).where(Unit.code == code).first()
            await h.do("dispatch", when, actor=await staff("zhzx"), lead_unit_id=target["id"])
        else:
            await h.do(op, when)
    return h


async def both_readers(f: Filters):
    direct = await service.dashboard(f, ["/"], now=NOW)
    await rollup.catch_up()
    with patch.object(rollup, "OVERLAP", 0):
        fast = await rollup.dashboard(f, ["/"], now=NOW)
    return direct.kpis, fast.kpis


@pytest.mark.parametrize(("name", "steps", "expected"), CASES, ids=[c[0] for c in CASES])
async def test_one_history(name: str, steps: list[tuple[str, float]], expected: dict) -> None:
    cat = await fresh_category()
    await play(cat.id, steps, T0, kind="consultation" if name.startswith("consultation") else "help")
    want = {"submitted": 1, **{c: 0 for c in COUNTS if c != "submitted"}, **expected}
    for k in await both_readers(Filters(start=APRIL[0], end=APRIL[1], category_id=cat.id)):
        got = {c: getattr(k, c) for c in COUNTS}
        assert got == {c: want[c] for c in COUNTS}, name
        for rate in ("satisfaction_rate", "completion_rate"):
            assert getattr(k, rate) == want.get(rate), (name, rate)


async def test_period_ends_are_local_midnights() -> None:
    """A request counts in the period of its local (Beijing) submission date, both ends included."""
    cat = await fresh_category()
    inside = [datetime(2025, 3, 31, 16, 0, tzinfo=UTC),  # 00:00 on 1 April in Beijing
              datetime(2025, 4, 30, 15, 59, 59, tzinfo=UTC)]  # 23:59:59 on 30 April
    outside = [datetime(2025, 3, 31, 15, 59, 59, tzinfo=UTC),  # still 31 March in Beijing
               datetime(2025, 4, 30, 16, 0, tzinfo=UTC)]  # already 1 May
    for at in inside + outside:
        await play(cat.id, [("accept", 1), ("resolve", 2)], at)
    for k in await both_readers(Filters(start=APRIL[0], end=APRIL[1], category_id=cat.id)):
        assert (k.submitted, k.accepted, k.completed) == (2, 2, 2)
    march = Filters(start=date(2025, 3, 1), end=date(2025, 3, 31), category_id=cat.id)
    for k in await both_readers(march):
        assert k.submitted == 1


async def test_all_rows_together_add_up() -> None:
    """The rows in one category: the counts are the sums, the rates the ratios of the sums."""
    cat = await fresh_category()
    for i, (name, steps, _expected) in enumerate(CASES):
        await play(cat.id, steps, T0 + hours(i), kind="consultation" if name.startswith("consultation") else "help")
    total = {c: sum({"submitted": 1, **e}.get(c, 0) or 0 for _n, _s, e in CASES) for c in COUNTS}
    for k in await both_readers(Filters(start=APRIL[0], end=APRIL[1], category_id=cat.id)):
        assert {c: getattr(k, c) for c in COUNTS} == total
        assert k.satisfaction_rate == total["ratings_good"] / total["ratings"]
        assert k.completion_rate == total["completed"] / total["accepted"]
        assert k.community_share == total["community_solved"] / total["completed"]
        assert k.reopen_rate == total["reopened"] / total["resolved_once"]
