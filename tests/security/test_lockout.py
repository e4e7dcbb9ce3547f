"""Anyone could lock any staff account (issue 15, item 7): failures lock an (account, IP) pair and only
slow the account down; the rightful user's known device still signs in; admins see and lift lock-outs."""

from __future__ import annotations

import httpx
import pytest

from backend.accounts import service, throttle
from backend.accounts.service import AuthError
from tests.conftest import Client


def client_from(app, ip: str) -> Client:
    return Client(transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://testserver",
                  follow_redirects=False)


async def _attack(app, username: str, ips: list[str]) -> None:
    for ip in ips:
        async with client_from(app, ip) as attacker:
            for _ in range(5):
                r = await attacker.post("/staff/login", data={"username": username, "password": "wrong-guess"})
                assert r.status_code in (400, 429)
            # Five failures lock this (account, IP) pair, with the wait announced.
            r = await attacker.post("/staff/login", data={"username": username, "password": "demo1234"})
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


async def test_attack_from_many_ips_does_not_lock_out_the_known_device(app) -> None:
    async with client_from(app, "10.9.0.1") as own:  # the admin's own browser signed in before
        await own.login_staff("admin")
        await own.post("/logout")
        await _attack(app, "admin", ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
        r = await own.post("/staff/login", data={"username": "admin", "password": "demo1234"})
        assert r.status_code == 303  # not locked: the known device is never slowed by others' failures


async def test_unknown_devices_are_slowed_not_locked(app) -> None:
    await _attack(app, "zhzx", ["203.0.113.10", "203.0.113.11"])
    async with client_from(app, "10.9.0.2") as fresh:
        r = await fresh.post("/staff/login", data={"username": "zhzx", "password": "demo1234"})
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= throttle.MAX_DELAY  # a delay, never a 15-minute lock
        assert "尝试次数过多" in r.text
    # At service level: once the delay has passed the right password works from the unknown device.
    from backend.redis import redis_client

    await redis_client().delete("login:slow:zhzx")
    acc, _ = await service.authenticate_staff("zhzx", "demo1234", "10.9.0.2")
    assert acc.username == "zhzx"


async def test_pair_lock_is_per_ip() -> None:
    for _ in range(5):
        with pytest.raises(AuthError):
            await service.authenticate_staff("hwk", "wrong", "198.51.100.1")
    with pytest.raises(AuthError, match="尝试次数过多"):
        await service.authenticate_staff("hwk", "demo1234", "198.51.100.1")
    from backend.redis import redis_client

    await redis_client().delete("login:slow:hwk")  # the account's slow-down, not the pair lock
    acc, _ = await service.authenticate_staff("hwk", "demo1234", "198.51.100.2")
    assert acc.username == "hwk"


async def test_admin_sees_and_lifts_a_lockout(app, client) -> None:
    await _attack(app, "liuxiang", ["203.0.113.20"])
    await client.login_staff("admin")
    r = await client.get("/admin/lockouts")
    assert r.status_code == 200
    assert 'data-username="liuxiang"' in r.text and "失败 5 次" in r.text and "1 个来源已锁定" in r.text
    r = await client.post("/admin/lockouts/lift", data={"username": "liuxiang"})
    assert r.status_code == 303
    assert 'data-username="liuxiang"' not in (await client.get("/admin/lockouts")).text
    async with client_from(app, "203.0.113.20") as same_ip:
        await same_ip.login_staff("liuxiang")
    async with client_from(app, "10.9.0.3") as other:
        await other.login_staff("haixi")
        assert (await other.get("/admin/lockouts")).status_code == 403
        assert (await other.post("/admin/lockouts/lift", data={"username": "liuxiang"})).status_code == 403
