"""Helpers for the micro-wish tests: photos, people, a published wish."""

from __future__ import annotations

import io

from PIL import Image

from backend.accounts.service import Viewer, load_viewer, resident_for_phone
from backend.accounts.tables import Account
from backend.wishes import posting as service
from backend.wishes.checks import WishInput
from tests.support.factories import fresh_phone, unique
from tests.support.people import staff, unit

NAME, ADDRESS = "闫大山", "桃园北路 18 号 3 单元 502"


def jpeg_with_exif(size: tuple[int, int] = (2400, 1800)) -> bytes:
    img = Image.new("RGB", size, (200, 60, 60))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "GPS-LEAK-SOFTWARE"  # Software
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


async def party_member(phone: str | None = None) -> Viewer:
    acc = await resident_for_phone(phone or fresh_phone())
    await Account.update({Account.is_party_member: True}).where(Account.id == acc.id)
    viewer = await load_viewer(acc.id)
    assert viewer is not None and viewer.is_party_member
    return viewer


async def resident_viewer(phone: str | None = None) -> Viewer:
    acc = await resident_for_phone(phone or fresh_phone())
    viewer = await load_viewer(acc.id)
    assert viewer is not None
    return viewer


def wish_input(community_id: int, *, title: str | None = None, phone: str | None = None, **kw) -> WishInput:
    return WishInput(title=title or unique("一根助行拐杖"), story="脑瘫患者，行走不便，希望有一根结实的拐杖。",
                     group=kw.pop("group", "disabled"), value=kw.pop("value", "120"), community_id=community_id,
                     beneficiary_name=NAME, beneficiary_phone=phone or fresh_phone(),
                     beneficiary_address=ADDRESS, honorific="male", **kw)


async def published_wish(code: str = "LX-1", owner: Viewer | None = None, **kw) -> int:
    """A wish drafted by ``owner`` (a fresh resident by default) and approved by the community's staff."""
    community = await unit(code)
    owner = owner or await resident_viewer()
    wish_id = await service.create_wish(owner, wish_input(community.id, **kw))
    await service.approve(await staff("haixi_head" if code == "LX-1" else "admin"), wish_id)
    return wish_id
