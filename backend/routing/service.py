"""Routing rules: where a new request lands, who the named person of a unit is, where escalation goes."""

from __future__ import annotations

from dataclasses import dataclass

from backend.accounts.tables import Membership, Role
from backend.organisation.tables import Unit, UnitKind
from backend.routing.tables import Category, CategoryDuty, Level


@dataclass(frozen=True)
class Placement:
    unit_id: int
    person_id: int | None
    level: str


async def designated_person(unit_id: int, *prefer_roles: Role) -> int | None:
    """The unit's named handler: its designated member, else its head, else any member."""
    rows = await Membership.select(Membership.account, Membership.role, Membership.designated).where(
        (Membership.unit == unit_id) & (Membership.account.active == True)
    ).order_by(Membership.id)
    if not rows:
        return None
    preferred = {r.value for r in prefer_roles}
    for pick in (
        lambda r: r["designated"] and (not preferred or r["role"] in preferred),
        lambda r: r["designated"],
        lambda r: r["role"] == Role.unit_head.value,
        lambda r: r["role"] != Role.admin.value and r["role"] != Role.assessor.value,
    ):
        for r in rows:
            if pick(r):
                return r["account"]
    return None


async def command_center() -> Unit:
    unit = await Unit.objects().where(Unit.kind == UnitKind.command_center.value).order_by(Unit.id).first()
    assert unit is not None, "the district has a command center"
    return unit


async def default_grid(community_id: int) -> int | None:
    row = await Unit.select(Unit.id).where(
        (Unit.parent == community_id) & (Unit.kind == UnitKind.grid.value) & (Unit.active == True)
    ).order_by(Unit.sort, Unit.id).first()
    return row["id"] if row else None


async def initial_placement(category: Category, community: Unit, grid_id: int | None) -> Placement:
    """A new request lands at its community with its grid's worker, unless its category sends it higher."""
    level = category.default_level
    if level == Level.street.value:
        street_id = community.parent
        return Placement(street_id, await designated_person(street_id, Role.street_staff), Level.street.value)
    if level == Level.district.value:
        cc = await command_center()
        return Placement(cc.id, await designated_person(cc.id, Role.dispatcher), Level.district.value)
    person = await designated_person(grid_id, Role.grid_worker) if grid_id else None
    if person is None:
        person = await designated_person(community.id, Role.community_staff)
    return Placement(community.id, person, Level.community.value)


async def escalation_target(current_unit: Unit, request_street_id: int | None) -> Placement | None:
    """Community → its street; street → the district command center; nothing above that."""
    if current_unit.kind in (UnitKind.community.value, UnitKind.grid.value):
        street_id = request_street_id or current_unit.parent
        return Placement(street_id, await designated_person(street_id, Role.street_staff), Level.street.value)
    if current_unit.kind == UnitKind.street.value:
        cc = await command_center()
        return Placement(cc.id, await designated_person(cc.id, Role.dispatcher), Level.district.value)
    return None


async def duty_units(category_id: int) -> list[int]:
    rows = await CategoryDuty.select(CategoryDuty.unit).where(CategoryDuty.category == category_id)
    return [r["unit"] for r in rows]
