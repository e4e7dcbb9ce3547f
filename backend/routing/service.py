"""Routing rules: where a new request lands, who the named person of a unit is, where escalation goes."""

from __future__ import annotations

from dataclasses import dataclass

from backend.accounts.tables import Membership, Role
from backend.db import fetch_prepared
from backend.errors import DomainError
from backend.i18n import N_
from backend.organisation.tables import Unit, UnitKind
from backend.routing.tables import Category, CategoryDuty, Level


@dataclass(frozen=True)
class Placement:
    unit_id: int
    person_id: int | None
    level: str


# Placement runs per submission: its reads are prepared once per connection (fetch_prepared), where building
# the Piccolo query cost more than running it.
_MEMBERS_OF_UNIT = ("SELECT m.account, m.role, m.designated FROM membership m JOIN account a ON a.id = m.account "
                    "WHERE m.unit = $1 AND a.active ORDER BY m.id")
# A community's default grid (where a report placed by its community alone goes): its first active grid. A
# template for the community's id, so that the report form's community look-up can read it along (reporting).
FIRST_GRID_OF = ("SELECT g.id FROM unit g WHERE g.parent = {} AND g.kind = 'grid' AND g.active "
                 "ORDER BY g.sort, g.id LIMIT 1")
_FIRST_GRID = FIRST_GRID_OF.format("$1")


# Members who never handle requests: admins, assessors, and the 居务监督委员会 (residents elected to supervise the
# community's affairs; they review its notices, they are not its staff).
NOT_HANDLERS = frozenset({Role.admin.value, Role.assessor.value, Role.supervisor.value})


async def designated_person(unit_id: int, *prefer_roles: Role) -> int | None:
    """The unit's named handler: its designated member, else its head, else any member."""
    rows = await fetch_prepared(_MEMBERS_OF_UNIT, unit_id)
    if not rows:
        return None
    preferred = {r.value for r in prefer_roles}
    for pick in (
        lambda r: r["designated"] and (not preferred or r["role"] in preferred),
        lambda r: r["designated"],
        lambda r: r["role"] == Role.unit_head.value,
        lambda r: r["role"] not in NOT_HANDLERS,
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
    rows = await fetch_prepared(_FIRST_GRID, community_id)
    return rows[0]["id"] if rows else None


async def initial_placement(category: Category, community: Unit, grid_id: int | None) -> Placement:
    """A new request lands at its community with its grid's worker, unless its category sends it higher."""
    level = category.default_level
    if level == Level.street.value:
        street_id = community.parent
        person = await designated_person(street_id, Role.street_staff)
        if person is not None:
            return Placement(street_id, person, Level.street.value)
        level = Level.district.value  # an unstaffed street: the command center takes it
    if level == Level.district.value:
        cc = await command_center()
        return Placement(cc.id, await designated_person(cc.id, Role.dispatcher), Level.district.value)
    person = await designated_person(grid_id, Role.grid_worker) if grid_id else None
    if person is None:
        person = await designated_person(community.id, Role.community_staff)
    if person is None:
        # A community nobody staffs yet: its street takes it, else the command center, so that the
        # request still has a named person from its first moment.
        street_person = await designated_person(community.parent, Role.street_staff) if community.parent else None
        if street_person is not None:
            return Placement(community.parent, street_person, Level.street.value)
        cc = await command_center()
        return Placement(cc.id, await designated_person(cc.id, Role.dispatcher), Level.district.value)
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


# ---------------------------------------------------------------- the category → handling matrix

LEVEL_LABELS: dict[str, str] = {
    Level.community.value: "社区/网格",
    Level.street.value: "街道",
    Level.district.value: "区级指挥中心",
}
DUTY_KINDS = (UnitKind.department.value, UnitKind.section.value)


class RoutingError(DomainError, ValueError):
    """Bad input to a routing rule: a message for the user and the form field it concerns."""


@dataclass
class CategoryRule:
    id: int
    code: str
    name: str
    icon: str
    default_level: str
    active: bool
    duty_unit_ids: list[int]
    duty_names: list[str]

    @property
    def level_label(self) -> str:
        return LEVEL_LABELS.get(self.default_level, self.default_level)


async def duty_candidates() -> list[dict]:
    """Departments and their sections, in tree order, with a label naming the department too."""
    rows = (
        await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.code, Unit.parent.name)
        .where(Unit.kind.is_in(list(DUTY_KINDS)) & (Unit.active == True))
        .order_by(Unit.path)
    )
    for r in rows:
        r["label"] = f"{r['parent.name']}{r['name']}" if r["kind"] == UnitKind.section.value else r["name"]
    return rows


async def category_matrix() -> list[CategoryRule]:
    cats = await Category.select().order_by(Category.sort, Category.id)
    duties = await CategoryDuty.select(
        CategoryDuty.category,
        CategoryDuty.unit,
        CategoryDuty.unit.name,
        CategoryDuty.unit.kind,
        CategoryDuty.unit.parent.name,
    ).order_by(CategoryDuty.id)
    by_cat: dict[int, list[dict]] = {}
    for d in duties:
        by_cat.setdefault(d["category"], []).append(d)
    out = []
    for c in cats:
        ds = by_cat.get(c["id"], [])
        out.append(
            CategoryRule(
                c["id"],
                c["code"],
                c["name"],
                c["icon"],
                c["default_level"],
                c["active"],
                [d["unit"] for d in ds],
                [
                    (d["unit.parent.name"] or "") + d["unit.name"]
                    if d["unit.kind"] == UnitKind.section.value
                    else d["unit.name"]
                    for d in ds
                ],
            )
        )
    return out


async def set_category_rule(category_id: int, level: str, duty_unit_ids: list[int]) -> None:
    """Replace a category's default level and duty units; refuses bad input and then changes nothing."""
    from backend.db import write_transaction

    if level not in LEVEL_LABELS:
        raise RoutingError(N_("请选择默认办理层级（社区/网格、街道或区级）"), "level")
    wanted = list(dict.fromkeys(duty_unit_ids))
    if len(wanted) > 20:
        raise RoutingError(N_("责任部门最多 20 个"), "duties")
    async with write_transaction():
        if not await Category.exists().where(Category.id == category_id):
            raise RoutingError(N_("类别不存在"), "category", 404)
        if wanted:
            found = await Unit.select(Unit.id).where(
                Unit.id.is_in(wanted) & Unit.kind.is_in(list(DUTY_KINDS)) & (Unit.active == True)
            )
            if len(found) != len(wanted):
                raise RoutingError(N_("责任单位只能选择职能部门或其科室"), "duties")
        await Category.update({Category.default_level: level}).where(Category.id == category_id)
        await CategoryDuty.delete().where(CategoryDuty.category == category_id)
        for unit_id in wanted:
            await CategoryDuty(category=category_id, unit=unit_id).save()


# ---------------------------------------------------------------- dispatch: jurisdiction and duty


@dataclass
class UnitChoice:
    id: int
    name: str
    kind: str
    why: str  # "jurisdiction" | "duty" | "other"
    person_id: int | None
    members: list[dict]  # [{"id", "name", "title"}]


@dataclass
class DispatchOptions:
    jurisdiction: list[UnitChoice]
    duty: list[UnitChoice]
    others: list[UnitChoice]
    suggested_lead: int | None
    suggested_assists: list[int]

    def all(self) -> list[UnitChoice]:
        return [*self.jurisdiction, *self.duty, *self.others]


async def unit_members(unit_ids: list[int]) -> dict[int, list[dict]]:
    """Active handling staff of each unit (for picking a named person)."""
    if not unit_ids:
        return {}
    rows = (
        await Membership.select(
            Membership.unit,
            Membership.account,
            Membership.account.name,
            Membership.account.public_title,
            Membership.role,
        )
        .where(
            Membership.unit.is_in(unit_ids)
            & (Membership.account.active == True)
            & Membership.role.not_in(list(NOT_HANDLERS))
        )
        .order_by(Membership.id)
    )
    out: dict[int, list[dict]] = {}
    for r in rows:
        people = out.setdefault(r["unit"], [])
        if all(p["id"] != r["account"] for p in people):
            people.append({"id": r["account"], "name": r["account.name"], "title": r["account.public_title"]})
    return out


async def dispatch_options(street_id: int | None, community_id: int | None, category_id: int) -> DispatchOptions:
    """Units the command center may choose: by jurisdiction (the place's street and community), by duty
    (the category's departments and sections), then every other street and department.

    The rule's suggestion: the place's street leads (jurisdiction), the duty units assist; a place
    without a street is led by the first duty unit.
    """
    place_ids = [u for u in (street_id, community_id) if u]
    duty_ids = [u for u in await duty_units(category_id) if u not in place_ids]
    units = (
        await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.sort, Unit.parent.name, Unit.parent.sort)
        .where(Unit.kind.is_in([UnitKind.street.value, *DUTY_KINDS]) | Unit.id.is_in(place_ids or [0]))
        .where(Unit.active == True)
    )
    # Streets first, then each department followed by its sections (paths sort as text, so not by path).
    units.sort(
        key=lambda u: (
            u["kind"] != UnitKind.street.value,
            u["parent.sort"] if u["kind"] == UnitKind.section.value else u["sort"],
            u["kind"] == UnitKind.section.value,
            u["sort"],
            u["id"],
        )
    )
    members = await unit_members([u["id"] for u in units])
    by_id = {u["id"]: u for u in units}

    async def choice(unit_id: int, why: str) -> UnitChoice:
        u = by_id[unit_id]
        name = (u["parent.name"] or "") + u["name"] if u["kind"] == UnitKind.section.value else u["name"]
        return UnitChoice(unit_id, name, u["kind"], why, await designated_person(unit_id), members.get(unit_id, []))

    jurisdiction = [await choice(u, "jurisdiction") for u in place_ids if u in by_id]
    duty = [await choice(u, "duty") for u in duty_ids if u in by_id]
    taken = {c.id for c in (*jurisdiction, *duty)}
    others = [await choice(u["id"], "other") for u in units if u["id"] not in taken]
    lead = street_id if street_id in by_id else (duty[0].id if duty else None)
    assists = [c.id for c in duty if c.id != lead]
    return DispatchOptions(jurisdiction, duty, others, lead, assists)


async def member_of(person_id: int, unit_id: int) -> bool:
    return await Membership.exists().where(
        (Membership.account == person_id)
        & (Membership.unit == unit_id)
        & (Membership.account.active == True)
        & Membership.role.not_in(list(NOT_HANDLERS))
    )


# ---------------------------------------------------------------- boundaries (admin)


async def set_boundary(unit_id: int, geojson_text: str) -> None:
    """Store a street/community/grid boundary after checking it is a valid polygon, then tell every
    process to rebuild its jurisdiction index."""
    import json

    from shapely.geometry import shape

    from backend.routing.geo import boundaries_changed

    unit = await Unit.objects().where(Unit.id == unit_id).first()
    if unit is None or unit.kind not in (UnitKind.street.value, UnitKind.community.value, UnitKind.grid.value):
        raise RoutingError(N_("只能为街道、社区或网格设置边界"), "unit")
    text = (geojson_text or "").strip()
    if not text:
        raise RoutingError(N_("请填写边界（GeoJSON 多边形）"), "boundary")
    if len(text) > 200_000:
        raise RoutingError(N_("边界数据过大"), "boundary")
    try:
        data = json.loads(text)
        if isinstance(data, dict) and data.get("type") == "Feature":
            data = data.get("geometry")
        geom = shape(data)
    except Exception as exc:  # any parse or shape error is the user's input, not our bug
        raise RoutingError(N_("边界不是有效的 GeoJSON"), "boundary") from exc
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise RoutingError(N_("边界必须是多边形（Polygon 或 MultiPolygon）"), "boundary")
    if not geom.is_valid:
        raise RoutingError(N_("边界多边形自相交或不闭合，请检查坐标"), "boundary")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise RoutingError(N_("坐标应为经度、纬度（WGS84）"), "boundary")
    await Unit.update({Unit.boundary: json.dumps(geom.__geo_interface__)}).where(Unit.id == unit_id)
    await boundaries_changed()
