"""The unit tree: create units with their materialised path, read subtrees, find by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backend.errors import DomainError
from backend.i18n import N_
from backend.organisation.tables import Unit, UnitKind

if TYPE_CHECKING:
    from backend.accounts.service import Viewer

# The roles that act for the district command center (dispatch, supervise lights, phone red-lit units).
COMMAND_CENTER_ROLES = frozenset({"dispatcher", "unit_head"})

# Which kinds may hang under which: the tree's shape is a rule, not a convention.
ALLOWED_PARENT: dict[str, set[str | None]] = {
    UnitKind.district: {None},
    UnitKind.street: {UnitKind.district},
    UnitKind.community: {UnitKind.street},
    UnitKind.grid: {UnitKind.community},
    UnitKind.command_center: {UnitKind.district},
    UnitKind.department: {UnitKind.district},
    UnitKind.section: {UnitKind.department},
    UnitKind.office: {UnitKind.district},
}

KIND_LABELS = {
    "district": "区",
    "street": "街道",
    "community": "社区",
    "grid": "网格",
    "command_center": "指挥中心",
    "department": "职能部门",
    "section": "科室",
    "office": "机关部门",
}


def is_command_center_staff(viewer: Viewer | None) -> bool:
    """The one definition of "this person acts for the command center": a staff member with a dispatcher
    or unit-head membership of the command center (the district has one)."""
    return viewer is not None and viewer.is_staff and any(
        m.unit_kind == UnitKind.command_center.value and m.role in COMMAND_CENTER_ROLES for m in viewer.memberships)


class UnitError(DomainError, ValueError):
    pass


async def create_unit(
    *, name: str, kind: str, code: str, parent_id: int | None = None, boundary: str | None = None,
    name_en: str = "", sort: int = 0,
) -> Unit:
    name = name.strip()
    code = code.strip()
    if not name or len(name) > 100:
        raise UnitError(N_("请填写单位名称（100 字以内）"), "name")
    if kind not in {k.value for k in UnitKind}:
        raise UnitError(N_("未知的单位类型"), "kind")
    if not code or len(code) > 40:
        raise UnitError(N_("请填写单位代码（40 字以内）"), "code")
    if await Unit.exists().where(Unit.code == code):
        raise UnitError(N_("单位代码已存在"), "code")
    parent = await Unit.objects().where(Unit.id == parent_id).first() if parent_id else None
    if parent_id and parent is None:
        raise UnitError(N_("上级单位不存在"), "parent")
    parent_kind = parent.kind if parent else None
    if parent_kind not in ALLOWED_PARENT[UnitKind(kind)]:
        raise UnitError(N_("{kind}不能设在{parent}之下"), "parent", kind=KIND_LABELS[kind],
                        parent=KIND_LABELS.get(parent_kind or "", N_("顶层")))
    unit = Unit(name=name, name_en=name_en, kind=kind, parent=parent_id, code=code, boundary=boundary,
                depth=(parent.depth + 1) if parent else 0, sort=sort, path="")
    await unit.save()
    unit.path = (parent.path if parent else "/") + f"{unit.id}/"
    await Unit.update({Unit.path: unit.path}).where(Unit.id == unit.id)
    return unit


@dataclass
class UnitNode:
    id: int
    name: str
    kind: str
    code: str
    depth: int
    path: str
    active: bool

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


async def unit_tree(root_path: str = "/") -> list[UnitNode]:
    """All units under ``root_path``, in tree order (depth-first by path, then sort)."""
    rows = await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.code, Unit.depth, Unit.path, Unit.sort,
                             Unit.active).where(Unit.path.like(root_path + "%"))
    by_parent: dict[str, list[dict]] = {}
    for r in rows:
        parent_path = r["path"].rsplit("/", 2)[0] + "/"
        by_parent.setdefault(parent_path, []).append(r)
    out: list[UnitNode] = []

    def walk(path: str) -> None:
        for r in sorted(by_parent.get(path, []), key=lambda x: (x["sort"], x["id"])):
            out.append(UnitNode(r["id"], r["name"], r["kind"], r["code"], r["depth"], r["path"], r["active"]))
            walk(r["path"])

    walk(root_path if root_path != "/" else "/")
    return out


async def units_of_kind(*kinds: str) -> list[Unit]:
    return await Unit.objects().where(Unit.kind.is_in(list(kinds))).order_by(Unit.path)


async def unit_by_code(code: str) -> Unit | None:
    return await Unit.objects().where(Unit.code == code).first()
