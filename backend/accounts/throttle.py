"""Staff sign-in throttling that an attacker cannot turn into a lock-out of the rightful user.

- per (account, source): a few failures lock that pair for a while (the source is the IP, or the
  browser's device cookie when that browser signed in to this account before);
- per IP (unknown devices): many failures over any accounts lock the IP;
- per account: failures do not lock, they slow down: after the limit, unknown devices must wait a
  delay that doubles with each failure (at most ``MAX_DELAY`` seconds) between attempts;
- a known device (signed in to this account before) is never slowed down by others' failures.
Admins see the accounts under attack and lift the counters (``lockouts`` / ``lift``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from backend.redis import hit, redis_client
from backend.settings import get_settings

MAX_DELAY = 60
DEVICE_DAYS = 90
DEVICE_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("throttled")
        self.retry_after = max(int(retry_after), 1)


def _user(username: str) -> str:
    return username.strip().lower()[:50]


def _keys(username: str, source: str) -> dict[str, str]:
    u = _user(username)
    return {"pair": f"login:fail:pair:{u}:{source}", "account": f"login:fail:user:{u}", "slow": f"login:slow:{u}"}


async def is_known_device(username: str, device: str | None) -> bool:
    return bool(device and DEVICE_RE.match(device)
                and await redis_client().exists(f"login:device:{_user(username)}:{device}"))


async def source_of(username: str, ip: str, device: str | None) -> tuple[str, bool]:
    known = await is_known_device(username, device)
    return (f"dev:{device}" if known else f"ip:{ip}"), known


async def check(username: str, ip: str, device: str | None) -> None:
    """Before the password is checked: raise ``Throttled`` when this attempt must wait."""
    s, r = get_settings(), redis_client()
    source, known = await source_of(username, ip, device)
    keys = _keys(username, source)
    waits = []
    if int(await r.get(keys["pair"]) or 0) >= s.login_max_failures:
        waits.append(await r.ttl(keys["pair"]))
    if not known:
        if int(await r.get(f"login:fail:ip:{ip}") or 0) >= s.login_max_failures * 4:
            waits.append(await r.ttl(f"login:fail:ip:{ip}"))
        if await r.exists(keys["slow"]):
            waits.append(await r.ttl(keys["slow"]))
    if waits:
        raise Throttled(max(waits))


async def failed(username: str, ip: str, device: str | None) -> None:
    s, r = get_settings(), redis_client()
    source, known = await source_of(username, ip, device)
    keys = _keys(username, source)
    await hit(keys["pair"], s.login_lock_seconds)
    if not known:
        await hit(f"login:fail:ip:{ip}", s.login_lock_seconds)
    n, _ = await hit(keys["account"], s.login_lock_seconds)
    if n >= s.login_max_failures:
        await r.set(keys["slow"], "1", ex=min(2 ** (n - s.login_max_failures), MAX_DELAY))


async def succeeded(username: str, ip: str, device: str | None) -> str:
    """Clear this source's failures and remember the device; returns the device id for the cookie."""
    r = redis_client()
    source, _ = await source_of(username, ip, device)
    await r.delete(_keys(username, source)["pair"])
    if not (device and DEVICE_RE.match(device)):
        device = secrets.token_urlsafe(24)
    await r.set(f"login:device:{_user(username)}:{device}", "1", ex=DEVICE_DAYS * 86400)
    return device


@dataclass(frozen=True)
class Lockout:
    username: str
    failures: int
    slowed_for: int  # seconds until an unknown device may try again
    locked_sources: int  # (IP or device) pairs currently locked out


async def lockouts() -> list[Lockout]:
    """Accounts with recent failed sign-ins, most failures first."""
    s, r = get_settings(), redis_client()
    out = []
    async for key in r.scan_iter(match="login:fail:user:*", count=500):
        username = (key if isinstance(key, str) else key.decode()).removeprefix("login:fail:user:")
        failures = int(await r.get(key) or 0)
        slow = await r.ttl(f"login:slow:{username}")
        locked = 0
        async for pair in r.scan_iter(match=f"login:fail:pair:{_escape(username)}:*", count=500):
            locked += int(await r.get(pair) or 0) >= s.login_max_failures
        out.append(Lockout(username, failures, max(slow, 0), locked))
    return sorted(out, key=lambda x: (-x.failures, x.username))


async def lift(username: str) -> None:
    """An admin lifts every counter on the account (not the IP counters: those protect other accounts)."""
    r, u = redis_client(), _user(username)
    keys = [f"login:fail:user:{u}", f"login:slow:{u}"]
    keys += [k async for k in r.scan_iter(match=f"login:fail:pair:{_escape(u)}:*", count=500)]
    await r.delete(*keys)


def _escape(value: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", value)
