"""Who sees what: residents only their own requests, staff only their scope, the public only public data."""

from __future__ import annotations

import re

from backend.requests.photos.tables import RequestPhoto as Photo
from backend.requests.tables import Request
from tests.support.factories import fresh_phone
from tests.support.photos import code_from, files, jpeg, report_data


async def _submit(client, phone: str, **fields) -> Request:
    await client.login_resident(phone)
    data = await report_data(client, **fields)
    r = await client.post("/report", data=data, files=files(jpeg()))
    assert r.status_code == 303, r.text
    req = await Request.objects().where(Request.code == code_from(r.headers["location"])).first()
    assert req is not None
    return req


async def test_other_residents_staff_elsewhere_and_anonymous_are_kept_out(client, new_client) -> None:
    req = await _submit(client, fresh_phone(), is_public="0")
    photo = await Photo.select(Photo.photo.as_alias("id")).where(Photo.request == req.id).first()
    assert (await client.get(f"/media/{photo['id']}/thumb")).status_code == 200

    async with new_client() as other:
        await other.login_resident(fresh_phone())
        assert (await other.get(f"/r/{req.code}")).status_code == 404
        assert (await other.post(f"/r/{req.code}/withdraw", data={"version": "1"})).status_code == 404
        assert (await other.post(f"/r/{req.code}/comment", data={"note": "hi"})).status_code == 404
        assert (await other.get(f"/media/{photo['id']}/display")).status_code == 404
        assert (await other.get(f"/report/done/{req.code}")).status_code == 404
        assert (await other.get("/staff/inbox")).status_code == 403

    async with new_client() as elsewhere:
        await elsewhere.login_staff("nanhaijie")  # 南海街一社区, another street
        assert req.code not in (await elsewhere.get("/staff/inbox")).text
        assert (await elsewhere.get(f"/staff/requests/{req.id}")).status_code == 404
        assert (await elsewhere.post(f"/staff/requests/{req.id}/accept", data={"version": "1"})).status_code == 404
        assert (await elsewhere.get(f"/media/{photo['id']}/thumb")).status_code == 404

    async with new_client() as anon:
        r = await anon.get(f"/r/{req.code}")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = await anon.get("/staff/inbox")
        assert r.status_code == 303 and r.headers["location"].startswith("/staff/login")
        assert (await anon.get(f"/media/{photo['id']}/thumb")).status_code == 404
        assert (await anon.get(f"/p/{req.code}")).status_code == 404  # private: not on the public pages
        assert req.code not in (await anon.get("/public")).text
        assert (await anon.get(f"/media/{photo['id']}/original")).status_code == 404  # never served

    after = await Request.objects().where(Request.id == req.id).first()
    assert after.status == "assigned" and after.version == req.version


async def test_public_pages_show_no_personal_data(client, new_client) -> None:
    phone = fresh_phone()
    req = await _submit(client, phone, address="柳巷南路 77 号 2 单元 501", description="小区门口路灯坏了")
    await client.post(f"/r/{req.code}/comment", data={"note": f"我的电话 {phone}，随时联系"})
    async with new_client() as anon:
        listing = await anon.get("/public")
        assert req.code in listing.text
        detail = await anon.get(f"/p/{req.code}")
        assert detail.status_code == 200
        for text in (listing.text, detail.text):
            assert phone not in text and "77 号" not in text
        assert "海西社区" in detail.text and "小区门口路灯坏了" in detail.text
        # A public request's photos are public (they carry no metadata).
        pid = re.search(r'src="/media/(\d+)/thumb"', detail.text).group(1)
        assert (await anon.get(f"/media/{pid}/thumb")).status_code == 200


async def test_staff_sees_the_resident_page_as_the_staff_page(client, new_client) -> None:
    req = await _submit(client, fresh_phone())
    async with new_client() as s:
        await s.login_staff("haixi")
        r = await s.get(f"/r/{req.code}")
        assert r.status_code == 303 and r.headers["location"] == f"/staff/requests/{req.id}"
