"""A resident's WeChat identity: the openid of the official account, bound once to their account (phone);
with their consent, the nickname and avatar WeChat gave (snsapi_userinfo); and their consent to subscription
messages (订阅通知), one row per template, as WeChat reported it to the callback."""

from __future__ import annotations

from piccolo.columns import Bytea, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account


class WechatBinding(Table):
    # One openid per account and one account per openid: a binding is changed only by unbinding first.
    account = ForeignKey(Account, unique=True)
    openid = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    # Shown only after the resident agreed (snsapi_userinfo); the avatar is kept here because the strict CSP
    # allows images from this site only (and WeChat's image host would learn who looks at the page).
    nickname = Varchar(length=64, null=True, default=None)
    avatar = Bytea(null=True, default=None)
    profile_at = Timestamptz(null=True, default=None)


class WechatSubscription(Table):
    """The resident's answer for one subscription template: accept (may be sent) or reject; a one-time consent
    that WeChat reports used up (43101 or a failed sent event) is set back to reject."""

    key = Varchar(length=200, unique=True)  # "openid template_id": one row per pair (upserted)
    openid = Varchar(length=64)
    template_id = Varchar(length=128)
    status = Varchar(length=10)  # accept | reject
    scene = Varchar(length=10, default="")
    updated_at = Timestamptz(default=TimestamptzNow())
