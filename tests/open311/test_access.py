"""Role × route for the new pages: the key and question admin pages are the admin's only; the API answers
the same whoever is signed in (it is authenticated by api_key, never by a session cookie)."""

from __future__ import annotations

import pytest

from backend.routing.tables import Category
from tests.support.factories import fresh_phone
from tests.support.open311 import new_client

STAFF = ["wg_lx_1_1", "haixi", "haixi_head", "liuxiang", "zhzx", "hwk", "zzb"]


async def _admin_urls() -> list[tuple[str, str]]:
    cat = await Category.select(Category.id).where(Category.code == "animals").first()
    client, _key = await new_client()
    return [("GET", "/admin/open311"), ("POST", "/admin/open311"), ("POST", f"/admin/open311/{client['id']}/enabled"),
            ("POST", f"/admin/open311/{client['id']}/rotate"), ("GET", f"/admin/categories/{cat['id']}/attributes"),
            ("POST", f"/admin/categories/{cat['id']}/attributes"),
            ("POST", f"/admin/categories/{cat['id']}/attributes/999999999/delete")]


@pytest.mark.parametrize("role", ["anonymous", "resident", *STAFF, "admin"])
async def test_admin_pages_by_role(client, role: str) -> None:
    if role == "resident":
        await client.login_resident(fresh_phone())
    elif role != "anonymous":
        await client.login_staff(role)
    for method, url in await _admin_urls():
        r = await (client.get(url) if method == "GET" else client.post(url, data={"name": ""}))
        if role == "anonymous":
            assert r.status_code == 303 and r.headers["location"].startswith("/staff/login"), (url, r.status_code)
        elif role == "admin":
            assert r.status_code in (200, 303, 400, 404), (url, r.status_code)
        else:
            assert r.status_code == 403, (role, url, r.status_code)


@pytest.mark.parametrize("role", ["anonymous", "resident", "zhzx", "admin"])
async def test_api_ignores_sessions(client, role: str) -> None:
    if role == "resident":
        await client.login_resident(fresh_phone())
    elif role != "anonymous":
        await client.login_staff(role)
    assert (await client.get("/open311/v2/services.json")).status_code == 200
    # A signed-in admin's cookie is no api_key: a POST without one is refused in the spec's format.
    r = await client.post("/open311/v2/requests.json", data={"service_code": "garbage"})
    assert r.status_code == 403 and r.json()[0]["code"] == 403
