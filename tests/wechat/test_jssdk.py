"""The JS-SDK on the report form: the ticket shared in Redis, the config signature, photos fetched from WeChat."""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path

from backend.redis import redis_client
from backend.requests.photos.tables import RequestPhoto as Photo
from backend.requests.tables import Request
from backend.wechat import jssdk, service
from tests.support.factories import fresh_phone
from tests.support.fakes import jpeg
from tests.support.photos import report_data
from tests.wechat.test_wechat import ROOT

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2203A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0 "
             "Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 MicroMessenger/8.0.47.2560(0x28002F30) "
             "WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")


def test_the_signature_is_the_one_of_wechats_documentation() -> None:
    # The worked example of WeChat's JS-SDK documentation (附录1), fields sorted, url without its fragment.
    ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg"
    sig = jssdk.config_signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#x")
    assert sig == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


async def test_ticket_is_fetched_once_shared_and_survives_an_expired_token(wechat) -> None:
    cfg = service.config()
    assert cfg is not None
    tickets = await asyncio.gather(*[jssdk.jsapi_ticket(cfg) for _ in range(4)])
    assert set(tickets) == {"TICKET1"} and wechat.tickets_issued == 1
    assert 6000 < await redis_client().ttl(jssdk.TICKET_KEY) <= 6900  # refreshed before WeChat's 7200 s
    # The ticket lapses; the access token was revoked meanwhile: a new token, then a new ticket.
    await redis_client().delete(jssdk.TICKET_KEY)
    wechat.expire_all()
    assert await jssdk.jsapi_ticket(cfg) == "TICKET2" and wechat.issued == 2


async def test_the_report_form_carries_a_signed_config_only_inside_wechat(client, wechat) -> None:
    plain = await client.get("/report")
    assert plain.status_code == 200 and 'id="wx-config"' not in plain.text and "weixin-js-sdk" not in plain.text
    r = await client.get("/report", headers={"User-Agent": WECHAT_UA})
    assert r.status_code == 200
    fields = dict(re.findall(r'data-(app-id|timestamp|nonce|signature|apis)="([^"]*)"', r.text))
    assert fields["app-id"] == "wxappid" and fields["apis"] == "getLocation,chooseImage,uploadImage"
    expected = jssdk.config_signature(wechat.ticket, fields["nonce"], fields["timestamp"],
                                      "http://127.0.0.1:8000/report")
    assert fields["signature"] == expected
    assert '<script src="/static/vendor/weixin-js-sdk-1.6.5/index.js" defer></script>' in r.text
    # The plain inputs remain inside WeChat too.
    assert 'id="photos-camera"' in r.text and 'name="community"' in r.text


async def test_without_wechat_reachable_the_form_is_the_plain_one(client, wechat) -> None:
    wechat.script = [(500, {"errcode": -1, "errmsg": "system error"})] * 3
    r = await client.get("/report", headers={"User-Agent": WECHAT_UA})
    assert r.status_code == 200 and 'id="wx-config"' not in r.text and 'id="photos-camera"' in r.text


async def test_photos_chosen_in_wechat_are_fetched_and_attached(client, wechat) -> None:
    wechat.media = {"MEDIA_A1": jpeg(640, 480), "MEDIA_B2": jpeg(480, 640, (20, 20, 200))}
    await client.login_resident(fresh_phone())
    data = await report_data(client, description="楼道灯不亮，微信里拍的照片")
    data["wx_media"] = ["MEDIA_A1", "MEDIA_B2"]
    wechat.expire_all()  # on the way: an expired access token is replaced
    r = await client.post("/report", data=data)
    assert r.status_code == 303, r.text
    req = await Request.objects().where(Request.idempotency_key == data["idempotency_key"]).first()
    assert await Photo.count().where(Photo.request == req.id) == 2
    fetched = [q["query"]["media_id"] for q in wechat.requests if q["path"] == "/cgi-bin/media/get"]
    assert fetched[-2:] == ["MEDIA_A1", "MEDIA_B2"]


async def test_an_unknown_or_malformed_media_id_is_a_clear_message(client, wechat) -> None:
    await client.login_resident(fresh_phone())
    for ids, message in ((["NOPE"], "微信照片获取失败"), (["../../etc"], "微信照片无效")):
        data = await report_data(client, description="照片有问题")
        data["wx_media"] = ids
        r = await client.post("/report", data=data)
        assert r.status_code == 400 and message in r.text and "照片有问题" in r.text
        assert not await Request.exists().where(Request.idempotency_key == data["idempotency_key"])


async def test_a_ticket_refused_by_the_client_is_dropped_once(client, wechat) -> None:
    r = await client.get("/report", headers={"User-Agent": WECHAT_UA})
    fields = dict(re.findall(r'data-(timestamp|nonce|signature)="([^"]*)"', r.text))
    await redis_client().delete(jssdk.DROP_COOLDOWN_KEY)
    form = {"url": "http://127.0.0.1:8000/report", **fields}
    bad = await client.post("/wechat/jssdk/refused", data=form | {"signature": "0" * 40})
    assert bad.json() == {"dropped": False}  # not a config we signed with the current ticket
    ok = await client.post("/wechat/jssdk/refused", data=form)
    assert ok.json() == {"dropped": True} and await redis_client().get(jssdk.TICKET_KEY) is None
    r = await client.get("/report", headers={"User-Agent": WECHAT_UA})
    assert wechat.tickets_issued == 2 and 'id="wx-config"' in r.text


def test_the_vendored_sdk_is_the_npm_package() -> None:
    # weixin-js-sdk 1.6.5 from the npm registry, index.js unchanged (the CommonJS shim is a separate file).
    data = (ROOT / "frontend/static/vendor/weixin-js-sdk-1.6.5/index.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == "dbb0451e1b72d7c2c18095ffd1950d6de464413ce8d343eff8b82865b983ab97"
    assert Path(ROOT / "frontend/static/vendor/weixin-js-sdk-1.6.5/LICENSE").read_text().startswith("MIT")
