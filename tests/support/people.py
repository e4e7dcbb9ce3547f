"""Load demo people as Viewers for service-level tests."""

from __future__ import annotations

from backend.accounts.service import Viewer, load_viewer, resident_for_phone
from backend.accounts.tables import Account
from backend.organisation.tables import Unit
from tests.support.factories import fresh_phone


async def staff(username: str) -> Viewer:
    acc = await Account.objects().where(Account.username == username).first()
    assert acc is not None, username
    viewer = await load_viewer(acc.id)
    assert viewer is not None
    return viewer


async def resident(phone: str | None = None) -> Viewer:
    acc = await resident_for_phone(phone or fresh_phone())
    viewer = await load_viewer(acc.id)
    assert viewer is not None
    return viewer


async def unit(code: str) -> Unit:
    u = await Unit.objects().where(Unit.code == code).first()
    assert u is not None, code
    return u
