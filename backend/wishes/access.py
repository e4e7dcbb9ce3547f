"""Who may do what with a wish: the communities a staff member manages, who confirms; loading a wish.
"""

from __future__ import annotations

from datetime import datetime

from backend.accounts.service import Viewer
from backend.db import aware, utcnow
from backend.organisation.tables import Unit, UnitKind
from backend.wishes.rows import ClaimRow, CommunityRow, WishRow
from backend.wishes.rules import MANAGING_ROLES, NotFound
from backend.wishes.tables import (
    Claim,
    Wish,
)


async def communities() -> list[CommunityRow]:
    return await Unit.select(Unit.id, Unit.name, Unit.path, Unit.parent.name.as_alias("street")).where(
        (Unit.kind == UnitKind.community.value) & (Unit.active == True)
    ).order_by(Unit.path)


async def community_names() -> dict[int, str]:
    return {r["id"]: r["name"] for r in await communities()}


async def community_path(unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    row = await Unit.select(Unit.path).where(
        (Unit.id == unit_id) & (Unit.kind == UnitKind.community.value)).first()
    return row["path"] if row else None


def manages(viewer: Viewer | None, community_path: str) -> bool:
    """Community staff / unit heads covering the wish's community (and admins) verify and manage it."""
    return bool(viewer and viewer.is_staff and viewer.covers(community_path, *MANAGING_ROLES))


async def managed_communities(viewer: Viewer) -> list[CommunityRow]:
    return [c for c in await communities() if manages(viewer, c["path"])]


def now_or(now: datetime | None) -> datetime:
    return aware(now) if now is not None else utcnow()  # type: ignore[return-value]


async def load_wish(wish_id: int) -> WishRow:
    row = await Wish.select(*Wish.all_columns(), Wish.community.path.as_alias("community_path"),
                            Wish.community.name.as_alias("community_name")).where(Wish.id == wish_id).first()
    if row is None:
        raise NotFound("心愿不存在或已被移除")
    return row


async def open_claim_of(wish: WishRow) -> ClaimRow | None:
    if not wish["current_claim"]:
        return None
    return await Claim.select().where(Claim.id == wish["current_claim"]).first()


def can_confirm(viewer: Viewer | None, wish: WishRow) -> bool:
    """The beneficiary (the resident who drafted it) or the community's staff confirm fulfilment."""
    if viewer is None:
        return False
    return (wish["owner"] is not None and viewer.id == wish["owner"]) or manages(viewer, wish["community_path"])
