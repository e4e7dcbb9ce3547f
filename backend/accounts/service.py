"""Accounts: staff passwords, resident one-time codes, the signed-in viewer, party-member flag.

No Litestar imports: callable from tests, controllers and jobs alike. Shared state (codes,
counters) lives in Redis so any web process can finish what another began.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from backend.accounts import throttle
from backend.accounts.sms import SmsError, get_gateway
from backend.accounts.tables import Account, AccountKind, Membership, Role
from backend.db import fetch_prepared, utcnow
from backend.errors import DomainError
from backend.i18n import gettext
from backend.organisation.tables import Unit
from backend.redis import hit, redis_client
from backend.settings import get_settings

_hasher = PasswordHasher()
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")

ROLE_LABELS: dict[str, str] = {
    Role.grid_worker: "网格员",
    Role.community_staff: "社区工作人员",
    Role.street_staff: "街道工作人员",
    Role.dispatcher: "指挥中心调度员",
    Role.department_staff: "部门工作人员",
    Role.unit_head: "单位负责人",
    Role.assessor: "考核人员",
    Role.admin: "管理员",
    Role.supervisor: "居务监督委员会成员",
}
# Roles whose scope is the whole district, whatever unit their membership names.
DISTRICT_WIDE_ROLES = {Role.dispatcher.value, Role.assessor.value, Role.admin.value}


class AuthError(DomainError):
    """A refused sign-in step, with a message for the user."""

    def __init__(self, message: str, *, retry_after: int | None = None, **params: object) -> None:
        super().__init__(message, status=429 if retry_after else None, **params)
        self.retry_after = retry_after


# ---------------------------------------------------------------- the viewer


@dataclass(frozen=True)
class MembershipView:
    unit_id: int
    unit_name: str
    unit_kind: str
    unit_path: str
    role: str
    designated: bool

    @property
    def scope_path(self) -> str:
        if self.role in DISTRICT_WIDE_ROLES:
            return "/" + self.unit_path.strip("/").split("/")[0] + "/"
        return self.unit_path

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


@dataclass(frozen=True)
class Viewer:
    """Who is signed in: loaded once per request from the session's account id."""

    id: int
    kind: str
    name: str
    phone: str | None
    username: str | None
    public_title: str
    is_party_member: bool
    memberships: tuple[MembershipView, ...] = ()

    @property
    def is_staff(self) -> bool:
        return self.kind == AccountKind.staff.value and bool(self.memberships)

    @property
    def is_resident(self) -> bool:
        return self.kind == AccountKind.resident.value

    @property
    def roles(self) -> frozenset[str]:
        return frozenset(m.role for m in self.memberships)

    def has_role(self, *roles: str | Role) -> bool:
        wanted = {r.value if isinstance(r, Role) else r for r in roles}
        return bool(self.roles & wanted)

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.admin)

    def covers(self, unit_path: str, *roles: str | Role) -> bool:
        """True if one of the viewer's memberships (optionally with one of ``roles``) covers the unit."""
        wanted = {r.value if isinstance(r, Role) else r for r in roles}
        return any(
            unit_path.startswith(m.scope_path) for m in self.memberships if not wanted or m.role in wanted
        )

    @property
    def scope_paths(self) -> tuple[str, ...]:
        return tuple(sorted({m.scope_path for m in self.memberships}))

    def unit_ids(self, *roles: str | Role) -> tuple[int, ...]:
        wanted = {r.value if isinstance(r, Role) else r for r in roles}
        return tuple(m.unit_id for m in self.memberships if not wanted or m.role in wanted)

    @property
    def display(self) -> str:
        """'Name · role @ unit' for the header, in the reader's language (read while the page renders)."""
        if self.is_staff:
            m = self.memberships[0]
            return f"{self.name} · {gettext(m.role_label)} · {m.unit_name}"
        label = gettext("党员") if self.is_party_member else gettext("居民")
        return f"{mask_phone(self.phone or '')} · {label}"


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else phone


# Every request of a signed-in person reads it, prepared once per connection (a Piccolo select costs more to
# build than to run): the account and, for staff, its memberships with their units in the same statement, one
# row per membership (one row with empty membership columns if there is none).
_VIEWER = ("SELECT a.id, a.kind, a.name, a.phone, a.username, a.public_title, a.is_party_member, m.id AS m_id, "
           "u.id AS u_id, u.name AS u_name, u.kind AS u_kind, u.path AS u_path, m.role, m.designated "
           "FROM account a LEFT JOIN membership m ON m.account = a.id AND a.kind = 'staff' "
           "LEFT JOIN unit u ON u.id = m.unit WHERE a.id = $1 AND a.active ORDER BY m.id")
_ACCOUNT_COLUMNS = ("id", "kind", "name", "phone", "username", "public_title", "is_party_member")


async def load_viewer(account_id: int) -> Viewer | None:
    rows = await fetch_prepared(_VIEWER, account_id)
    if not rows:
        return None
    acc = {k: rows[0][k] for k in _ACCOUNT_COLUMNS}
    memberships = tuple(
        MembershipView(unit_id=r["u_id"], unit_name=r["u_name"], unit_kind=r["u_kind"], unit_path=r["u_path"],
                       role=r["role"], designated=r["designated"])
        for r in rows if r["m_id"] is not None
    )
    return Viewer(**acc, memberships=memberships)


# ---------------------------------------------------------------- staff passwords


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def authenticate_staff(username: str, password: str, ip: str, device: str | None = None) -> tuple[Account, str]:
    """Check a staff sign-in (throttled by ``backend.accounts.throttle``); returns the account and the
    browser's device id (remembered as a known device of this account)."""
    username = username.strip()
    try:
        await throttle.check(username, ip, device)
    except throttle.Throttled as exc:
        raise AuthError("尝试次数过多，请稍后再试", retry_after=exc.retry_after) from None
    acc = None
    if username:
        acc = await Account.objects().where(
            (Account.username == username) & (Account.kind == AccountKind.staff.value)
        ).first()
    ok = False
    if acc is not None and acc.active and acc.password_hash:
        try:
            ok = _hasher.verify(acc.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:
        # Same work for unknown users, so timing does not tell which part was wrong.
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass
    if not ok or acc is None:
        await throttle.failed(username, ip, device)
        raise AuthError("用户名或密码错误")
    device = await throttle.succeeded(username, ip, device)
    if _hasher.check_needs_rehash(acc.password_hash):
        await Account.update({Account.password_hash: hash_password(password)}).where(Account.id == acc.id)
    await Account.update({Account.last_login_at: utcnow()}).where(Account.id == acc.id)
    return acc, device


_DUMMY_HASH = _hasher.hash("not-a-real-password")


# ---------------------------------------------------------------- resident one-time codes


def normalise_phone(phone: str) -> str:
    phone = re.sub(r"[\s-]", "", phone or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    if not PHONE_RE.match(phone):
        raise AuthError("请输入 11 位手机号码")
    return phone


def _code_digest(phone: str, code: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


async def request_code(phone: str, ip: str) -> str:
    """Issue a 6-digit code for ``phone``; rate-limited per phone and per IP. Returns the code."""
    s = get_settings()
    phone = normalise_phone(phone)
    r = redis_client()
    cooldown_key = f"otp:cooldown:{phone}"
    if await r.exists(cooldown_key):
        ttl = await r.ttl(cooldown_key)
        raise AuthError("验证码已发送，请稍后再试", retry_after=max(int(ttl), 1))
    count, ttl = await hit(f"otp:rl:phone:{phone}", 3600)
    if count > s.otp_per_phone_per_hour:
        raise AuthError("该号码获取验证码过于频繁，请稍后再试", retry_after=ttl)
    count, ttl = await hit(f"otp:rl:ip:{ip}", 3600)
    if count > s.otp_per_ip_per_hour:
        raise AuthError("获取验证码过于频繁，请稍后再试", retry_after=ttl)
    code = f"{secrets.randbelow(1_000_000):06d}"
    key = f"otp:code:{phone}"
    async with r.pipeline(transaction=True) as pipe:
        pipe.delete(key)
        pipe.hset(key, mapping={"digest": _code_digest(phone, code), "tries": 0})
        pipe.expire(key, s.otp_ttl_seconds)
        pipe.set(cooldown_key, 1, ex=s.otp_phone_cooldown_seconds)
        await pipe.execute()
    try:
        await get_gateway().send_code(phone, code)
    except SmsError:
        # Logged by the gateway (after its retry); the person can ask again once the cooldown passes.
        await r.delete(key)
        raise AuthError("短信发送失败，请稍后再试") from None  # shown as the field error, like the others
    return code


# Atomic check: count a try, compare, delete on success or when tries run out (single use).
_VERIFY_LUA = """
local d = redis.call('HGET', KEYS[1], 'digest')
if not d then return -1 end
local tries = redis.call('HINCRBY', KEYS[1], 'tries', 1)
if tries > tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) return -2 end
if d == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
if tries >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) return -2 end
return 0
"""


async def verify_code(phone: str, code: str) -> Account:
    """Check a code; on success return the resident's account (created on first sign-in)."""
    s = get_settings()
    phone = normalise_phone(phone)
    code = (code or "").strip()
    if not re.fullmatch(r"\d{6}", code):
        raise AuthError("请输入 6 位数字验证码")
    result = await redis_client().eval(
        _VERIFY_LUA, 1, f"otp:code:{phone}", _code_digest(phone, code), s.otp_max_tries
    )
    if result == -1:
        raise AuthError("验证码已失效，请重新获取")
    if result == -2:
        raise AuthError("错误次数过多，验证码已失效，请重新获取")
    if result != 1:
        raise AuthError("验证码不正确")
    return await resident_for_phone(phone)


async def resident_for_phone(phone: str) -> Account:
    acc = await Account.objects().where(Account.phone == phone).first()
    if acc is None:
        acc = Account(kind=AccountKind.resident.value, phone=phone, name="")
        await acc.save()
    if not acc.active:
        raise AuthError("该账号已停用")
    await Account.update({Account.last_login_at: utcnow()}).where(Account.id == acc.id)
    return acc


# ---------------------------------------------------------------- party members


class PermissionDenied(Exception):
    pass


async def set_party_member(actor: Viewer, account_id: int, value: bool) -> None:
    """Only the organisation department (assessor role) or an admin verifies party members."""
    if not actor.has_role(Role.assessor, Role.admin):
        raise PermissionDenied("只有区委组织部或管理员可以认定党员身份")
    await Account.update(
        {
            Account.is_party_member: value,
            Account.party_verified_by: actor.id if value else None,
            Account.party_verified_at: utcnow() if value else None,
        }
    ).where(Account.id == account_id)


async def subtree_unit_ids(path: str) -> list[int]:
    rows = await Unit.select(Unit.id).where(Unit.path.like(path + "%"))
    return [r["id"] for r in rows]


# ---------------------------------------------------------------- staff administration


USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,50}$")


async def create_staff(*, username: str, name: str, password: str, public_title: str = "") -> Account:
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AuthError("用户名为 3–50 位字母、数字或 _.-")
    if not name.strip() or len(name) > 50:
        raise AuthError("请填写姓名（50 字以内）")
    if len(password) < 8:
        raise AuthError("密码至少 8 位")
    if await Account.exists().where(Account.username == username):
        raise AuthError("用户名已存在")
    acc = Account(kind=AccountKind.staff.value, username=username, name=name.strip(),
                  public_title=public_title.strip(), password_hash=hash_password(password))
    await acc.save()
    return acc


async def add_membership(account_id: int, unit_id: int, role: str, designated: bool = False) -> Membership:
    if role not in {r.value for r in Role}:
        raise AuthError("未知的角色")
    acc = await Account.objects().where(Account.id == account_id).first()
    if acc is None or acc.kind != AccountKind.staff.value:
        raise AuthError("只有工作人员账号可以加入单位")
    if not await Unit.exists().where(Unit.id == unit_id):
        raise AuthError("单位不存在")
    existing = await Membership.objects().where(
        (Membership.account == account_id) & (Membership.unit == unit_id) & (Membership.role == role)
    ).first()
    if existing is not None:
        return existing
    m = Membership(account=account_id, unit=unit_id, role=role, designated=designated)
    await m.save()
    return m


async def remove_membership(membership_id: int) -> None:
    await Membership.delete().where(Membership.id == membership_id)
