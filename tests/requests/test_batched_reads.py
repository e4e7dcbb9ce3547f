"""Issue 22: reads batched for the pages that list many requests, and the tracking codes' counter."""

from __future__ import annotations

import asyncio

from backend.requests import queries, service
from backend.requests.service import NewRequest
from backend.routing.tables import Category
from tests.support.people import resident, staff, unit


async def _submit(kind: str = "help"):
    cat = await Category.objects().where(Category.code == "garbage").first()
    req, created = await service.submit(
        NewRequest(kind=kind, category_id=cat.id, description="楼道灯坏了", community_id=(await unit("LX-1")).id),
        await resident())
    assert created
    return req


async def test_field_actions_read_at_once_are_the_ones_read_one_by_one() -> None:
    worker = await staff("wg_lx_1_1")
    street = await staff("liuxiang")
    accepted = await _submit()
    await service.transition(accepted.id, "accept", worker, 1)
    await _submit("consultation")
    await _submit()
    for viewer in (worker, street):
        rows = await queries.inbox(viewer, limit=1000)
        assert rows
        many = await service.staff_actions_many(viewer, rows)
        for row in rows:
            one = await service.staff_actions(viewer, row)
            lead = await service.open_lead(row["id"])
            is_lead = lead is not None and await service.can_act_on_assignment(viewer, lead)
            assert many[row["id"]] == (one, is_lead), row["code"]
    # the worker leads the request they accepted: progress and resolve are offered, accept is not
    actions, is_lead = (await service.staff_actions_many(worker, [await queries.request_row(code=accepted.code)]))[
        accepted.id]
    assert is_lead and "resolve" in actions and "accept" not in actions


async def test_concurrent_submissions_get_distinct_consecutive_codes() -> None:
    made = await asyncio.gather(*(_submit() for _ in range(8)))
    codes = sorted(r.code for r in made)
    assert len(set(codes)) == 8
    numbers = [int(c[-4:]) for c in codes]
    assert numbers == list(range(numbers[0], numbers[0] + 8))  # none skipped when none failed
