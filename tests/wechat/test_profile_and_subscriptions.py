"""snsapi_userinfo with the resident's consent; subscription messages sent only after WeChat reports consent."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

from backend.accounts.service import resident_for_phone
from backend.notify import channels
from backend.notify.tables import Delivery
from backend.wechat import service, subscribe
from backend.wechat.tables import WechatBinding, WechatSubscription
from tests.support.factories import fresh_phone
from tests.wechat.test_wechat import signed


async def test_the_consent_step_then_nickname_and_avatar_on_my_account(client, wechat) -> None:
    phone, openid = fresh_phone(), f"oPro{time.time_ns()}"
    await client.login_resident(phone)
    acc = await resident_for_phone(phone)
    await service.bind(acc.id, openid)
    page = await client.get("/account")
    assert 'data-testid="profile-link"' in page.text and 'data-testid="wechat-profile"' not in page.text
    consent = await client.get("/wechat/profile")
    assert consent.status_code == 200 and "只显示在“我的账号”页" in consent.text
    # Nothing is asked of WeChat before the resident agrees: the page only links to the authorisation.
    assert not [q for q in wechat.requests if q["path"].startswith("/sns/")]
    r = await client.get("/wechat/login", params={"scope": "snsapi_userinfo", "next": "/account"})
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["scope"] == ["snsapi_userinfo"]
    code = wechat.code_for(openid, "snsapi_userinfo")  # the resident confirmed in WeChat's own dialog
    r = await client.get("/wechat/oauth", params={"code": code, "state": q["state"][0]})
    assert r.status_code == 303 and r.headers["location"] == "/account"
    page = await client.get("/account")
    assert 'data-testid="wechat-nickname">张阿姨<' in page.text and 'src="/wechat/avatar"' in page.text
    avatar = await client.get("/wechat/avatar")
    assert avatar.status_code == 200 and avatar.headers["content-type"] == "image/jpeg"
    assert avatar.content[:2] == b"\xff\xd8"
    fetched = [x["path"] for x in wechat.requests if x["path"].startswith("/mmopen/")]
    assert fetched == [f"/mmopen/{openid}/132"]  # the small size, not the 640 px original
    # Taken back: deleted, not hidden.
    r = await client.post("/wechat/profile/forget")
    assert r.status_code == 303
    page = await client.get(r.headers["location"])
    assert "已删除微信昵称和头像" in page.text and "张阿姨" not in page.text
    row = await WechatBinding.select(WechatBinding.nickname, WechatBinding.avatar).where(
        WechatBinding.account == acc.id).first()
    assert row == {"nickname": None, "avatar": None}
    assert (await client.get("/wechat/avatar")).status_code == 404


async def test_snsapi_base_takes_no_profile(client, wechat) -> None:
    phone, openid = fresh_phone(), f"oBase{time.time_ns()}"
    acc = await resident_for_phone(phone)
    await service.bind(acc.id, openid)
    r = await client.get("/wechat/login")  # the menu's sign-in: snsapi_base
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["scope"] == ["snsapi_base"]
    await client.get("/wechat/oauth", params={"code": wechat.code_for(openid), "state": q["state"][0]})
    assert not [x for x in wechat.requests if x["path"] == "/sns/userinfo"]
    assert (await service.binding_of(acc.id))["nickname"] is None


async def test_an_avatar_elsewhere_than_wechats_image_host_is_not_fetched(wechat, monkeypatch) -> None:
    cfg = service.config()
    assert cfg is not None
    assert await service.fetch_avatar(cfg, "http://169.254.169.254/latest/meta-data") is None
    assert await service.fetch_avatar(cfg, "file:///etc/passwd") is None


def popup_event(openid: str, *items: tuple[str, str]) -> str:
    lists = "".join(f"<List><TemplateId><![CDATA[{t}]]></TemplateId><SubscribeStatusString><![CDATA[{s}]]>"
                    f"</SubscribeStatusString><PopupScene>2</PopupScene></List>" for t, s in items)
    return (f"<xml><ToUserName><![CDATA[gh_yingze]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{time.time_ns()}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[subscribe_msg_popup_event]]></Event>"
            f"<SubscribeMsgPopupEvent>{lists}</SubscribeMsgPopupEvent></xml>")


async def test_subscription_consent_comes_from_wechat_and_rules_the_sending(client, wechat, monkeypatch) -> None:
    monkeypatch.setenv("QG_WECHAT_SUBSCRIBE_RESOLVED", "SUB_RESOLVED")
    monkeypatch.setenv("QG_WECHAT_SUBSCRIBE_ACCEPTED", "SUB_ACCEPTED")
    monkeypatch.delenv("QG_WECHAT_TEMPLATE_RESOLVED")
    phone, openid = fresh_phone(), f"oSub{time.time_ns()}"
    acc = await resident_for_phone(phone)
    await service.bind(acc.id, openid)
    # No consent, no template message for "accepted": WeChat is not a way to reach them.
    assert "wechat" not in await channels.receivable(acc.id, "accepted")
    # The resident accepts "resolved" and refuses "accepted" in WeChat's popup; WeChat tells the callback (signed).
    r = await client.request("POST", "/wechat/callback", params=signed(), content=popup_event(
        openid, ("SUB_RESOLVED", "accept"), ("SUB_ACCEPTED", "reject"), ("SOMEONE_ELSES", "accept")).encode())
    assert r.status_code == 200 and r.text == "success"
    assert await subscribe.consents(openid) == {"SUB_RESOLVED": "accept", "SUB_ACCEPTED": "reject"}
    assert "wechat" in await channels.receivable(acc.id, "resolved")
    assert "wechat" not in await channels.receivable(acc.id, "accepted")
    # A forged event (bad signature) records nothing.
    forged = signed("forged")
    r = await client.request("POST", "/wechat/callback", params=forged,
                             content=popup_event(openid, ("SUB_ACCEPTED", "accept")).encode())
    assert r.status_code == 403 and (await subscribe.consents(openid))["SUB_ACCEPTED"] == "reject"
    # Resolved: a subscription message through bizsend, recorded as such.
    wechat.accepted.add((openid, "SUB_RESOLVED"))
    assert await channels.deliver(acc.id, "resolved", "YZ0042", "已办结") == "wechat"
    assert wechat.subscription_messages[-1] == {
        "touser": openid, "template_id": "SUB_RESOLVED", "page": "http://127.0.0.1:8000/r/YZ0042",
        "data": {"character_string1": {"value": "YZ0042"}, "phrase2": {"value": "已办结"},
                 "thing3": {"value": "您的诉求已办结，请评价"}}}
    row = await Delivery.select().where(Delivery.account == acc.id).order_by(Delivery.id, ascending=False).first()
    assert row["ok"] and row["detail"] == "subscription message"
    # WeChat says the (one-time) consent is used up: 43101; the record goes back to reject, the failure is logged.
    wechat.accepted.clear()
    await channels.deliver(acc.id, "resolved", "YZ0043", "已办结")
    row = await Delivery.select().where(Delivery.account == acc.id).order_by(Delivery.id, ascending=False).first()
    assert not row["ok"] and "user refuse to accept the msg" in row["detail"]
    assert (await subscribe.consents(openid))["SUB_RESOLVED"] == "reject"
    assert "wechat" not in await channels.receivable(acc.id, "resolved")
    assert await WechatSubscription.count().where(WechatSubscription.openid == openid) == 2


async def test_the_account_page_lists_the_subscriptions(client, wechat, monkeypatch) -> None:
    monkeypatch.setenv("QG_WECHAT_SUBSCRIBE_RESOLVED", "SUB_RESOLVED")
    phone, openid = fresh_phone(), f"oList{time.time_ns()}"
    await client.login_resident(phone)
    acc = await resident_for_phone(phone)
    await service.bind(acc.id, openid)
    page = await client.get("/account")
    assert "诉求已办结，请评价：未订阅" in page.text and 'data-testid="subscribe-hint"' in page.text
    await subscribe.set_consent(openid, "SUB_RESOLVED", "accept")
    page = await client.get("/account")
    assert "诉求已办结，请评价：<strong>已订阅</strong>" in page.text
