"""Shared helpers for the light tests: requests whose clocks started in the (injected) past."""

from __future__ import annotations

from datetime import datetime, timedelta

from backend.db import utcnow
from backend.lights.tables import LightClock
from backend.requests import service as requests
from backend.requests.service import NewRequest
from backend.requests.tables import Assignment, Event
from backend.routing.tables import Category
from tests.support.people import resident, unit


async def new_request(opened_ago: timedelta, *, community: str = "LX-1", category: str = "garbage"):
    """A request submitted ``opened_ago`` before now: its deadlines may already have passed."""
    cat = await Category.objects().where(Category.code == category).first()
    req, created = await requests.submit(
        NewRequest(kind="help", category_id=cat.id, description="路灯不亮", community_id=(await unit(community)).id),
        await resident(), now=utcnow() - opened_ago)
    assert created
    return req


async def lead_of(request_id: int) -> dict:
    row = await Assignment.select().where((Assignment.request == request_id) & (Assignment.role == "lead")
                                          & (Assignment.is_open == True)).first()
    assert row is not None
    return row


async def light_events(request_id: int) -> list[tuple[str, str, int]]:
    rows = await Event.select(Event.data).where((Event.request == request_id) & (Event.action == "light")).output(
        load_json=True).order_by(Event.id)
    return [(r["data"]["stage"], r["data"]["color"], r["data"]["assignment"]) for r in rows]


async def clock(assignment_id: int, stage: str = "accept") -> dict:
    row = await LightClock.select().where(LightClock.key == f"{assignment_id}:{stage}").first()
    assert row is not None
    return row


def ago(**kw: float) -> datetime:
    return utcnow() - timedelta(**kw)
