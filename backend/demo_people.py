"""The demo's staff accounts and memberships, made once however often a demo loader runs.

A leaf the demo loaders share (backend/demo.py, its history, each domain's demo), so a domain's demo need
not import the loader that calls it.
"""

from __future__ import annotations

from backend.accounts.tables import Account, AccountKind, Membership
from backend.organisation.tables import Unit

DEMO_PASSWORD = "demo1234"


async def demo_staff(username: str, name: str, title: str, password_hash: str) -> Account:
    found = await Account.objects().where(Account.username == username).first()
    if found is not None:
        return found
    acc = Account(kind=AccountKind.staff.value, username=username, name=name, public_title=title,
                  password_hash=password_hash)
    await acc.save()
    return acc


async def demo_member(account: Account, unit: Unit, role: str, designated: bool) -> None:
    if not await Membership.exists().where(
        (Membership.account == account.id) & (Membership.unit == unit.id) & (Membership.role == role)
    ):
        await Membership(account=account.id, unit=unit.id, role=role, designated=designated).save()
