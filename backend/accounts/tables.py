"""Accounts (residents by phone, staff by username) and staff memberships (unit + role)."""

from __future__ import annotations

from enum import Enum

from piccolo.columns import Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.organisation.tables import Unit


class AccountKind(str, Enum):
    resident = "resident"
    staff = "staff"


class Role(str, Enum):
    grid_worker = "grid_worker"
    community_staff = "community_staff"
    street_staff = "street_staff"
    dispatcher = "dispatcher"
    department_staff = "department_staff"
    unit_head = "unit_head"
    assessor = "assessor"
    admin = "admin"
    supervisor = "supervisor"  # 居务监督委员会: reviews the community's public notices before publication


class Account(Table):
    kind = Varchar(length=10, choices=AccountKind, index=True)
    phone = Varchar(length=20, null=True, default=None, unique=True)
    username = Varchar(length=50, null=True, default=None, unique=True)
    password_hash = Varchar(length=255, default="")
    name = Varchar(length=50, default="")
    # How the unit publishes this person to residents, e.g. "网格员".
    public_title = Varchar(length=50, default="")
    is_party_member = Boolean(default=False)
    party_verified_by = Integer(null=True, default=None)
    party_verified_at = Timestamptz(null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    last_login_at = Timestamptz(null=True, default=None)


class Membership(Table):
    account = ForeignKey(Account, index=True)
    unit = ForeignKey(Unit, index=True)
    role = Varchar(length=30, choices=Role)
    # The unit's designated handler: the named person new work goes to (default: the head).
    designated = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())
