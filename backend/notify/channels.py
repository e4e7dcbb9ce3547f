"""Reaching a resident outside the app: one channel per person among Web Push, WeChat and SMS.

The in-app notice (and the Web Push that rides on it) is sent by ``notify_accounts`` as before; this adds the
choice of the one outside channel for the events that concern a resident's own request:
the person's preference if they can receive it, else push, else WeChat (bound openid and WeChat
configured), else SMS — and SMS only for the events that matter (resolved, please rate; reopened), never for
someone who opted out. Each choice and its outcome is recorded in ``Delivery``.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from backend.accounts.sms import SmsError, get_gateway
from backend.accounts.tables import Account
from backend.db import on_commit
from backend.notify.tables import Delivery, NotifyPreference, PushSubscription
from backend.settings import get_settings

if TYPE_CHECKING:
    from backend.requests.rules import TransitionResult

log = logging.getLogger("qungong.notify")
DELIVER_JOB = "deliver_notice"
CHANNELS = ("push", "wechat", "sms")
PREFERENCES = ("auto", *CHANNELS)
# The request states a resident hears about outside the app, as notice events.
EVENT_OF_STATUS = {"accepted": "accepted", "resolved": "resolved", "reopened": "reopened"}
SMS_EVENTS = frozenset({"resolved", "reopened"})
EVENT_TITLES = {"received": "您的诉求已收到", "accepted": "您的诉求已受理", "resolved": "您的诉求已办结，请评价",
                "reopened": "您的诉求已重新办理"}


async def preference(account_id: int) -> dict[str, object]:
    row = await NotifyPreference.select(NotifyPreference.channel, NotifyPreference.sms_opt_out).where(
        NotifyPreference.account == account_id).first()
    return row or {"channel": "auto", "sms_opt_out": False}


async def set_preference(account_id: int, channel: str, sms_opt_out: bool) -> None:
    if channel not in PREFERENCES:
        raise ValueError("unknown channel")
    existing = await NotifyPreference.exists().where(NotifyPreference.account == account_id)
    if existing:
        await NotifyPreference.update({NotifyPreference.channel: channel, NotifyPreference.sms_opt_out: sms_opt_out}
                                      ).where(NotifyPreference.account == account_id)
    else:
        await NotifyPreference.insert(NotifyPreference(account=account_id, channel=channel, sms_opt_out=sms_opt_out))


async def receivable(account_id: int, event: str) -> list[str]:
    """The outside channels this person can receive this event on, in the default order."""
    from backend.wechat import service as wechat
    from backend.wechat import subscribe

    can: list[str] = []
    # "received" is the receipt of the resident's own report: no in-app notice (so no push) carries it.
    if event != "received" and await PushSubscription.exists().where(PushSubscription.account == account_id):
        can.append("push")
    cfg = wechat.config()
    if cfg is not None and await subscribe.can_reach(cfg, account_id, event):  # subscribed, or a template message
        can.append("wechat")
    if event in SMS_EVENTS and not (await preference(account_id))["sms_opt_out"]:
        if await Account.exists().where((Account.id == account_id) & Account.phone.is_not_null()):
            can.append("sms")
    return can


async def choose_channel(account_id: int, event: str) -> str | None:
    can = await receivable(account_id, event)
    wanted = (await preference(account_id))["channel"]
    if wanted in can:
        return str(wanted)
    return can[0] if can else None


async def deliver(account_id: int, event: str, code: str, status_label: str = "") -> str:
    """Send one event through the person's channel; record it. Returns the channel ("none" if none)."""
    from backend.wechat import service as wechat
    from backend.wechat import subscribe

    channel = await choose_channel(account_id, event) or "none"
    ok, detail = True, ""
    url = f"{get_settings().base_url}/r/{code}"
    try:
        if channel == "wechat":
            cfg = wechat.config()
            assert cfg is not None  # receivable() checked it
            detail = await subscribe.notify(cfg, account_id, event, EVENT_TITLES.get(event, event), code,
                                            status_label or EVENT_TITLES.get(event, event), url)
        elif channel == "sms":
            phone = await Account.select(Account.phone).where(Account.id == account_id).first()
            await get_gateway().send_notice(phone["phone"], event, {"code": code})
        elif channel == "push":
            detail = "with the in-app notice"  # Web Push already went out with the notification itself
    except (wechat.WechatError, SmsError) as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"[:200]
        log.warning("delivery of %s to account %s by %s failed: %s", event, account_id, channel, exc)
    await Delivery.insert(Delivery(account=account_id, channel=channel, event=event, request_code=code[:40], ok=ok,
                                   detail=detail))
    return channel


async def reach_reporter(result: TransitionResult) -> None:
    """Transition hook: after the commit, one job tells the resident through their channel."""
    from backend.jobs import enqueue

    event = "received" if result.action == "submit" else EVENT_OF_STATUS.get(result.to_status)
    if not event or not result.reporter or result.from_status == result.to_status:
        return
    # A resident's own steps are not announced back to them — except the receipts of their report and rating.
    if result.actor_id == result.reporter and event not in ("received", "reopened"):
        return
    await on_commit(partial(enqueue, DELIVER_JOB, result.reporter, event, result.code,
                            job_id=f"deliver:{result.request_id}:{result.version}"))
