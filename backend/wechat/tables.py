"""A resident's WeChat identity: the openid of the official account, bound once to their account (phone)."""

from __future__ import annotations

from piccolo.columns import ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account


class WechatBinding(Table):
    # One openid per account and one account per openid: a binding is changed only by unbinding first.
    account = ForeignKey(Account, unique=True)
    openid = Varchar(length=64, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
