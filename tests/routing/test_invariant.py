"""Property: random sequences of actions by random (allowed and disallowed) actors never break the invariant

    while a request is open it has exactly one open lead assignment with a named person,
    and Request.current_unit / current_person match it;

and every refused action changes nothing (request row, assignments, event count)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.accounts.service import Viewer, load_viewer
from backend.requests import service
from backend.requests.service import RequestError
from backend.requests.tables import OPEN_STATUSES, Assignment, Event
from tests.support.people import resident, staff, unit
from tests.support.routing import LX_1_1, MQ_1_1, state, submit_at

OPEN = {s.value for s in OPEN_STATUSES}
STAFF = ("wg_lx_1_1", "haixi", "liuxiang", "nanhaijie", "wg_mq_1_1", "miaoqian", "zhzx", "hwk", "zzb")
ACTORS = ("reporter", "stranger", "system", *STAFF)
ACTIONS = ("accept", "escalate", "dispatch", "return", "resolve", "reopen", "assist_report", "close_assist", "withdraw")
# Lead choices include an unstaffed section (must be refused) and the command center itself.
LEADS = ("MQ", "LX", "LX-1", "MQ-1", "CGJ-HWK", "SCJ-CYK", "YZQ-ZHZX")
ASSISTS = ("CGJ-HWK", "LX", "MQ", "ZJJ-SZK")

step = st.fixed_dictionaries(
    {
        "action": st.sampled_from(ACTIONS),
        # Usually an action the current status allows (chosen by index), sometimes any action at all.
        "valid": st.sampled_from((True, True, True, False)),
        "index": st.integers(min_value=0, max_value=50),
        "actor": st.sampled_from(ACTORS),
        "lead": st.sampled_from(LEADS),
        "assists": st.lists(st.sampled_from(ASSISTS), max_size=3),
        # Mostly the natural actor for the action in the current state, so histories get somewhere.
        "who": st.sampled_from(("right", "right", "right", "random")),
        "note": st.sampled_from(("", "说明", "说明", "说明")),
        "stale": st.sampled_from((False, False, False, False, False, True)),
        "assist_pick": st.integers(min_value=0, max_value=2),
    }
)

_viewers: dict[str, Viewer] = {}
_units: dict[str, int] = {}


async def _staff(username: str) -> Viewer:
    if username not in _viewers:
        _viewers[username] = await staff(username)
    return _viewers[username]


async def _by_id(account_id: int | None) -> tuple[str, Viewer | None]:
    if account_id is None:
        return "system", None
    viewer = await load_viewer(account_id)
    assert viewer is not None
    return (viewer.username or "?"), viewer


async def _unit(code: str) -> int:
    if code not in _units:
        _units[code] = (await unit(code)).id
    return _units[code]


async def _snapshot(request_id: int) -> tuple[Any, ...]:
    return (
        await state(request_id),
        await Assignment.select().where(Assignment.request == request_id).order_by(Assignment.id),
        await Event.count().where(Event.request == request_id),
    )


async def _check_invariant(request_id: int) -> None:
    row = await state(request_id)
    leads = await Assignment.select().where(
        (Assignment.request == request_id) & (Assignment.role == "lead") & (Assignment.is_open == True)
    )
    if row["status"] in OPEN:
        assert len(leads) == 1, (row["status"], leads)
        assert leads[0]["person"] is not None, leads
        assert (row["current_unit"], row["current_person"]) == (leads[0]["unit"], leads[0]["person"])
    elif row["status"] in ("closed", "withdrawn"):
        assert leads == []
        assert await Assignment.count().where((Assignment.request == request_id) & (Assignment.is_open == True)) == 0
    else:  # resolved: the lead stays on record until the request is closed or reopened
        assert len(leads) <= 1


def _must_refuse(s: dict[str, Any], actor: str) -> bool:
    """Cases the rules plainly forbid, whatever the state: they must never succeed."""
    return (
        s["stale"]
        or actor in ("stranger", "zzb")
        or (s["action"] in ("dispatch", "close_assist") and actor != "zhzx")
        or (s["action"] in ("escalate", "return", "resolve", "assist_report") and not s["note"])
        or (s["action"] == "reopen" and actor not in ("reporter", "system"))
        or (s["action"] in ("accept", "escalate", "return", "resolve") and actor in ("reporter", "system"))
    )


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    start=st.sampled_from([(LX_1_1, "garbage"), (MQ_1_1, "public_toilet"), (LX_1_1, "illegal_building")]),
    steps=st.lists(step, min_size=1, max_size=15),
)
async def test_random_histories_keep_one_named_lead(start, steps) -> None:
    reporter = await resident()
    req, _ = await submit_at(start[0], start[1], reporter=reporter, description="随机历史")
    await _check_invariant(req.id)
    stranger = await resident()
    for s in steps:
        row = await state(req.id)
        if s["valid"]:
            cc = await _unit("YZQ-ZHZX")
            has_assists = await Assignment.exists().where(
                (Assignment.request == req.id) & (Assignment.role == "assist") & (Assignment.is_open == True)
            )
            fitting = [
                a
                for a in ACTIONS
                if row["status"] in service.RULES[a].from_statuses
                and a != "withdraw"
                and (a != "dispatch" or row["current_unit"] == cc)
                and (a not in ("assist_report", "close_assist") or has_assists)
            ]
            s = s | {"action": fitting[s["index"] % len(fitting)]} if fitting else s
        version = row["version"] - 1 if s["stale"] else row["version"]
        assists = (
            await Assignment.select(Assignment.id, Assignment.person)
            .where(
                (Assignment.request == req.id)
                & (Assignment.role == "assist")
                & ((Assignment.is_open == True) if s["who"] == "right" else (Assignment.id > 0))
            )
            .order_by(Assignment.id)
        )
        picked = assists[s["assist_pick"]] if s["assist_pick"] < len(assists) else None
        assignment_id = picked["id"] if picked else 0
        actor_name = s["actor"]
        if s["who"] == "right":
            actor_name = {"dispatch": "zhzx", "close_assist": "zhzx", "reopen": "reporter", "withdraw": "reporter"}.get(
                s["action"], ""
            )
        if actor_name in ("reporter", "stranger", "system"):
            actor = {"reporter": reporter, "stranger": stranger, "system": None}[actor_name]
        elif actor_name:
            actor = await _staff(actor_name)
        elif s["action"] == "assist_report":
            actor_name, actor = await _by_id(picked["person"] if picked else None)
        else:  # the request's named person acts
            actor_name, actor = await _by_id(row["current_person"])
        before = await _snapshot(req.id)
        try:
            await service.transition(
                req.id,
                s["action"],
                actor,
                version,
                note=s["note"],
                lead_unit_id=await _unit(s["lead"]),
                assist_unit_ids=[await _unit(c) for c in s["assists"]],
                assignment_id=assignment_id,
            )
        except RequestError:
            assert await _snapshot(req.id) == before, s  # a refusal writes nothing
        else:
            assert not _must_refuse(s, actor_name), s
            after = await state(req.id)
            assert after["version"] == row["version"] + 1
            assert await Event.count().where(Event.request == req.id) == before[2] + 1
        await _check_invariant(req.id)
