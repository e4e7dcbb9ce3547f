"""Guards: anonymous, resident, staff of another unit, admin."""

from __future__ import annotations

import pytest

from backend.accounts.service import load_viewer
from backend.accounts.tables import Account
from backend.organisation.tables import Unit
from tests.support.factories import fresh_phone, unique

STAFF_PAGES = ["/staff", "/admin", "/admin/units", "/admin/accounts"]


@pytest.mark.parametrize("path", STAFF_PAGES)
async def test_anonymous_is_sent_to_sign_in(client, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/staff/login?next=")


@pytest.mark.parametrize("path", STAFF_PAGES)
async def test_resident_is_refused(client, path: str) -> None:
    await client.login_resident(fresh_phone())
    r = await client.get(path)
    assert r.status_code == 403
    assert "没有权限" in r.text


@pytest.mark.parametrize("path", ["/admin", "/admin/units", "/admin/accounts"])
async def test_non_admin_staff_is_refused_admin_pages(client, path: str) -> None:
    await client.login_staff("haixi")
    r = await client.get(path)
    assert r.status_code == 403


async def test_admin_creates_a_unit_and_bad_input_is_marked(client) -> None:
    await client.login_staff("admin")
    street = await Unit.objects().where(Unit.code == "LX").first()
    code = unique("T")
    r = await client.post("/admin/units", data={"name": "测试社区", "kind": "community", "code": code,
                                                "parent": str(street.id)})
    assert r.status_code == 303
    unit = await Unit.objects().where(Unit.code == code).first()
    assert unit is not None and unit.path == f"{street.path}{unit.id}/"
    # a grid cannot hang directly under a street; nothing is created
    bad = unique("T")
    r = await client.post("/admin/units", data={"name": "错网格", "kind": "grid", "code": bad,
                                                "parent": str(street.id)})
    assert r.status_code == 400 and "不能设在" in r.text
    assert not await Unit.exists().where(Unit.code == bad)


async def test_admin_creates_staff_with_membership(client, new_client) -> None:
    await client.login_staff("admin")
    community = await Unit.objects().where(Unit.code == "WM-1").first()
    username = unique("staff_")
    r = await client.post("/admin/accounts", data={"username": username, "name": "新同事", "password": "longpassword",
                                                   "unit": str(community.id), "role": "community_staff"})
    assert r.status_code == 303
    async with new_client() as c2:
        await c2.login_staff(username, "longpassword")
        page = await c2.get("/staff")
        assert "文庙社区" in page.text and "社区工作人员" in page.text


async def test_staff_scope_is_their_subtree() -> None:
    haixi = await Account.objects().where(Account.username == "haixi").first()
    viewer = await load_viewer(haixi.id)
    own_grid = await Unit.objects().where(Unit.code == "LX-1-1").first()
    other = await Unit.objects().where(Unit.code == "MQ-1").first()
    street = await Unit.objects().where(Unit.code == "LX").first()
    assert viewer.covers(own_grid.path)
    assert not viewer.covers(other.path)
    assert not viewer.covers(street.path)  # a community does not see its street's other communities
    dispatcher = await load_viewer((await Account.objects().where(Account.username == "zhzx").first()).id)
    assert dispatcher.covers(other.path) and dispatcher.covers(street.path)


async def test_party_flag_only_by_assessor_or_admin(client, new_client) -> None:
    phone = fresh_phone()
    async with new_client() as resident:
        await resident.login_resident(phone)
    acc = await Account.objects().where(Account.phone == phone).first()
    await client.login_staff("haixi")
    r = await client.post(f"/admin/party-members/{acc.id}", data={"value": "1"})
    assert r.status_code == 403
    assert not (await Account.objects().where(Account.id == acc.id).first()).is_party_member
    async with new_client() as assessor:
        await assessor.login_staff("zzb")
        r = await assessor.post(f"/admin/party-members/{acc.id}", data={"value": "1"})
        assert r.status_code == 303
    updated = await Account.objects().where(Account.id == acc.id).first()
    assert updated.is_party_member and updated.party_verified_by is not None
