"""Channel choice per person: preference, then what they can receive; SMS only for what matters; recorded."""

from __future__ import annotations

import logging

import pytest

from backend.accounts.service import resident_for_phone
from backend.notify import channels
from backend.notify.tables import Delivery, PushSubscription
from backend.redis import redis_client
from backend.requests.service import TransitionResult
from backend.wechat import service as wechat_service
from tests.support.factories import fresh_phone, unique
from tests.support.fakes import FakeAliyunSms, FakeWechat


@pytest.fixture
def wechat(monkeypatch):
    with FakeWechat("wxappid", "wxsecret") as fake:
        for k, v in {"QG_WECHAT_APP_ID": "wxappid", "QG_WECHAT_APP_SECRET": "wxsecret", "QG_WECHAT_TOKEN": "tok",
                     "QG_WECHAT_API_BASE": fake.url, "QG_WECHAT_TEMPLATE_RESOLVED": "TPL_RESOLVED",
                     "QG_WECHAT_TEMPLATE_ACCEPTED": "TPL_ACCEPTED"}.items():
            monkeypatch.setenv(k, v)
        yield fake


@pytest.fixture
def sms(monkeypatch):
    with FakeAliyunSms("k", "s") as fake:
        for k, v in {"QG_SMS_PROVIDER": "aliyun", "QG_SMS_KEY_ID": "k", "QG_SMS_KEY_SECRET": "s",
                     "QG_SMS_SIGN_NAME": "迎泽群工", "QG_SMS_TEMPLATE_RESOLVED": "SMS_R",
                     "QG_SMS_TEMPLATE_REOPENED": "SMS_O", "QG_SMS_BASE_URL": fake.url}.items():
            monkeypatch.setenv(k, v)
        yield fake


async def resident() -> int:
    return (await resident_for_phone(fresh_phone())).id


async def with_push(account_id: int) -> None:
    await PushSubscription.insert(PushSubscription(account=account_id, endpoint=f"https://fcm.googleapis.com/{unique('e')}",
                                                   p256dh="p", auth="a"))


async def deliveries(account_id: int) -> list[tuple[str, str, bool]]:
    rows = await Delivery.select().where(Delivery.account == account_id).order_by(Delivery.id)
    return [(r["channel"], r["event"], r["ok"]) for r in rows]


async def test_resident_with_nothing_but_a_phone_gets_sms_only_for_what_matters(sms) -> None:
    a = await resident()
    assert await channels.deliver(a, "resolved", "YZ100") == "sms"
    assert await channels.deliver(a, "accepted", "YZ100") == "none"  # not worth a text message
    assert await channels.deliver(a, "reopened", "YZ100") == "sms"
    assert [s["TemplateCode"] for s in sms.sent] == ["SMS_R", "SMS_O"]
    assert sms.sent[0]["TemplateParam"] == '{"code": "YZ100"}'
    assert await deliveries(a) == [("sms", "resolved", True), ("none", "accepted", True), ("sms", "reopened", True)]


async def test_sms_opt_out_is_respected(sms) -> None:
    a = await resident()
    await channels.set_preference(a, "auto", sms_opt_out=True)
    assert await channels.deliver(a, "resolved", "YZ101") == "none"
    assert sms.sent == []


async def test_bound_wechat_comes_before_sms(sms, wechat) -> None:
    a = await resident()
    await wechat_service.bind(a, "oDora")
    assert await channels.deliver(a, "resolved", "YZ102") == "wechat"
    assert sms.sent == []
    assert wechat.messages[0]["touser"] == "oDora" and wechat.messages[0]["template_id"] == "TPL_RESOLVED"
    assert wechat.messages[0]["url"].endswith("/r/YZ102")
    assert await channels.deliver(a, "accepted", "YZ102") == "wechat"  # WeChat carries every event


async def test_push_first_by_default_but_the_preference_wins(sms, wechat) -> None:
    a = await resident()
    await with_push(a)
    await wechat_service.bind(a, "oEve")
    assert await channels.deliver(a, "resolved", "YZ103") == "push"  # it went with the in-app notice
    assert wechat.messages == [] and sms.sent == []
    await channels.set_preference(a, "sms", sms_opt_out=False)
    assert await channels.deliver(a, "resolved", "YZ103") == "sms"
    await channels.set_preference(a, "wechat", sms_opt_out=False)
    assert await channels.deliver(a, "resolved", "YZ103") == "wechat"


async def test_preference_for_a_channel_they_cannot_receive_falls_back(sms, monkeypatch) -> None:
    a = await resident()
    await channels.set_preference(a, "wechat", sms_opt_out=False)  # not bound, and WeChat not configured
    assert await channels.deliver(a, "resolved", "YZ104") == "sms"


async def test_a_failed_send_is_recorded_as_failed(sms, caplog) -> None:
    sms.script += [(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号"})] * 2
    a = await resident()
    caplog.set_level(logging.WARNING)
    assert await channels.deliver(a, "resolved", "YZ105") == "sms"
    rows = await Delivery.select().where(Delivery.account == a)
    assert rows[0]["ok"] is False and "非法手机号" in rows[0]["detail"]


async def test_transition_hook_enqueues_one_delivery_job_after_commit() -> None:
    def result(to: str, actor: int | None, version: int = 2) -> TransitionResult:
        return TransitionResult(request_id=77, action="x", from_status="accepted", to_status=to, version=version,
                                event_id=1, actor_id=actor, code="YZ777", reporter=5)

    await channels.reach_reporter(result("resolved", 9))
    assert await redis_client().exists("arq:job:deliver:77:2")
    await channels.reach_reporter(result("resolved", 5, 3))  # the resident's own step: nothing
    assert not await redis_client().exists("arq:job:deliver:77:3")
    await channels.reach_reporter(result("reopened", 5, 4))  # ... except the reopening they caused
    assert await redis_client().exists("arq:job:deliver:77:4")
    submit = TransitionResult(request_id=78, action="submit", from_status="", to_status="assigned", version=1,
                              event_id=1, actor_id=5, code="YZ778", reporter=5)
    await channels.reach_reporter(submit)  # ... and the receipt of their report
    assert await redis_client().exists("arq:job:deliver:78:1")


async def test_the_receipt_of_a_report_goes_by_wechat_only(sms, wechat, monkeypatch) -> None:
    monkeypatch.setenv("QG_WECHAT_TEMPLATE_RECEIVED", "TPL_RECEIVED")
    a, b = await resident(), await resident()
    await wechat_service.bind(a, "oFrank")
    await with_push(b)
    assert await channels.deliver(a, "received", "YZ106") == "wechat"
    assert wechat.messages[-1]["template_id"] == "TPL_RECEIVED"
    assert await channels.deliver(b, "received", "YZ107") == "none"  # no in-app notice to push, no SMS for this
    assert sms.sent == []


async def test_account_page_saves_the_choice(client) -> None:
    phone = fresh_phone()
    await client.login_resident(phone)
    r = await client.post("/account/notify", data={"channel": "sms", "sms_opt_out": "1"})
    assert r.status_code == 200 and "已保存" in r.text
    acc = await resident_for_phone(phone)
    assert await channels.preference(acc.id) == {"channel": "sms", "sms_opt_out": True}
    r = await client.post("/account/notify", data={"channel": "carrier-pigeon"})
    assert r.status_code == 400 and "请选择一种通知方式" in r.text
    assert await channels.preference(acc.id) == {"channel": "sms", "sms_opt_out": True}
    assert (await client.get("/account")).status_code == 200
