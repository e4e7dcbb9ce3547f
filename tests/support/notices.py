"""Shared set-up for notice tests: types by code, drafts published through the real flow."""

from __future__ import annotations

from backend.accounts.service import load_viewer
from backend.accounts.tables import Account, AccountKind, Membership, Role
from backend.notices import service
from backend.notices.tables import NoticeType
from backend.organisation.service import create_unit
from tests.support.factories import unique
from tests.support.people import staff, unit


async def type_id(code: str) -> int:
    row = await NoticeType.select(NoticeType.id).where(NoticeType.code == code).first()
    assert row is not None, code
    return row["id"]


async def published(title: str, *, code: str = "ordinary", period: str = "2026-Q2", body: str = "正文",
                    uploads: list[service.Upload] | None = None, community: str = "LX-1") -> int:
    """A notice of 海西社区 (by default) drafted by its staff, approved by its 居务监督委员会."""
    who, reviewer = ("haixi", "haixi_jw") if community == "LX-1" else ("nanhaijie", "nanhaijie_jw")
    u = await unit(community)
    author = await staff(who)
    notice_id = await service.create_draft(author, u.id, service.NoticeInput(
        type_id=await type_id(code), title=title, body=body, period=period), uploads or [])
    status = await service.submit_version(author, notice_id)
    if status == "review":
        await service.review(await staff(reviewer), notice_id, "approve")
    return notice_id


async def community_with_staff() -> tuple[int, object, object]:
    """A fresh community of 柳巷街道 with its own staff member and 居务监督委员会 member."""
    street = await unit("LX")
    c = await create_unit(name=unique("测试社区"), kind="community", code=unique("T-"), parent_id=street.id)
    people = []
    for role in (Role.community_staff, Role.supervisor):
        acc = Account(kind=AccountKind.staff.value, username=unique("u"), name="测试")
        await acc.save()
        await Membership(account=acc.id, unit=c.id, role=role.value).save()
        people.append(await load_viewer(acc.id))
    return c.id, people[0], people[1]
