"""Real Open311 client libraries from PyPI against the real app under uvicorn (a loopback port).

- ``georeport`` 0.3.1 (Python 3): services, a service definition, requests and one request, in JSON and in XML.
  It has no POST: it only reads.
- ``civicbot`` 0.4.0's Open311 client (Python 3): posts a request with attributes (after validating it against
  our live service definition), follows a token, lists and reads requests.
- ``open311`` 1.1 and ``three`` 0.8.0 do not run on Python 3 (Python 2 imports: ``from api import API``,
  ``itertools.ifilter``), so they are not used.
- The back office speaks FixMyStreet's servicerequestupdates as FixMyStreet's perllib/Open311.pm does: a
  form POST to servicerequestupdates.xml, the answer's request_update/update_id read back.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
import xmltodict
from civicbot.http import HttpTransport, RateLimiter
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport

from backend.db import utcnow
from backend.requests.tables import Event, Request
from tests.e2e.conftest import live_server  # noqa: F401  (the app under uvicorn)
from tests.support.open311 import new_client, point_in


@pytest.fixture
def base(live_server: str) -> str:  # noqa: F811
    return live_server + "/open311/v2"


def _civicbot(base: str) -> Open311Client:
    endpoint = Endpoint(id="qungong", name="群工", base_url=base, write=True)
    return Open311Client(endpoint, transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)), fmt="json")


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_georeport_reads_services_definitions_and_requests(base: str, fmt: str) -> None:
    _c, key = await new_client()
    lat, lon = await point_in("LX-1-2")
    async with httpx.AsyncClient() as h:
        r = await h.post(base + "/requests.json", data={
            "api_key": key, "service_code": "garbage", "lat": lat, "long": lon, "description": f"georeport {fmt}"})
    code = r.json()[0]["service_request_id"]

    geo = GeoReport(base, output_format=fmt)
    services = await asyncio.to_thread(geo.get_service_list)
    by_code = {s["service_code"]: s for s in services}
    assert by_code["animals"]["service_name"] == "饲养动物"
    assert str(by_code["animals"]["metadata"]).lower() == "true"
    definition = await asyncio.to_thread(geo.get_service_definition, "animals")
    attrs = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
    assert [a["code"] for a in attrs] == ["animal", "effects", "place"]
    values = attrs[0]["values"] if fmt == "json" else attrs[0]["values"]["value"]
    assert [v["key"] for v in values] == ["pigeon", "dog", "chicken", "cat"]

    listed = await asyncio.to_thread(geo.get_service_requests, service_code="garbage", status="open")
    listed = listed if isinstance(listed, list) else [listed]
    assert code in [x["service_request_id"] for x in listed]
    one = await asyncio.to_thread(geo.get_service_request, code)
    assert one["service_request_id"] == code and one["status"] == "open" and one["service_code"] == "garbage"
    assert one["address"] == "海西社区 柳巷街道"


async def test_civicbot_posts_with_attributes_follows_the_token_and_reads_it_back(base: str) -> None:
    _c, key = await new_client(token=True)
    bot = _civicbot(base)
    lat, lon = await point_in("LX-1-1")
    sent = await asyncio.to_thread(
        bot.create_request, "animals", dry_run=False, confirm="SEND", api_key=key, validate_remote=True,
        lat=lat, lng=lon, description="楼道里养鸡，气味很大", attributes={"animal": "cat",
                                                                           "effects": ["smell", "noise"]},
        first_name="芳", last_name="李", phone="13700001111", device_id="civicbot-test")
    [answer] = sent.response
    assert answer["token"] and "service_request_id" not in answer
    [found] = await asyncio.to_thread(bot.get_token, answer["token"])
    code = found["service_request_id"]
    req = await Request.objects().where(Request.code == code).output(load_json=True).first()
    assert req.source == "open311" and req.attributes == {"animal": "cat", "effects": ["smell", "noise"]}
    assert req.contact_name == "李芳"

    listed = await asyncio.to_thread(bot.list_requests, service_request_ids=[code])
    assert [x["service_request_id"] for x in listed] == [code]
    item = await asyncio.to_thread(bot.get_request, code)
    assert item["service_name"] == "饲养动物" and "13700001111" not in str(item) and "李芳" not in str(item)

    # The client's own validation against our live definition refuses what our server would refuse too.
    from civicbot.open311 import ValidationError

    with pytest.raises(ValidationError):
        await asyncio.to_thread(bot.create_request, "animals", dry_run=False, confirm="SEND", api_key=key,
                                validate_remote=True, lat=lat, lng=lon, description="缺少必答题")


async def test_back_office_update_moves_the_request_and_clients_receive_it(base: str) -> None:
    _c, key = await new_client()
    bot = _civicbot(base)
    lat, lon = await point_in("LX-1-1")
    sent = await asyncio.to_thread(
        bot.create_request, "animals", dry_run=False, confirm="SEND", api_key=key, lat=lat, lng=lon,
        description="楼顶鸽子粪便污染", attributes={"animal": "dog"})
    code = sent.response[0]["service_request_id"]

    _office, office_key = await new_client(name="海西社区业务系统", acts_as="haixi")
    since = (utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    async with httpx.AsyncClient() as back_office:  # as FixMyStreet's Open311.pm posts an update
        for update_id, status, text in (("HX-100", "IN_PROGRESS", "已上门查看，责令清理楼道鸽笼"),
                                        ("HX-101", "FIXED", "鸽笼已移走并清扫消毒")):
            r = await back_office.post(base + "/servicerequestupdates.xml", data={
                "api_key": office_key, "update_id": update_id, "service_request_id": code, "status": status,
                "description": text, "updated_datetime": utcnow().isoformat(timespec="seconds"),
                "first_name": "社工", "last_name": "解", "email": ""})
            assert r.status_code == 200, r.text
            assert xmltodict.parse(r.content)["service_request_updates"]["request_update"]["update_id"]
    req = await Request.objects().where(Request.code == code).first()
    actions = [e["action"] for e in await Event.select(Event.action).where(Event.request == req.id).order_by(Event.id)]
    assert req.status == "resolved" and actions == ["submit", "accept", "progress", "resolve"]

    # Receiving it: the request reads closed with the back office's note, by either client library.
    item = await asyncio.to_thread(bot.get_request, code)
    assert item["status"] == "closed" and item["status_notes"] == "鸽笼已移走并清扫消毒"
    one = await asyncio.to_thread(GeoReport(base, output_format="xml").get_service_request, code)
    assert one["status"] == "closed"
    async with httpx.AsyncClient() as h:
        feed = xmltodict.parse((await h.get(base + "/servicerequestupdates.xml", params={"start_date": since})).content)
    updates = [u for u in feed["service_requests_updates"]["request_update"] if u["service_request_id"] == code]
    assert [u["status"] for u in updates] == ["in_progress", "in_progress", "fixed"]
    assert updates[-1]["description"] == "鸽笼已移走并清扫消毒"
