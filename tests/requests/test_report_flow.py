"""The core loop over HTTP: a resident reports with photos, a named person handles it, the resident sees the result."""

from __future__ import annotations

import re
from unittest.mock import patch

from backend.requests.photos.tables import RequestPhoto as Photo
from backend.requests.tables import Event, Request
from tests.support.factories import fresh_phone
from tests.support.people import staff, unit
from tests.support.photos import HAIXI_POINT, code_from, files, jpeg, report_data


async def _request(code: str) -> Request:
    req = await Request.objects().where(Request.code == code).first()
    assert req is not None
    return req


async def _submit_as_resident(client, phone: str | None = None, photos: tuple[bytes, ...] = (), **fields) -> str:
    await client.login_resident(phone or fresh_phone())
    data = await report_data(client, **fields)
    r = await client.post("/report", data=data, files=files(*photos) or None)
    assert r.status_code == 303, r.text
    return code_from(r.headers["location"])


def _version(html: str, action: str) -> str:
    m = re.search(rf'action="/staff/requests/\d+/{action}".*?name="version" value="(\d+)"', html, re.S)
    assert m, f"the {action} form carries the version"
    return m.group(1)


async def test_report_page_is_one_mobile_form(client) -> None:
    r = await client.get("/report")
    assert r.status_code == 200
    html = r.text
    for marker in ("data-offline-queue", "data-compress", 'name="kind"', 'name="category"', 'name="description"',
                   'name="photos"', 'name="lat"', 'name="lon"', 'name="community"', 'name="address"',
                   'name="is_public"', 'name="idempotency_key"', 'enctype="multipart/form-data"', "使用我的位置",
                   "求助", "建议", "咨询", "投诉"):
        assert marker in html, marker
    assert 'capture="environment"' in html and 'accept="image/*"' in html


async def test_a_category_named_with_percent_and_markup_is_shown_as_written(client) -> None:
    """Category names are an admin's data: a "%" is a character (it failed the whole form once) and markup is
    shown as text, not run."""
    from backend.routing.tables import Category
    from tests.support.history import fresh_category

    cat = await fresh_category()
    await Category.update({Category.name: "降噪50% <b>粗</b>"}).where(Category.id == cat.id)
    try:
        r = await client.get("/report")
        assert r.status_code == 200
        assert "降噪50% &lt;b&gt;粗&lt;/b&gt;" in r.text and "<b>粗</b>" not in r.text
    finally:
        await Category.update({Category.active: False}).where(Category.id == cat.id)


async def test_whole_loop_with_photos(client, new_client) -> None:
    phone = fresh_phone()
    code = await _submit_as_resident(client, phone, (jpeg(), jpeg((640, 480), gps=False)), **HAIXI_POINT)
    req = await _request(code)
    worker = await staff("wg_lx_1_1")
    assert req.status == "assigned" and req.current_person == worker.id and req.lat is not None
    assert await Photo.count().where(Photo.request == req.id) == 2

    done = await client.get(f"/report/done/{code}")
    assert done.status_code == 200 and code in done.text

    async with new_client() as w:
        await w.login_staff("wg_lx_1_1")
        inbox = await w.get("/staff/inbox")
        assert code in inbox.text
        page = await w.get(f"/staff/requests/{req.id}")
        assert page.status_code == 200
        assert phone in page.text  # the resident's contact, for staff
        assert "geo:37.846500,112.522500" in page.text
        assert 'src="/media/' in page.text
        r = await w.post(f"/staff/requests/{req.id}/accept", data={"version": _version(page.text, "accept")})
        assert r.status_code == 303
        page = await w.get(f"/staff/requests/{req.id}")
        r = await w.post(f"/staff/requests/{req.id}/progress", data={"version": _version(page.text, "progress"),
                                                                       "note": "已到现场查看，联系了物业"})
        assert r.status_code == 303
        page = await w.get(f"/staff/requests/{req.id}")
        r = await w.post(f"/staff/requests/{req.id}/resolve",
                         data={"version": _version(page.text, "resolve"), "note": "垃圾已全部清运，楼道已打扫干净"},
                         files=files(jpeg((1024, 768), color=(30, 160, 30))))
        assert r.status_code == 303, r.text

    mine = await client.get(f"/r/{code}")
    assert mine.status_code == 200
    assert "已办结" in mine.text and "垃圾已全部清运" in mine.text and "已到现场查看" in mine.text
    assert "海西社区" in mine.text and "网格员" in mine.text  # the responsible unit and person as published
    photo_ids = re.findall(r'src="/media/(\d+)/thumb"', mine.text)
    assert len(photo_ids) == 3
    for pid in photo_ids:
        img = await client.get(f"/media/{pid}/display")
        assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    actions = [e["action"] for e in await Event.select(Event.action).where(Event.request == req.id).order_by(Event.id)]
    assert actions == ["submit", "accept", "progress", "resolve"]
    listing = await client.get("/my")
    assert code in listing.text


async def test_consultation_is_answered_and_the_answer_shown(client, new_client) -> None:
    code = await _submit_as_resident(client, kind="consultation", category=str(
        await _category("policy")), description="请问低保申请需要哪些材料？")
    req = await _request(code)
    async with new_client() as s:
        await s.login_staff("haixi")
        page = await s.get(f"/staff/requests/{req.id}")
        assert f'action="/staff/requests/{req.id}/answer"' in page.text
        r = await s.post(f"/staff/requests/{req.id}/answer",
                         data={"version": _version(page.text, "answer"), "note": "请携带户口本、身份证到社区办理。"})
        assert r.status_code == 303
    mine = await client.get(f"/r/{code}")
    assert 'data-testid="answer"' in mine.text and "请携带户口本" in mine.text
    assert (await _request(code)).status == "resolved"


async def _category(code: str) -> int:
    from tests.support.photos import category_id

    return await category_id(code)


async def test_withdraw_before_acceptance_only(client, new_client) -> None:
    code = await _submit_as_resident(client)
    req = await _request(code)
    page = await client.get(f"/r/{code}")
    assert "撤回诉求" in page.text
    r = await client.post(f"/r/{code}/withdraw", data={"version": str(req.version)})
    assert r.status_code == 303
    assert (await _request(code)).status == "withdrawn"
    again = await client.post(f"/r/{code}/withdraw", data={"version": str(req.version + 1)})
    assert again.status_code == 409 and "不能撤回" in again.text

    code2 = await _submit_as_resident(client)
    req2 = await _request(code2)
    async with new_client() as w:
        await w.login_staff("wg_lx_1_1")
        assert (await w.post(f"/staff/requests/{req2.id}/accept", data={"version": "1"})).status_code == 303
    r = await client.post(f"/r/{code2}/withdraw", data={"version": "2"})
    assert r.status_code == 409 and "不能撤回" in r.text
    assert (await _request(code2)).status == "accepted"


async def test_follow_up_comment_with_photo(client) -> None:
    code = await _submit_as_resident(client)
    req = await _request(code)
    r = await client.post(f"/r/{code}/comment", data={"note": "今天又多了几袋"}, files=files(jpeg()))
    assert r.status_code == 303
    page = await client.get(f"/r/{code}")
    assert "今天又多了几袋" in page.text
    assert await Photo.count().where(Photo.request == req.id) == 1


async def test_double_submit_creates_one_request(client) -> None:
    await client.login_resident(fresh_phone())
    data = await report_data(client)
    first = await client.post("/report", data=data, files=files(jpeg()))
    second = await client.post("/report", data=data, files=files(jpeg()))
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    rows = await Request.select(Request.id).where(Request.idempotency_key == data["idempotency_key"])
    assert len(rows) == 1
    assert await Photo.count().where(Photo.request == rows[0]["id"]) == 1


async def test_someone_elses_form_joins_nothing(client, new_client) -> None:
    """A POST carrying another resident's form key (a shared link, a forged form) neither files a second
    request nor leads to theirs: the form comes back with a new key."""
    await client.login_resident(fresh_phone())
    data = await report_data(client)
    first = await client.post("/report", data=data)
    assert first.status_code == 303
    async with new_client() as other:
        await other.login_resident(fresh_phone())
        r = await other.post("/report", data=data | {"description": "别人的表单"}, files=files(jpeg()))
    assert r.status_code == 400 and "表单已失效" in r.text
    assert data["idempotency_key"] not in r.text and "别人的表单" in r.text  # a new key; what was typed stays
    rows = await Request.select(Request.id, Request.description).where(
        Request.idempotency_key == data["idempotency_key"])
    assert len(rows) == 1 and rows[0]["description"] == data["description"]
    assert await Photo.count().where(Photo.request == rows[0]["id"]) == 0


async def test_anonymous_resident_signs_in_at_the_end_without_losing_anything(client) -> None:
    data = await report_data(client, description="路灯不亮三天了", **HAIXI_POINT)
    r = await client.post("/report", data=data, files=files(jpeg(), jpeg()))
    assert r.status_code == 303
    assert r.headers["location"] == f"/login?next=/report/resume/{data['idempotency_key']}"
    assert not await Request.exists().where(Request.idempotency_key == data["idempotency_key"])
    phone = fresh_phone()
    await client.login_resident(phone)
    # After sign-in the form comes back filled in (a GET files nothing); the resident confirms with a POST.
    r = await client.get(f"/report/resume/{data['idempotency_key']}")
    assert r.status_code == 200 and "路灯不亮三天了" in r.text and 'data-testid="resume-notice"' in r.text
    assert 'name="drafted" value="1"' in r.text  # the resumed form's POST reads the draft (its photos)
    assert not await Request.exists().where(Request.idempotency_key == data["idempotency_key"])
    r = await client.post("/report", data=data | {"drafted": "1"})
    assert r.status_code == 303, r.text
    code = code_from(r.headers["location"])
    req = await _request(code)
    assert req.description == "路灯不亮三天了" and req.lat is not None
    assert await Photo.count().where(Photo.request == req.id) == 2
    assert req.contact_phone == phone
    # Resuming again (back button) lands on the same request.
    again = await client.get(f"/report/resume/{data['idempotency_key']}")
    assert again.status_code == 303 and code_from(again.headers["location"]) == code


async def test_concurrent_update_second_staff_gets_409(new_client, client) -> None:
    code = await _submit_as_resident(client)
    req = await _request(code)
    async with new_client() as a, new_client() as b:
        await a.login_staff("wg_lx_1_1")
        await b.login_staff("haixi")
        page_a = await a.get(f"/staff/requests/{req.id}")
        page_b = await b.get(f"/staff/requests/{req.id}")
        v = _version(page_a.text, "accept")
        assert v == _version(page_b.text, "accept")
        assert (await a.post(f"/staff/requests/{req.id}/accept", data={"version": v})).status_code == 303
        r = await b.post(f"/staff/requests/{req.id}/return", data={"version": v, "note": "不属于本社区"})
        assert r.status_code == 409
        assert "该诉求刚刚被他人更新" in r.text and "办理中" in r.text
        assert "不属于本社区" in r.text  # what was typed is kept
    after = await _request(code)
    assert after.status == "accepted" and after.version == req.version + 1
    actions = [e["action"] for e in await Event.select(Event.action).where(Event.request == req.id).order_by(Event.id)]
    assert actions == ["submit", "accept"]


async def test_staff_files_on_behalf_of_a_resident_and_from_patrol(client, new_client) -> None:
    await client.login_staff("wg_lx_1_1")
    phone = fresh_phone()
    data = await report_data(client, url="/staff/report", source="on_behalf", contact_name="王大爷",
                             contact_phone=phone, description="王大爷家楼下井盖松动")
    r = await client.post("/staff/report", data=data)
    assert r.status_code == 303, r.text
    req = await Request.objects().where(Request.idempotency_key == data["idempotency_key"]).first()
    worker = await staff("wg_lx_1_1")
    assert req.source == "on_behalf" and req.filed_by == worker.id and req.contact_phone == phone
    async with new_client() as resident:
        await resident.login_resident(phone)
        assert req.code in (await resident.get("/my")).text

    patrol = await report_data(client, url="/staff/report", source="patrol", description="巡查发现路灯损坏")
    r = await client.post("/staff/report", data=patrol)
    assert r.status_code == 303
    req2 = await Request.objects().where(Request.idempotency_key == patrol["idempotency_key"]).first()
    assert req2.source == "patrol" and req2.reporter is None
    page = await client.get(f"/staff/requests/{req2.id}")
    assert "巡查发现" in page.text


async def test_inbox_filters_and_live_counts(client, new_client) -> None:
    code = await _submit_as_resident(client, kind="complaint", category=str(await _category("noise")))
    async with new_client() as w:
        await w.login_staff("wg_lx_1_1")
        inbox = await w.get("/staff/inbox", params={"kind": "complaint"})
        assert code in inbox.text and 'hx-trigger="every 15s"' in inbox.text
        assert code not in (await w.get("/staff/inbox", params={"kind": "suggestion"})).text
        assert code not in (await w.get("/staff/inbox", params={"status": "accepted"})).text
        counts = await w.get("/staff/inbox/counts")
        assert counts.status_code == 200 and 'id="inbox-counts"' in counts.text
        n = int(re.search(r'data-status="assigned">(\d+)<', counts.text).group(1))
        assert n >= 1
        fragment = await w.get("/staff/inbox", params={"kind": "complaint"}, headers={"HX-Request": "true"})
        assert code in fragment.text and "<html" not in fragment.text


async def test_simultaneous_double_tap_creates_one_request(client) -> None:
    import asyncio

    await client.login_resident(fresh_phone())
    data = await report_data(client)
    a, b = await asyncio.gather(client.post("/report", data=data, files=files(jpeg())),
                                client.post("/report", data=data, files=files(jpeg())))
    assert a.status_code == b.status_code == 303
    assert a.headers["location"] == b.headers["location"]
    rows = await Request.select(Request.id).where(Request.idempotency_key == data["idempotency_key"])
    assert len(rows) == 1
    assert await Photo.count().where(Photo.request == rows[0]["id"]) == 1
    assert (await client.get(a.headers["location"])).status_code == 200


async def test_inbox_puts_urgent_first_then_oldest(client, new_client) -> None:
    first = await _submit_as_resident(client, category=str(await _category("street_light")))
    second = await _submit_as_resident(client, category=str(await _category("street_light")))
    third = await _submit_as_resident(client, category=str(await _category("street_light")))
    await Request.update({Request.urgent: True}).where(Request.code == third)  # e.g. flagged by the dispatcher
    async with new_client() as w:
        await w.login_staff("haixi")
        html = (await w.get("/staff/inbox", params={"category": str(await _category("street_light"))})).text
    order = [c for c in re.findall(r'data-code="([A-Z0-9]+)"', html) if c in (first, second, third)]
    assert order == [third, first, second]


def _community_lookups(statements: list[tuple[str, tuple]], community_id: int) -> list[str]:
    """The statements that read this community as a community (the location step's and check_new's lookup),
    whether built by Piccolo (kind and id as arguments) or prepared (kind in the text, the id an argument)."""
    return [q for q, args in statements if re.search(r'FROM "?unit"?', q) and community_id in args
            and ("'community'" in q or "community" in args)]


async def test_one_submission_looks_its_community_up_once(client) -> None:
    """The report form's location step finds the community; the request service takes it from there instead of
    reading it again (one lookup per submission; by the phone's position, none: the jurisdiction index knew it)."""
    import asyncpg

    community = await unit("LX-1")
    real = asyncpg.connection.Connection.fetch  # every read of the app, Piccolo's and the prepared ones
    statements: list[tuple[str, tuple]] = []

    async def counted(self, query, *args, **kwargs):
        statements.append((query, args))
        return await real(self, query, *args, **kwargs)

    await client.login_resident(fresh_phone())
    for fields, lookups in (({}, 1), (HAIXI_POINT | {"community": ""}, 0)):
        data = await report_data(client, **fields)
        statements.clear()
        with patch.object(asyncpg.connection.Connection, "fetch", counted):
            r = await client.post("/report", data=data)
        assert r.status_code == 303, r.text
        req = await _request(code_from(r.headers["location"]))
        assert req.community == community.id
        found = _community_lookups(statements, community.id)
        assert len(found) == lookups, found
