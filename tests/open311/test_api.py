"""Open311 GeoReport v2 conformance: the spec's field lists in JSON and XML (XML validated by an XSD), errors in
the spec's format, privacy, and requests entering the one submission service with their client recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.db import utcnow
from backend.open311.tables import ApiCall, ApiClient, ApiRequest, ApiUpdate
from backend.requests import service as requests
from backend.requests.tables import Event, Request
from backend.routing.tables import Category
from tests.support.factories import fresh_phone
from tests.support.open311 import (
    ATTRIBUTE_FIELDS,
    REQUEST_FIELDS,
    SERVICE_FIELDS,
    new_client,
    point_in,
    valid_xml,
)
from tests.support.people import resident, unit

API = "/open311/v2"


async def _post(api, key: str, fmt: str = "json", **fields) -> object:
    data = {"api_key": key, **fields}
    return await api.post(f"{API}/requests.{fmt}", data=data, headers={"x-csrftoken": ""})


async def _animals_form(key: str) -> list[tuple[str, str]]:
    lat, lon = await point_in("LX-1-1")
    return [("api_key", key), ("service_code", "animals"), ("lat", str(lat)), ("long", str(lon)),
            ("description", "邻居在楼顶养了几十只鸽子，楼道也放了鸽笼"), ("attribute[animal]", "chicken"),
            ("attribute[effects][]", "smell"), ("attribute[effects][]", "droppings"),
            ("first_name", "小明"), ("last_name", "王"), ("phone", "13912345678"), ("email", "wang@example.cn"),
            ("device_id", "kiosk-7"), ("account_id", "acct-42"), ("address_string", "海西社区3号楼2单元")]


async def test_discovery_and_services_in_both_formats(api) -> None:
    r = await api.get(f"{API}/discovery.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    endpoint = r.json()["endpoints"][0]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    valid_xml((await api.get(f"{API}/discovery.xml")).content)

    services = (await api.get(f"{API}/services.json")).json()
    assert all(set(s) == SERVICE_FIELDS for s in services)
    by_code = {s["service_code"]: s for s in services}
    assert by_code["animals"]["metadata"] is True and by_code["garbage"]["metadata"] is False
    assert by_code["animals"]["service_name"] == "饲养动物" and by_code["animals"]["type"] == "realtime"
    r = await api.get(f"{API}/services.xml")
    assert r.headers["content-type"].startswith("text/xml")
    doc = valid_xml(r.content)
    assert [e.findtext("service_code") for e in doc.findall("service")] == [s["service_code"] for s in services]
    assert doc.find("service[service_code='animals']/metadata").text == "true"


async def test_service_definition_lists_the_category_attributes(api) -> None:
    d = (await api.get(f"{API}/services/animals.json")).json()
    assert d["service_code"] == "animals"
    assert [a["code"] for a in d["attributes"]] == ["animal", "effects", "place"]
    assert all(set(a) == ATTRIBUTE_FIELDS for a in d["attributes"])
    first = d["attributes"][0]
    assert first["datatype"] == "singlevaluelist" and first["required"] is True and first["order"] == 1
    assert {"key": "chicken", "name": "鸡"} in first["values"]
    assert d["attributes"][1]["datatype"] == "multivaluelist"
    doc = valid_xml((await api.get(f"{API}/services/animals.xml")).content)
    assert doc.findtext("attributes/attribute[code='effects']/datatype") == "multivaluelist"
    assert [v.findtext("key") for v in doc.findall("attributes/attribute[code='animal']/values/value")] == [
        "pigeon", "dog", "chicken", "cat"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_unknown_things_are_404_in_the_spec_error_format(api, fmt: str) -> None:
    for url in (f"{API}/services/no_such.{fmt}", f"{API}/requests/YZ0000000000.{fmt}", f"{API}/tokens/nope.{fmt}",
                f"{API}/nothing.{fmt}"):
        r = await api.get(url)
        assert r.status_code == 404, url
        if fmt == "json":
            errors = r.json()
            assert errors[0]["code"] == 404 and errors[0]["description"]
        else:
            doc = valid_xml(r.content)
            assert doc.tag == "errors" and doc.findtext("error/code") == "404"


async def test_post_request_enters_the_one_submission_service(api) -> None:
    api_client, key = await new_client()
    form = await _animals_form(key)
    r = await api.post(f"{API}/requests.json", data=form)
    assert r.status_code == 200, r.text
    [answer] = r.json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] == "acct-42" and "海西社区" in answer["service_notice"]
    req = await Request.objects().where(Request.code == answer["service_request_id"]).output(load_json=True).first()
    haixi = await unit("LX-1")
    # Routing as for the report form: the community where it arises, the first assignment and event, the source.
    assert req.source == "open311" and req.community == haixi.id and req.status == "assigned"
    assert req.current_unit is not None and req.current_person is not None
    assert req.attributes == {"animal": "chicken", "effects": ["smell", "droppings"]}
    assert req.contact_name == "王小明" and req.contact_phone == "13912345678"
    [event] = await Event.select().where(Event.request == req.id).output(load_json=True)
    assert event["action"] == "submit" and event["data"]["source"] == "open311"
    link = await ApiRequest.objects().where(ApiRequest.request == req.id).first()
    assert link.client == api_client["id"] and link.device_id == "kiosk-7" and link.email == "wang@example.cn"
    # The resident (a mainland mobile number) can follow and rate it in the app.
    assert req.reporter is not None
    calls = await ApiCall.select().where(ApiCall.client == api_client["id"])
    assert [(c["method"], c["path"], c["status"]) for c in calls] == [("POST", f"{API}/requests.json", 200)]

    # XML answer of a POST validates too.
    r = await api.post(f"{API}/requests.xml", data=form)
    doc = valid_xml(r.content)
    assert doc.findtext("request/service_request_id").startswith("YZ")


async def test_bad_posts_answer_every_error_and_store_nothing(api) -> None:
    api_client, key = await new_client(services=["animals", "garbage"])
    before = await Request.count()
    r = await api.post(f"{API}/requests.json", data={"service_code": "animals", "description": "x"})
    assert r.status_code == 403 and "api_key" in r.json()[0]["description"]
    r = await _post(api, "o311_wrong_key_0123456789", service_code="animals")
    assert r.status_code == 403
    r = await _post(api, key, service_code="no_such", description="x", lat="37.85", long="112.53")
    assert r.status_code == 404 and "service_code" in r.json()[0]["description"]
    r = await _post(api, key, service_code="noise", description="x", lat="37.85", long="112.53")
    assert r.status_code == 403  # not among this client's allowed services
    # No location, a value outside the list, the required attribute missing: all reported at once.
    r = await api.post(f"{API}/requests.json", data=[
        ("api_key", key), ("service_code", "animals"), ("description", "饲养动物"),
        ("attribute[effects][]", "smell"), ("attribute[effects][]", "fire")])
    assert r.status_code == 400
    described = [e["description"] for e in r.json()]
    assert all(e["code"] == 400 for e in r.json()) and len(described) == 3, described
    assert any(d.startswith("location:") for d in described)
    assert any(d.startswith("attribute[effects]:") and "fire" in d for d in described)
    assert any(d.startswith("attribute[animal]:") for d in described)
    r = await api.post(f"{API}/requests.xml", data={"api_key": key, "service_code": "garbage",
                                                       "lat": "1", "long": "1", "description": "远方"})
    doc = valid_xml(r.content)
    assert r.status_code == 400 and doc.findtext("error/code") == "400"
    assert await Request.count() == before
    # A disabled client is refused.
    await ApiClient.update({ApiClient.enabled: False}).where(ApiClient.id == api_client["id"])
    r = await _post(api, key, service_code="garbage", description="x", address_id="LX-1")
    assert r.status_code == 403 and "停用" in r.json()[0]["description"]
    assert await Request.count() == before


async def test_address_string_or_address_id_place_the_request(api) -> None:
    _c, key = await new_client()
    r = await _post(api, key, service_code="garbage", description="垃圾桶满了", address_string="柳北社区菜市场门口")
    code = r.json()[0]["service_request_id"]
    req = await Request.objects().where(Request.code == code).first()
    assert req.community == (await unit("LX-2")).id and req.lat is None
    r = await _post(api, key, service_code="garbage", description="垃圾桶满了", address_id="MQ-1-2")
    req = await Request.objects().where(Request.code == r.json()[0]["service_request_id"]).first()
    assert req.grid == (await unit("MQ-1-2")).id and req.community == (await unit("MQ-1")).id


async def test_token_flow(api) -> None:
    _c, key = await new_client(token=True)
    r = await api.post(f"{API}/requests.json", data=await _animals_form(key))
    [answer] = r.json()
    assert "service_request_id" not in answer and answer["token"]
    r = await api.get(f"{API}/tokens/{answer['token']}.json")
    [found] = r.json()
    assert found["token"] == answer["token"] and found["service_request_id"].startswith("YZ")
    doc = valid_xml((await api.get(f"{API}/tokens/{answer['token']}.xml")).content)
    assert doc.findtext("request/service_request_id") == found["service_request_id"]


async def test_get_requests_filters_window_and_privacy(api) -> None:
    phone = fresh_phone()
    reporter = await resident(phone)
    garbage = await Category.objects().where(Category.code == "garbage").first()
    haixi = await unit("LX-1")
    public, _ = await requests.submit(requests.NewRequest(
        kind="help", category_id=garbage.id, description="楼道堆放杂物", community_id=haixi.id,
        address="海西社区7号楼301室", contact_name="安大姐", lat=37.8512345, lon=112.5312345), reporter)
    private, _ = await requests.submit(requests.NewRequest(
        kind="help", category_id=garbage.id, description="隐私诉求", community_id=haixi.id, is_public=False),
        reporter)

    rows = (await api.get(f"{API}/requests.json", params={"service_code": "garbage"})).json()
    codes = [x["service_request_id"] for x in rows]
    assert public.code in codes and private.code not in codes
    item = next(x for x in rows if x["service_request_id"] == public.code)
    assert set(item) == REQUEST_FIELDS
    assert item["status"] == "open" and item["service_code"] == "garbage" and item["service_name"] == "垃圾"
    assert item["address"] == "海西社区 柳巷街道" and item["lat"] == 37.851 and item["long"] == 112.531
    assert item["requested_datetime"].endswith("+00:00")
    r = await api.get(f"{API}/requests.json", params={"service_code": "garbage", "page_size": "1000"})
    for body in (r.text, (await api.get(f"{API}/requests.xml", params={"service_code": "garbage"})).text):
        assert phone not in body and "安大姐" not in body and "7号楼301" not in body and "隐私诉求" not in body
    valid_xml((await api.get(f"{API}/requests.xml", params={"service_code": "garbage"})).content)

    # service_request_id overrides every other filter; a private request is simply not there.
    r = await api.get(f"{API}/requests.json", params={
        "service_request_id": f"{public.code},{private.code}", "service_code": "noise", "status": "closed"})
    assert [x["service_request_id"] for x in r.json()] == [public.code]
    assert (await api.get(f"{API}/requests/{private.code}.json")).status_code == 404
    assert (await api.get(f"{API}/requests/{public.code}.json")).json()[0]["service_request_id"] == public.code
    # status
    closed = (await api.get(f"{API}/requests.json", params={"status": "closed"})).json()
    assert public.code not in [x["service_request_id"] for x in closed]
    opened = (await api.get(f"{API}/requests.json", params={"status": "open", "service_code": "garbage"})).json()
    assert public.code in [x["service_request_id"] for x in opened]
    # The 90-day window, dates with a zone, the page size.
    now = utcnow()
    old_start = (now - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = await api.get(f"{API}/requests.json", params={"start_date": old_start,
                                                         "end_date": now.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert r.status_code == 400 and "90" in r.json()[0]["description"]
    r = await api.get(f"{API}/requests.xml", params={"start_date": "2026-13-45", "end_date": "yesterday"})
    doc = valid_xml(r.content)
    assert r.status_code == 400 and len(doc.findall("error")) == 2
    r = await api.get(f"{API}/requests.json", params={"start_date": old_start})  # old_start + 90 days
    assert public.code not in [x["service_request_id"] for x in r.json()]
    r = await api.get(f"{API}/requests.json", params={"page_size": "1", "page": "2"})
    assert r.status_code == 200 and len(r.json()) == 1
    assert (await api.get(f"{API}/requests.json", params={"page_size": "5000"})).status_code == 400
    assert (await api.get(f"{API}/requests.json", params={"status": "pending"})).status_code == 400


async def test_extensions_show_channel_and_notes(api) -> None:
    _c, key = await new_client()
    r = await api.post(f"{API}/requests.json", data=await _animals_form(key))
    code = r.json()[0]["service_request_id"]
    plain = (await api.get(f"{API}/requests/{code}.json")).json()[0]
    assert "extended_attributes" not in plain
    ext = (await api.get(f"{API}/requests/{code}.json", params={"extensions": "true"})).json()[0]
    assert ext["extended_attributes"]["channel"] == "open311"
    assert [n["type"] for n in ext["extended_attributes"]["notes"]] == ["submit"]
    valid_xml((await api.get(f"{API}/requests/{code}.xml", params={"extensions": "true"})).content)


async def test_back_office_update_moves_the_request_through_the_transition_service(api) -> None:
    _c, key = await new_client()
    code = (await api.post(f"{API}/requests.json", data=await _animals_form(key))).json()[0][
        "service_request_id"]
    office, office_key = await new_client(acts_as="haixi")  # 海西社区's own system, acting as its staff
    r = await api.post(f"{API}/servicerequestupdates.xml", data={
        "api_key": office_key, "update_id": "BO-1", "service_request_id": code, "status": "IN_PROGRESS",
        "description": "已联系养鸽人，约定三天内清理鸽笼", "updated_datetime": "2026-12-01T10:00:00+08:00"})
    assert r.status_code == 200, r.text
    doc = valid_xml(r.content)
    assert doc.findtext("request_update/update_id")
    req = await Request.objects().where(Request.code == code).first()
    assert req.status == "accepted"
    actions = [e["action"] for e in await Event.select(Event.action).where(Event.request == req.id).order_by(Event.id)]
    assert actions == ["submit", "accept", "progress"]
    # The same update again changes nothing.
    again = await api.post(f"{API}/servicerequestupdates.xml", data={
        "api_key": office_key, "update_id": "BO-1", "service_request_id": code, "status": "IN_PROGRESS"})
    assert again.status_code == 200 and valid_xml(again.content).findtext("request_update/update_id") == \
        doc.findtext("request_update/update_id")
    assert await Event.count().where(Event.request == req.id) == 3
    r = await api.post(f"{API}/servicerequestupdates.json", data={
        "api_key": office_key, "update_id": "BO-2", "service_request_id": code, "status": "FIXED",
        "description": "鸽笼已移走，楼道已清理"})
    assert r.status_code == 200
    req = await Request.objects().where(Request.code == code).first()
    assert req.status == "resolved" and await ApiUpdate.count().where(ApiUpdate.client == office["id"]) == 2
    item = (await api.get(f"{API}/requests/{code}.json")).json()[0]
    assert item["status"] == "closed" and item["status_notes"] == "鸽笼已移走，楼道已清理"
    # The updates feed (FixMyStreet's GET servicerequestupdates) lists them.
    start = (utcnow() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    feed = (await api.get(f"{API}/servicerequestupdates.json", params={"start_date": start})).json()
    mine = [u for u in feed if u["service_request_id"] == code]
    assert [u["status"] for u in mine] == ["in_progress", "in_progress", "fixed"]
    valid_xml((await api.get(f"{API}/servicerequestupdates.xml", params={"start_date": start})).content)

    # Bad updates: unknown status, a client without a staff account, a request out of this office's scope.
    r = await api.post(f"{API}/servicerequestupdates.json", data={
        "api_key": office_key, "update_id": "BO-3", "service_request_id": code, "status": "MAGIC"})
    assert r.status_code == 400
    r = await api.post(f"{API}/servicerequestupdates.json", data={
        "api_key": key, "update_id": "X-1", "service_request_id": code, "status": "FIXED"})
    assert r.status_code == 403
    other = (await _post(api, key, service_code="garbage", description="庙前的垃圾", address_id="MQ-1")).json()
    r = await api.post(f"{API}/servicerequestupdates.json", data={
        "api_key": office_key, "update_id": "BO-4", "service_request_id": other[0]["service_request_id"],
        "status": "FIXED"})
    assert r.status_code == 403
    assert not await ApiUpdate.exists().where(ApiUpdate.update_id.is_in(["BO-3", "BO-4", "X-1"]))


async def test_rate_limit_per_client(api) -> None:
    api_client, key = await new_client(rate=2)
    for _ in range(2):
        assert (await api.get(f"{API}/services.json", params={"api_key": key})).status_code == 200
    r = await api.get(f"{API}/services.json", params={"api_key": key})
    assert r.status_code == 429 and "2" in r.json()[0]["description"]
    statuses = [c["status"] for c in await ApiCall.select().where(ApiCall.client == api_client["id"])]
    assert statuses == [200, 200, 429]


async def test_settings_change_and_allowed_services_bind_updates_too(api) -> None:
    from backend.open311 import clients as service

    _c, key = await new_client()
    code = (await _post(api, key, service_code="garbage", description="垃圾", address_id="LX-1")).json()[0][
        "service_request_id"]
    office, office_key = await new_client(acts_as="haixi", services=["animals"])
    form = {"api_key": office_key, "update_id": "S-1", "service_request_id": code, "status": "in_progress"}
    r = await api.post(f"{API}/servicerequestupdates.json", data=form)
    assert r.status_code == 403  # garbage is not among its services
    errors = await service.update_client(office["id"], service.NewClient(name="改名", rate_limit=0))
    assert errors and "rate_limit" in errors
    assert await service.update_client(office["id"], service.NewClient(
        name="海西业务系统", rate_limit=10, allowed_services=[], acts_as_username="haixi")) == {}
    assert (await api.post(f"{API}/servicerequestupdates.json", data=form)).status_code == 200
    assert await service.update_client(999999999, service.NewClient(name="x")) is None
