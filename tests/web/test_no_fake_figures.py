"""Nothing can fake a figure (issue 24): the dashboard's figures come from the event log, which the
database keeps append-only and which only the transition service (backend/requests/: submission.py and
transitions.py, behind service.py) writes.

- the database refuses to edit, delete or truncate an event (triggers), whoever asks;
- in the code, events are built only in the transition service's modules (WRITERS), and the other
  domains append only their own kinds (a rating, a light, an explanation) through its ``record()`` / ``record_many()``;
- every state-changing route of the app (pages, API, admin, Open311: POST/PUT/PATCH/DELETE from the route
  table), called as every role with forged fields against a real resolved request, leaves every event
  as it was, and any new event was written by the transition service;
- the dashboard's figures do not move when the request's cached columns, its lights' clocks or its
  assignments are changed behind the service's back, and do move when an event is appended.
"""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest

from backend.ratings import service as ratings
from backend.requests import transitions
from backend.requests.tables import Event, Request
from backend.stats import service as stats
from backend.stats.service import Filters
from tests.support.factories import fresh_phone
from tests.support.history import History, fresh_category, hours
from tests.support.open311 import new_client as open311_client
from tests.support.people import resident
from tests.web.test_access_matrix import PARTY_MEMBER
from tests.web.test_no_500 import MISSING_ID, PARAM, ROLES

T0 = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)
NOW = datetime(2024, 7, 1, 2, 0, tzinfo=UTC)
PERIOD = (date(2024, 6, 1), date(2024, 6, 30))
BACKEND = Path(__file__).resolve().parents[2] / "backend"
WRITES = {"GET", "HEAD", "OPTIONS"}
FORGED = {"score": "satisfied", "color": "red", "stage": "accept", "action": "close", "status": "closed",
          "to_status": "closed", "note": "伪造", "reason": "伪造", "comment": "伪造", "description": "伪造",
          "resolved_at": "2020-01-01T00:00:00", "created_at": "2020-01-01T00:00:00", "data": "{}"}


async def test_the_database_refuses_to_edit_delete_or_truncate_events() -> None:
    triggers = await Event.raw("SELECT tgname, tgenabled::text AS tgenabled FROM pg_trigger "
                               "WHERE tgrelid = 'event'::regclass AND NOT tgisinternal")
    assert {(t["tgname"], t["tgenabled"]) for t in triggers} >= {("event_no_change", "O"),
                                                                ("event_no_truncate", "O")}
    await History.submit((await fresh_category()).id, T0)
    some = await Event.select(Event.id).order_by(Event.id).first()
    assert some is not None
    for sql in (f"UPDATE event SET note = 'x' WHERE id = {some['id']}",
                f"UPDATE event SET action = 'close' WHERE id = {some['id']}",
                f"DELETE FROM event WHERE id = {some['id']}", "TRUNCATE event CASCADE"):
        with pytest.raises(Exception, match="append-only"):
            await Event.raw(sql)
    assert await Event.exists().where(Event.id == some["id"])


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


# The transition service's modules: submission.py writes a request's first event, transitions.py every later one.
WRITERS = {"requests/submission.py", "requests/transitions.py"}
# Which module may append which event kinds through record()/record_many() (the rest go through transition()).
# A supporter's rating (supporter_rate) is in no figure (stats/kpis.py says why) but is the ratings service's too.
RECORDERS = {"ratings/service.py": {"rate", "supporter_rate"},
             "lights/explanations.py": {"explanation", "explanation_review", "phone_call"},
             "lights/flips.py": {"<burst of lights>"}}


def test_only_the_transition_service_writes_events() -> None:
    problems: list[str] = []
    for path in sorted(BACKEND.rglob("*.py")):
        rel = path.relative_to(BACKEND).as_posix()
        if "piccolo_migrations" in rel:
            continue
        text = path.read_text()
        for call in _calls(ast.parse(text)):
            name = _name(call.func)
            if name in ("Event", "Event.insert", "Event.update", "Event.delete") and \
                    rel not in WRITERS:
                problems.append(f"{rel}:{call.lineno} {name}(…) outside the transition service")
            if name.split(".")[-1] in ("record", "record_many") and rel not in WRITERS:
                kind = "<burst of lights>" if name.endswith("record_many") else (
                    call.args[1].value if len(call.args) > 1 and isinstance(call.args[1], ast.Constant) else "?")
                if kind not in RECORDERS.get(rel, set()):
                    problems.append(f"{rel}:{call.lineno} appends {kind!r} events")
        for word in ("INSERT INTO event", "UPDATE event", "DELETE FROM event"):
            if word in text.replace('"event"', "event") and rel not in WRITERS:
                problems.append(f"{rel}: raw SQL {word}")
    assert not problems, "\n".join(problems)


async def _snapshot(request_ids: list[int]) -> dict[int, tuple[Any, ...]]:
    rows = await Event.select().where(Event.request.is_in(request_ids)).order_by(Event.id)
    return {r["id"]: tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows}


async def _figures(cat_id: int) -> dict[str, Any]:
    k = (await stats.dashboard(Filters(start=PERIOD[0], end=PERIOD[1], category_id=cat_id), ["/"], now=NOW)).kpis
    return {name: getattr(k, name) for name in vars(k) if name != "backlog"} | {"backlog": dict(k.backlog)}


async def _resolved_request(cat_id: int, phone: str | None = None) -> History:
    h = await History.submit(cat_id, T0, reporter=await resident(phone or fresh_phone()))
    await h.do("accept", T0 + hours(1))
    await h.do("resolve", T0 + hours(2))
    return h


def _concrete(path: str, h: History) -> str:
    def value(m) -> str:
        name, kind = m.group(1), m.group(2)
        if name == "code":
            return h.code
        if name == "request_id":
            return str(h.id)
        return str(MISSING_ID) if kind == "int" else "x"

    return PARAM.sub(value, path)


def write_routes(app) -> list[tuple[str, str]]:
    out = {(m, r.path) for r in app.routes for handler in getattr(r, "route_handlers", [])
           for m in handler.http_methods if m not in WRITES and not r.path.startswith("/static")}
    return sorted(out, key=lambda mp: (mp == ("POST", "/logout"), mp))


async def test_no_route_fakes_a_figure(app, new_client) -> None:
    cat = await fresh_category()
    phone = fresh_phone()
    h = await _resolved_request(cat.id, phone)
    before_events = await _snapshot([h.id])
    before = await _figures(cat.id)
    routes = write_routes(app)
    assert {m for m, _ in routes} >= {"POST"} and len(routes) > 50
    written: list[int] = []
    real_write = transitions._write_event

    async def counted(*args, **kwargs) -> int:
        written.append(await real_write(*args, **kwargs))
        return written[-1]

    _row, api_key = await open311_client(acts_as="haixi")
    version = (await Request.select(Request.version).where(Request.id == h.id).first())["version"]
    with patch.object(transitions, "_write_event", counted):
        for role in [*ROLES, "party", "open311", "reporter"]:
            if role == "reporter":  # everyone else is done: nothing they did may have moved a figure
                if set(await _snapshot([h.id])) == set(before_events):
                    assert await _figures(cat.id) == before
            async with new_client() as c:
                if role == "reporter":  # the control: the one person who may act on it now (rate, comment)
                    await c.login_resident(phone)
                elif role == "resident":
                    await c.login_resident(fresh_phone())
                elif role == "party":
                    await c.login_resident(PARTY_MEMBER)
                elif role not in ("anonymous", "open311"):
                    await c.login_staff(role)
                for method, path in routes:
                    url = _concrete(path, h)
                    form = FORGED | {"version": str(version), "service_request_id": h.code,
                                     "status": "closed", "update_id": "1"}
                    if role == "open311":
                        form["api_key"] = api_key
                    r = await c.request(method, url, data=form, headers={"x-csrftoken": await c.csrf()})
                    assert r.status_code < 500, (role, method, url, r.status_code)
    after_events = await _snapshot([h.id])
    assert {i: after_events[i] for i in before_events} == before_events, "an event was edited or deleted"
    new = set(after_events) - set(before_events)
    assert new, "the reporter's own rating and comment went through"
    assert new <= set(written), "an event was written outside the transition service"


async def test_figures_move_with_events_only() -> None:
    """Changing what is not an event (the request's cached status and times, its assignments, its lights'
    clocks) changes no figure; appending an event (a rating, through the service) does."""
    cat = await fresh_category()
    h = await _resolved_request(cat.id)
    before = await _figures(cat.id)
    assert (before["completed"], before["ratings"]) == (1, 0)
    await Request.raw(f"UPDATE request SET status = 'withdrawn', resolved_at = NULL WHERE id = {h.id}")
    await Request.raw(f"UPDATE assignment SET accepted_at = NULL, resolved_at = NULL WHERE request = {h.id}")
    await Request.raw(f"UPDATE light_clock SET yellow_lit_at = now(), red_lit_at = now() WHERE request = {h.id}")
    assert await _figures(cat.id) == before
    await Request.raw(f"UPDATE request SET status = 'resolved' WHERE id = {h.id}")  # as the service left it
    await ratings.rate(h.id, h.reporter, "satisfied", now=T0 + hours(3))
    after = await _figures(cat.id)
    assert (after["ratings"], after["ratings_good"], after["satisfaction_rate"]) == (1, 1, 1.0)
