"""In-app notifications (always), the base under Web Push (where the browser has it)."""

from __future__ import annotations

from piccolo.columns import JSONB, Boolean, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account


class Notification(Table):
    account = ForeignKey(Account, index=True)
    kind = Varchar(length=40, default="")
    title = Varchar(length=120)  # a notice without a key (free text); empty when ``key`` is set
    body = Varchar(length=500, default="")
    url = Varchar(length=300, default="")
    read = Boolean(default=False, index=True)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
    # Rendered at display time in the reader's language: the title's key (a Chinese msgid) and its parameters
    # (``body_key`` names the body's msgid). ``body`` keeps a person's own words (a handler's result).
    key = Varchar(length=120, default="")
    params = JSONB(default={})


class PushSubscription(Table):
    """A browser's Web Push subscription for an account (one account may have several devices)."""

    account = ForeignKey(Account, index=True)
    endpoint = Varchar(length=1000, unique=True)
    p256dh = Varchar(length=200)
    auth = Varchar(length=100)
    user_agent = Varchar(length=300, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    last_ok_at = Timestamptz(null=True, default=None)


class NotifyPreference(Table):
    """How a person wants to hear about their requests outside the app (issue 23). No row = "auto"."""

    account = ForeignKey(Account, unique=True)
    channel = Varchar(length=10, default="auto")  # auto | push | wechat | sms
    sms_opt_out = Boolean(default=False)


class Delivery(Table):
    """What was sent outside the app, through which channel, and whether it went (issue 23)."""

    account = ForeignKey(Account, index=True)
    channel = Varchar(length=10)  # push | wechat | sms | none
    event = Varchar(length=20)
    request_code = Varchar(length=40, default="")
    ok = Boolean(default=True)
    detail = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow(), index=True)
