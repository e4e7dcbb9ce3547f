"""The category → handling matrix (admin page) and where a new request lands by its category's rule."""

from __future__ import annotations

from backend.accounts.tables import Membership
from backend.organisation.service import create_unit
from backend.requests import service
from backend.requests.service import NewRequest
from backend.routing.service import duty_units, initial_placement
from backend.routing.tables import Category, CategoryDuty
from tests.support.factories import unique
from tests.support.people import resident, staff, unit


async def _own_category(level: str = "community", duties: tuple[str, ...] = ()) -> Category:
    cat = Category(code=unique("cat_"), name=unique("类别"), default_level=level, sort=999)
    await cat.save()
    for code in duties:
        await CategoryDuty(category=cat.id, unit=(await unit(code)).id).save()
    return cat


async def test_admin_edits_level_and_duty_departments(client) -> None:
    cat = await _own_category()
    await client.login_staff("admin")
    page = await client.get("/admin/categories")
    assert page.status_code == 200 and f'data-code="{cat.code}"' in page.text and "公厕" in page.text
    hwk, szk = await unit("CGJ-HWK"), await unit("ZJJ-SZK")
    r = await client.post(f"/admin/categories/{cat.id}", data={"level": "street", "duty_unit_ids": [hwk.id, szk.id]})
    assert r.status_code == 303
    row = await Category.objects().where(Category.id == cat.id).first()
    assert row.default_level == "street" and sorted(await duty_units(cat.id)) == sorted([hwk.id, szk.id])
    page = await client.get(r.headers["location"])
    assert "已保存" in page.text


async def test_admin_matrix_refuses_bad_input_and_changes_nothing(client) -> None:
    cat = await _own_category("community", ("CGJ-HWK",))
    await client.login_staff("admin")
    street, hwk = await unit("LX"), await unit("CGJ-HWK")
    for data, message in (
        ({"level": "province", "duty_unit_ids": [hwk.id]}, "请选择默认办理层级"),
        ({"level": "street", "duty_unit_ids": [street.id]}, "只能选择职能部门或其科室"),
        ({"level": "street", "duty_unit_ids": ["abc"]}, "只能选择职能部门或其科室"),
        ({"level": "street", "duty_unit_ids": [99999999]}, "只能选择职能部门或其科室"),
    ):
        r = await client.post(f"/admin/categories/{cat.id}", data=data)
        assert r.status_code == 400 and message in r.text, data
        assert 'aria-invalid="true"' in r.text
    row = await Category.objects().where(Category.id == cat.id).first()
    assert row.default_level == "community" and await duty_units(cat.id) == [hwk.id]
    r = await client.post("/admin/categories/99999999", data={"level": "street"})
    assert r.status_code == 404


async def test_matrix_is_admin_only(client) -> None:
    await client.login_staff("zhzx")
    assert (await client.get("/admin/categories")).status_code == 403
    cat = await _own_category()
    r = await client.post(f"/admin/categories/{cat.id}", data={"level": "district"})
    assert r.status_code == 403
    assert (await Category.objects().where(Category.id == cat.id).first()).default_level == "community"


async def test_category_rule_sends_new_requests_higher() -> None:
    for level, unit_code, username in (("street", "LX", "liuxiang"), ("district", "YZQ-ZHZX", "zhzx")):
        cat = await _own_category(level)
        reporter = await resident()
        req, _ = await service.submit(
            NewRequest(kind="help", category_id=cat.id, description="按规则直达", community_id=(await unit("LX-1")).id),
            reporter,
        )
        assert (req.current_unit, req.current_person, req.level) == (
            (await unit(unit_code)).id,
            (await staff(username)).id,
            level,
        )


async def test_unstaffed_units_never_leave_a_request_without_a_person() -> None:
    """A community nobody staffs yet hands new requests to its street; an unstaffed street's escalations are
    refused with a clear message rather than leaving the request with nobody named."""
    street = await create_unit(
        name=unique("新街道"), kind="street", code=unique("NS"), parent_id=(await unit("YZQ")).id
    )
    community = await create_unit(name=unique("新社区"), kind="community", code=unique("NC"), parent_id=street.id)
    cat = await _own_category()
    placement = await initial_placement(cat, community, None)
    cc = await unit("YZQ-ZHZX")
    assert (placement.unit_id, placement.person_id) == (cc.id, (await staff("zhzx")).id)
    # Staff the community: new requests land there; its escalation to the unstaffed street is refused.
    person = await staff("haixi")
    await Membership(account=person.id, unit=community.id, role="community_staff").save()
    try:
        req, _ = await service.submit(
            NewRequest(kind="help", category_id=cat.id, description="新社区的问题", community_id=community.id),
            await resident(),
        )
        assert (req.current_unit, req.current_person) == (community.id, person.id)
        viewer = await staff("haixi")
        before = await service.open_lead(req.id)
        try:
            await service.transition(req.id, "escalate", viewer, req.version, note="上报")
            raise AssertionError("escalation to an unstaffed street must be refused")
        except service.InvalidState as exc:
            assert "没有指定承办人" in exc.message
        assert await service.open_lead(req.id) == before
    finally:
        await Membership.delete().where(Membership.unit == community.id)
