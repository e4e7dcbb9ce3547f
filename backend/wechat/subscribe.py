"""Subscription messages (订阅通知) for a resident's request: received / accepted / resolved, please rate / reopened.

A subscription message may be sent only to a resident who accepted its template. They accept in WeChat (the
``wx-open-subscribe`` button on their account page opens WeChat's own consent popup); WeChat then tells the
callback (``subscribe_msg_popup_event``), and a later change in WeChat's settings too
(``subscribe_msg_change_event``): those signed events are the record of consent kept here, per openid and
template. A send WeChat refuses for lack of consent (43101, or a failed ``subscribe_msg_sent_event``) sets the
record back to reject. Without an accepted subscription the template message (``service.send_template``) is
used when one is configured, as before.

Templates: ``QG_WECHAT_SUBSCRIBE_<EVENT>`` (RECEIVED, ACCEPTED, RESOLVED, REOPENED). The chosen template must
have the fields ``character_string1`` (the request's code), ``phrase2`` (its status, at most 5 characters) and
``thing3`` (what happened, at most 20 characters), as WeChat's field types require.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

from backend.wechat import service
from backend.wechat.service import WechatConfig, WechatError
from backend.wechat.tables import WechatSubscription

log = logging.getLogger("qungong.wechat")
# Event → the element holding its <List> items.
EVENTS = {"subscribe_msg_popup_event": "SubscribeMsgPopupEvent",
          "subscribe_msg_change_event": "SubscribeMsgChangeEvent",
          "subscribe_msg_sent_event": "SubscribeMsgSentEvent"}
NO_CONSENT = 43101  # "user refuse to accept the msg"


async def set_consent(openid: str, template_id: str, status: str, scene: str = "") -> None:
    await WechatSubscription.insert(WechatSubscription(
        key=f"{openid} {template_id}", openid=openid, template_id=template_id, status=status, scene=scene[:10],
        updated_at=datetime.now(UTC),
    )).on_conflict(target=WechatSubscription.key, action="DO UPDATE",
                   values=[WechatSubscription.status, WechatSubscription.scene, WechatSubscription.updated_at])


async def consents(openid: str) -> dict[str, str]:
    """template id → accept | reject, for one resident."""
    rows = await WechatSubscription.select(WechatSubscription.template_id, WechatSubscription.status).where(
        WechatSubscription.openid == openid)
    return {r["template_id"]: r["status"] for r in rows}


async def accepted(openid: str, template_id: str) -> bool:
    return bool(template_id) and (await consents(openid)).get(template_id) == "accept"


async def record_event(tree: ET.Element) -> int:
    """Record what a subscription event says, for the templates this site uses; returns the rows written."""
    cfg = service.config()
    openid, event = tree.findtext("FromUserName") or "", tree.findtext("Event") or ""
    holder = tree.find(EVENTS.get(event, "-"))
    if cfg is None or not openid or holder is None:
        return 0
    ours = {t for _e, t in cfg.subscriptions if t}
    written = 0
    for item in holder.findall("List"):
        template_id = item.findtext("TemplateId") or ""
        if template_id not in ours:
            continue
        if event == "subscribe_msg_sent_event":
            if (item.findtext("ErrorCode") or "0") == "0":
                continue  # delivered: nothing changes
            status = "reject"
        else:
            status = "accept" if item.findtext("SubscribeStatusString") == "accept" else "reject"
        await set_consent(openid, template_id, status, item.findtext("PopupScene") or "")
        written += 1
    return written


async def send(cfg: WechatConfig, openid: str, event: str, title: str, code: str, status: str,
               url: str) -> dict[str, Any]:
    template_id = cfg.subscription(event)
    try:
        return await service.call_api(cfg, "/cgi-bin/message/subscribe/bizsend", {
            "touser": openid, "template_id": template_id, "page": url,
            "data": {"character_string1": {"value": code[:32]}, "phrase2": {"value": status[:5]},
                     "thing3": {"value": title[:20]}},
        })
    except WechatError as exc:
        if exc.code == NO_CONSENT:
            await set_consent(openid, template_id, "reject")
        raise


async def can_reach(cfg: WechatConfig, account_id: int, event: str) -> bool:
    """A bound resident with an accepted subscription for this event, or a template message configured for it."""
    openid = await service.openid_of(account_id)
    if not openid:
        return False
    return bool(cfg.template(event)) or await accepted(openid, cfg.subscription(event))


async def notify(cfg: WechatConfig, account_id: int, event: str, title: str, code: str, status: str,
                 url: str) -> str:
    """Tell the resident through WeChat; returns which kind of message went out."""
    openid = await service.openid_of(account_id)
    if not openid:
        raise WechatError("not bound")
    if await accepted(openid, cfg.subscription(event)):
        await send(cfg, openid, event, title, code, status, url)
        return "subscription message"
    await service.send_template(cfg, openid, event, title, code, status, url)
    return "template message"
