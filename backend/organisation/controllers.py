"""Admin pages: units, staff accounts and memberships, party-member verification."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.params import Body
from litestar.response import Redirect

from backend.accounts import throttle
from backend.accounts.service import (
    ROLE_LABELS,
    AuthError,
    PermissionDenied,
    add_membership,
    create_staff,
    remove_membership,
    set_party_member,
)
from backend.accounts.tables import Account, AccountKind, Membership, Role
from backend.errors import DomainError
from backend.i18n import N_
from backend.i18n import gettext as _
from backend.organisation.service import KIND_LABELS, create_unit, unit_tree
from backend.organisation.tables import Unit
from backend.settings import get_settings
from backend.web.errors import FORM, FormPage
from backend.web.flash import flash
from backend.web.forms import form_int
from backend.web.guards import admin_only, roles, viewer_of
from backend.web.render import page

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass(frozen=True)
class UnitForm:
    name: str
    kind: str
    code: str
    parent: int | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> UnitForm:
        return cls(name=str(data.get("name", "")), kind=str(data.get("kind", "")), code=str(data.get("code", "")),
                   parent=form_int(data.get("parent")))


@dataclass(frozen=True)
class StaffForm:
    username: str
    name: str
    password: str
    public_title: str
    unit: int | None
    role: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> StaffForm:
        return cls(username=str(data.get("username", "")), name=str(data.get("name", "")),
                   password=str(data.get("password", "")), public_title=str(data.get("public_title", "")),
                   unit=form_int(data.get("unit")), role=str(data.get("role", "")))


async def units_again(request: Request, exc: DomainError) -> Response:
    return await AdminController._units_page(request, dict(await request.form()), exc.field_errors("name"),
                                             status=400)


def accounts_again(field: str) -> FormPage:
    """The staff page again with the refusal under ``field`` (the new account's form, or a membership's)."""

    async def reshow(request: Request, exc: DomainError) -> Response:
        typed = dict(await request.form()) if field == "username" else {}
        return await AdminController._accounts_page(request, "", typed, {field: exc.message}, status=400)

    return reshow


class AdminController(Controller):
    path = "/admin"

    @get("/", guards=[admin_only])
    async def index(self, request: Request) -> Response:
        from backend.demo_history import history_progress

        # The demo year the worker is still making (demo mode only): its progress, read from the database.
        history = await history_progress() if get_settings().demo_mode else None
        return page(request, "admin/index.html", {"history": history})

    @get("/units", guards=[admin_only])
    async def units(self, request: Request) -> Response:
        return await self._units_page(request, {}, {})

    @staticmethod
    async def _units_page(request: Request, form: dict, errors: dict, status: int = 200) -> Response:
        tree = await unit_tree()
        return page(request, "admin/units.html",
                    {"tree": tree, "kinds": KIND_LABELS, "form": form, "errors": errors}, status_code=status)

    @post("/units", guards=[admin_only], opt={FORM: units_again})
    async def create_unit(self, request: Request, data: Form) -> Response:
        form = UnitForm.of(data)
        await create_unit(name=form.name, kind=form.kind, code=form.code, parent_id=form.parent)
        flash(request, N_("单位已添加"))
        return Redirect("/admin/units", status_code=303)

    @get("/accounts", guards=[admin_only])
    async def accounts(self, request: Request, q: str = "") -> Response:
        return await self._accounts_page(request, q, {}, {})

    @staticmethod
    async def _accounts_page(request: Request, q: str, form: dict, errors: dict, status: int = 200) -> Response:
        query = Account.objects().where(Account.kind == AccountKind.staff.value).order_by(Account.id)
        if q:
            query = query.where(Account.username.ilike(f"%{q}%") | Account.name.ilike(f"%{q}%"))
        staff = await query.limit(200)
        rows = await Membership.select(Membership.id, Membership.account, Membership.role,
                                       Membership.unit.name, Membership.designated).where(
            Membership.account.is_in([a.id for a in staff] or [0]))
        by_account: dict[int, list[dict]] = {}
        for r in rows:
            by_account.setdefault(r["account"], []).append(r)
        units = await Unit.select(Unit.id, Unit.name, Unit.kind, Unit.depth).order_by(Unit.path)
        return page(request, "admin/accounts.html",
                    {"staff": staff, "memberships": by_account, "units": units, "roles": ROLE_LABELS,
                     "q": q, "form": form, "errors": errors}, status_code=status)

    @post("/accounts", guards=[admin_only], opt={FORM: accounts_again("username")})
    async def create_account(self, request: Request, data: Form) -> Response:
        form = StaffForm.of(data)
        if form.unit is None or form.role not in ROLE_LABELS:
            return await self._accounts_page(request, "", data, {"unit": _("请选择单位和角色")}, status=400)
        acc = await create_staff(username=form.username, name=form.name, password=form.password,
                                 public_title=form.public_title)
        await add_membership(acc.id, form.unit, form.role)
        flash(request, N_("工作人员账号已创建"))
        # Shown on its own (the full list is long): the admin sees the new account and its role at once.
        return Redirect(f"/admin/accounts?{urlencode({'q': acc.username})}", status_code=303)

    @post("/accounts/{account_id:int}/memberships", guards=[admin_only], opt={FORM: accounts_again("membership")})
    async def add_member(self, request: Request, account_id: int, data: Form) -> Response:
        unit_id = form_int(data.get("unit"))
        if unit_id is None:
            raise AuthError(N_("请选择单位"))
        await add_membership(account_id, unit_id, str(data.get("role", "")), designated=data.get("designated") == "1")
        flash(request, N_("角色已添加"))
        return Redirect("/admin/accounts", status_code=303)

    @post("/memberships/{membership_id:int}/delete", guards=[admin_only])
    async def delete_member(self, request: Request, membership_id: int) -> Redirect:
        await remove_membership(membership_id)
        flash(request, N_("角色已移除"))
        return Redirect("/admin/accounts", status_code=303)

    @get("/party-members", guards=[roles(Role.admin, Role.assessor)])
    async def party_members(self, request: Request, phone: str = "") -> Response:
        found = None
        if phone:
            found = await Account.objects().where(Account.phone == phone.strip()).first()
        members = await Account.objects().where(Account.is_party_member == True).order_by(Account.id).limit(500)
        return page(request, "admin/party_members.html", {"members": members, "found": found, "phone": phone})

    @post("/party-members/{account_id:int}", guards=[roles(Role.admin, Role.assessor)])
    async def set_party(self, request: Request, account_id: int, data: Form) -> Redirect:
        viewer = viewer_of(request)
        assert viewer is not None
        if not await Account.exists().where(Account.id == account_id):
            raise NotFoundException("账号不存在")
        try:
            await set_party_member(viewer, account_id, data.get("value") == "1")
        except PermissionDenied as exc:
            raise PermissionDeniedException(str(exc)) from exc
        flash(request, N_("已认定为党员") if data.get("value") == "1" else N_("已取消党员认定"))
        return Redirect("/admin/party-members", status_code=303)

    @get("/lockouts", guards=[admin_only])
    async def lockouts(self, request: Request) -> Response:
        """Staff accounts with failed sign-ins: how many, whether unknown devices are slowed, locked sources."""
        return page(request, "admin/lockouts.html", {"rows": await throttle.lockouts()})

    @post("/lockouts/lift", guards=[admin_only])
    async def lift_lockout(self, request: Request, data: Form) -> Redirect:
        username = str(data.get("username") or "").strip()
        if not username:
            raise ValidationException("请选择账号")
        await throttle.lift(username)
        flash(request, N_("已解除 {username} 的登录锁定"), username=username)
        return Redirect("/admin/lockouts", status_code=303)
