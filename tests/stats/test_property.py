"""The property: for random histories, the dashboard equals a direct recomputation from the events."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from unittest.mock import patch

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from backend.organisation.tables import Unit
from backend.ratings import service as ratings
from backend.requests.service import RequestError
from backend.requests.tables import Event, Request
from backend.routing.service import command_center
from backend.stats import kpis, rollup, service
from backend.stats.service import Filters
from tests.support.history import History, fresh_category, hours
from tests.support.people import staff

START = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)
NOW = START + timedelta(days=40)
# Walking the request state machine: each drawn step picks one of the operations allowed in the request's
# current status, so every step happens (no step is skipped as "not allowed here").
ALLOWED = {
    "assigned": ("accept", "escalate", "withdraw", "yellow", "red", "dispatch_street", "dispatch_section", "answer",
                 "duplicate"),
    "returned": ("dispatch_street", "dispatch_section", "duplicate"),
    "accepted": ("resolve", "escalate", "yellow", "red", "answer", "duplicate"),
    "resolved": ("satisfied", "basic", "dissatisfied", "not_rated"),
}

request_plan = st.fixed_dictionaries({
    "kind": st.sampled_from(["help", "suggestion", "consultation", "complaint"]),
    "community": st.sampled_from(["LX-1", "LX-2", "MQ-1"]),
    "day": st.integers(0, 11),
    "steps": st.lists(st.tuples(st.integers(0, 7), st.integers(1, 60)), max_size=7),
})
# Plans that take every operation and outcome at least once (steps named, not drawn), run first in every run.
EVERY_PATH = [
    {"kind": "help", "community": "LX-1", "day": 1,
     "steps": [("escalate", 2), ("accept", 3), ("resolve", 5), ("satisfied", 9)]},
    {"kind": "complaint", "community": "LX-2", "day": 2,
     "steps": [("accept", 1), ("resolve", 4), ("dissatisfied", 6), ("accept", 7), ("resolve", 8), ("basic", 9)]},
    {"kind": "suggestion", "community": "MQ-1", "day": 3,
     "steps": [("yellow", 25), ("red", 25), ("dispatch_street", 1), ("accept", 2), ("resolve", 3), ("not_rated", 9)]},
    {"kind": "consultation", "community": "LX-1", "day": 4, "steps": [("answer", 2), ("satisfied", 9)]},
    {"kind": "help", "community": "MQ-1", "day": 5, "steps": [("withdraw", 1)]},
    {"kind": "help", "community": "LX-2", "day": 6, "steps": [("dispatch_section", 1), ("accept", 2), ("resolve", 30)]},
    {"kind": "help", "community": "LX-1", "day": 7, "steps": [("accept", 1), ("duplicate", 2)]},  # one problem, twice
]


async def _status(request_id: int) -> str:
    return (await Request.select(Request.status).where(Request.id == request_id).first())["status"]


async def _allowed(request_id: int, kind: str, has_original: bool) -> tuple[str, list[str]]:
    row = await Request.select(Request.status, Request.level, Request.current_unit).where(
        Request.id == request_id).first()
    at_district = row["level"] == "district"  # nothing above it; only the command center itself dispatches
    at_cc = row["current_unit"] == (await command_center()).id
    ops = [op for op in ALLOWED.get(row["status"], ()) if (op != "answer" or kind == "consultation")
           and (op != "escalate" or not at_district)
           and (not op.startswith("dispatch_") or not at_district or at_cc or row["status"] == "returned")
           and (op != "duplicate" or has_original)]
    return row["status"], ops


async def play(cat_id: int, plan: dict, original: History | None = None) -> History:
    at = START + timedelta(days=plan["day"], hours=3)
    h = await History.submit(cat_id, at, community=plan["community"], kind=plan["kind"])
    for pick, gap in plan["steps"]:
        at += hours(gap)
        status, allowed = await _allowed(h.id, plan["kind"], original is not None)
        if not allowed:
            event(f"ended in {status}")
            break
        op = pick if isinstance(pick, str) else allowed[pick % len(allowed)]
        assert op in allowed, f"the plan takes {op} in status {status}"
        try:
            if op in ("accept", "resolve", "answer", "escalate"):
                await h.do(op, at)
            elif op == "withdraw":
                await h.do(op, at, actor=h.reporter)
            elif op == "duplicate":  # the same problem as the first request of the run (issue 17)
                if original is None:
                    continue
                await h.do("mark_duplicate", at, actor=await staff("zhzx"), note="同一问题",
                           data={"duplicate_of": original.id, "original_code": original.code})
            elif op in ("satisfied", "basic", "dissatisfied"):
                await ratings.rate(h.id, h.reporter, op, now=at)
            elif op.startswith("dispatch_"):  # up to the command center, then to 柳巷街道 or a department's section
                for _ in range(2):
                    if await _status(h.id) == "returned":
                        break
                    try:
                        await h.do("escalate", at)
                    except RequestError:
                        break
                target = await Unit.select(Unit.id).where(
                    Unit.code == ("LX" if op == "dispatch_street" else "CGJ-HWK")).first()
                await h.do("dispatch", at, actor=await staff("zhzx"), lead_unit_id=target["id"])
            elif op == "duplicate":  # the same problem as the first request of the run (issue 17)
                assert original is not None
                await h.do("mark_duplicate", at, actor=await staff("zhzx"), note="同一问题",
                           data={"duplicate_of": original.id, "original_code": original.code})
            elif op == "not_rated":
                await ratings.auto_close(h.id, now=at + timedelta(days=8))
                at += timedelta(days=8)
            else:
                await h.light(op, at)
        except RequestError as exc:  # the walk only takes allowed steps: a refusal is a finding
            raise AssertionError(f"{op} refused in status {status}: {exc}") from exc
        event(f"op: {op}")
    event(f"final status: {await _status(h.id)}")
    return h


def _data(value) -> dict:
    return json.loads(value) if isinstance(value, str) else (value or {})


def _at(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def nearest_rank(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p * len(s)) - 1)]


async def recompute(ids: list[int], now: datetime, start: datetime, end: datetime) -> dict:
    """Straight from the event rows, in plain Python: the reference the dashboard must equal."""
    kinds = {u["id"]: u["kind"] for u in await Unit.select(Unit.id, Unit.kind)}
    rows = await Event.select().where(Event.request.is_in(ids)).order_by(Event.id)
    by_req: dict[int, list[dict]] = {}
    for e in rows:
        by_req.setdefault(e["request"], []).append(e)
    out = dict(accepted=0, withdrawn=0, completed=0, ratings=0, good=0, not_rated=0, community=0, yellow=0, red=0,
               reopened=0, resolved_once=0, open=0)
    acc: list[float] = []
    res: list[float] = []
    backlog = {k: 0 for k, *_ in kpis.BACKLOG_BUCKETS}
    for evs in by_req.values():
        submitted = _at(next(e["created_at"] for e in evs if e["action"] == "submit"))
        if not start <= submitted < end:
            continue
        status = evs[-1]["to_status"]
        if status in ("withdrawn", "duplicate"):  # a duplicate is one problem, counted as its original
            out["withdrawn"] += 1
            continue
        out["accepted"] += 1
        done = status in ("resolved", "closed")
        accepts = [_at(e["created_at"]) for e in evs if e["action"] in ("accept", "answer")]
        resolutions = [_at(e["created_at"]) for e in evs if e["action"] in ("resolve", "answer")]
        if accepts:
            acc.append((accepts[0] - submitted).total_seconds())
        if done:
            out["completed"] += 1
            res.append((resolutions[-1] - submitted).total_seconds())
            if all(kinds.get(e["unit"]) in ("community", "grid") for e in evs if e["unit"] is not None):
                out["community"] += 1
        for e in evs:
            d = _data(e["data"])
            if e["action"] == "rate":
                out["ratings"] += 1
                out["good"] += d.get("score") in ("satisfied", "basic")
            if e["action"] == "light":
                out[d["color"]] += 1
        out["not_rated"] += any(e["action"] == "close" and _data(e["data"]).get("reason") == "not_rated" for e in evs)
        out["reopened"] += any(e["action"] == "reopen" for e in evs)
        out["resolved_once"] += bool(resolutions)
        if status in ("submitted", "assigned", "accepted", "returned"):
            out["open"] += 1
            age = (now - submitted).total_seconds() / 86400
            backlog[next(k for k, _l, lo, hi in kpis.BACKLOG_BUCKETS if lo <= age < hi)] += 1
    out |= {"accept_median": nearest_rank(acc, .5), "accept_p90": nearest_rank(acc, .9),
            "resolve_median": nearest_rank(res, .5), "resolve_p90": nearest_rank(res, .9), "backlog": backlog}
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@example(plans=EVERY_PATH, first=0, days=12, rolled=3, overlap=0)
@given(plans=st.lists(request_plan, min_size=1, max_size=6), first=st.integers(0, 6), days=st.integers(1, 12),
       rolled=st.integers(0, 6), overlap=st.sampled_from([0, rollup.OVERLAP]))
async def test_dashboard_equals_recomputation_from_events(plans: list[dict], first: int, days: int,
                                                          rolled: int, overlap: int) -> None:
    """Both readers (live from events, and rollup + live delta) against a plain recomputation.

    The worker's rollup catches up after ``rolled`` of the requests were played: whatever its lag,
    the figures must not change. With no overlap, the rolled-up requests are read from the rollup
    (with the default overlap, a test's few hundred events are all re-read live)."""
    with patch.object(rollup, "OVERLAP", overlap):
        await _check(plans, first, days, rolled)


async def _check(plans: list[dict], first: int, days: int, rolled: int) -> None:
    cat = await fresh_category()
    histories = []
    for i, p in enumerate(plans):
        if i == rolled:
            await rollup.catch_up()
        histories.append(await play(cat.id, p, histories[0] if histories else None))
    f = Filters(start=date(2024, 6, 1) + timedelta(days=first), end=date(2024, 6, 1) + timedelta(days=first + days),
                category_id=cat.id, grain="week")
    # Every way the fast reader reads (the day cube with its histograms, the cube under a filter, the
    # facts of a community) equals the direct reading, for the whole district (every test's requests
    # in the period), one street (with requests led there from elsewhere), one community, one category.
    lx, lx1, section = [await Unit.select(Unit.id, Unit.path, Unit.name).where(Unit.code == code).first()
                        for code in ("LX", "LX-1", "CGJ-HWK")]
    whole = Filters(start=f.start, end=f.end, grain="day")
    slices = [f, whole, *(replace(whole, unit_id=u["id"], unit_path=u["path"], unit_name=u["name"])
                          for u in (lx, lx1, section)),
              replace(f, unit_id=lx["id"], unit_path=lx["path"], unit_name=lx["name"]), replace(whole, level="street")]
    # A period holding a whole month (June) with days around it: by month, June is read from the month cube and
    # its histograms, the days of May and July from the day cube.
    months = Filters(start=date(2024, 5, 20), end=date(2024, 7, 3), grain="month")
    slices += [months, replace(months, unit_id=lx["id"], unit_path=lx["path"], unit_name=lx["name"]),
               replace(months, category_id=cat.id)]
    for s in slices:
        direct, fast = await service.dashboard(s, ["/"], now=NOW), await rollup.dashboard(s, ["/"], now=NOW)
        assert fast.kpis == direct.kpis, s
        assert [(key, t.accepted, t.completed, t.ratings_good, t.open) for key, t in fast.trend] == [
            (key, t.accepted, t.completed, t.ratings_good, t.open) for key, t in direct.trend], s
        assert [(r.name, r.kpis.accepted, r.kpis.red, r.kpis.open) for r in fast.ranking] == [
            (r.name, r.kpis.accepted, r.kpis.red, r.kpis.open) for r in direct.ranking], s
    by_category = await rollup.by_category(months, NOW)  # categories over whole months: the month cube
    direct = (await service.dashboard(replace(months, category_id=cat.id), ["/"], now=NOW)).kpis
    mine = by_category.get(cat.id, kpis.finish(kpis.new_kpis()))
    assert (mine.accepted, mine.completed, mine.ratings_good, mine.red, mine.open) == (
        direct.accepted, direct.completed, direct.ratings_good, direct.red, direct.open)
    board = await service.dashboard(f, ["/"], now=NOW)
    k = board.kpis
    ref = await recompute([h.id for h in histories], NOW, f.start_utc, f.end_utc)
    assert (k.accepted, k.withdrawn, k.completed) == (ref["accepted"], ref["withdrawn"], ref["completed"])
    assert (k.ratings, k.ratings_good, k.not_rated) == (ref["ratings"], ref["good"], ref["not_rated"])
    assert (k.community_solved, k.yellow, k.red) == (ref["community"], ref["yellow"], ref["red"])
    assert (k.reopened, k.resolved_once, k.open, k.backlog) == (ref["reopened"], ref["resolved_once"], ref["open"],
                                                                ref["backlog"])
    assert (k.accept_median, k.accept_p90, k.resolve_median, k.resolve_p90) == (
        ref["accept_median"], ref["accept_p90"], ref["resolve_median"], ref["resolve_p90"])
    assert k.completion_rate == (ref["completed"] / ref["accepted"] if ref["accepted"] else None)
    assert k.satisfaction_rate == (ref["good"] / ref["ratings"] if ref["ratings"] else None)
    # not rated never counts as satisfied, and no rate exceeds 100 %
    assert k.ratings_good <= k.ratings and k.completed <= k.accepted
    assert sum(t.accepted for _key, t in board.trend) == k.accepted
