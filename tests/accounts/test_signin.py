"""Sign-in flows: resident codes (expiry, reuse, brute force, rate limits) and staff passwords."""

from __future__ import annotations

import re

import pytest

from backend.accounts import service
from backend.accounts.service import AuthError
from backend.accounts.tables import Account
from backend.redis import redis_client
from tests.support.factories import fresh_phone


def demo_code(html: str) -> str:
    m = re.search(r'data-testid="demo-code">[^<]*<strong>(\d{6})</strong>', html)
    assert m, html
    return m.group(1)


async def test_resident_signs_in_with_code_and_sees_who_they_are(client) -> None:
    phone = fresh_phone()
    r = await client.post("/login/code", data={"phone": phone, "next": "/"})
    assert r.status_code == 200
    code = demo_code(r.text)
    r = await client.post("/login/verify", data={"phone": phone, "code": code, "next": "/"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    home = await client.get("/")
    assert phone[:3] + "****" + phone[-4:] in home.text
    assert "居民" in home.text
    acc = await Account.objects().where(Account.phone == phone).first()
    assert acc is not None and acc.kind == "resident"


async def test_code_is_single_use(client, new_client) -> None:
    phone = fresh_phone()
    code = await service.request_code(phone, "10.0.0.1")
    await service.verify_code(phone, code)
    with pytest.raises(AuthError, match="失效"):
        await service.verify_code(phone, code)


async def test_code_expires(client) -> None:
    phone = fresh_phone()
    code = await service.request_code(phone, "10.0.0.2")
    # Expiry is Redis's TTL: make it lapse now instead of sleeping five minutes.
    assert 0 < await redis_client().ttl(f"otp:code:{phone}") <= 300
    await redis_client().pexpire(f"otp:code:{phone}", 1)
    await redis_client().delete(f"otp:code:{phone}") if await redis_client().exists(f"otp:code:{phone}") else None
    with pytest.raises(AuthError, match="失效"):
        await service.verify_code(phone, code)


async def test_five_wrong_tries_burn_the_code(client) -> None:
    phone = fresh_phone()
    code = await service.request_code(phone, "10.0.0.3")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        with pytest.raises(AuthError, match="不正确"):
            await service.verify_code(phone, wrong)
    with pytest.raises(AuthError, match="错误次数过多"):
        await service.verify_code(phone, wrong)
    # even the right code no longer works
    with pytest.raises(AuthError, match="失效"):
        await service.verify_code(phone, code)


async def test_wrong_code_over_http_keeps_the_form(client) -> None:
    phone = fresh_phone()
    r = await client.post("/login/code", data={"phone": phone})
    code = demo_code(r.text)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = await client.post("/login/verify", data={"phone": phone, "code": wrong})
    assert r.status_code == 400
    assert "验证码不正确" in r.text and phone in r.text
    assert "qg_session" not in client.cookies or (await client.get("/")).text.count("退出") == 0


async def test_code_requests_are_rate_limited_per_phone(client) -> None:
    phone = fresh_phone()
    r = await client.post("/login/code", data={"phone": phone})
    assert r.status_code == 200
    r = await client.post("/login/code", data={"phone": phone})
    assert r.status_code == 429
    assert "稍后" in r.text


async def test_code_requests_are_rate_limited_per_ip(client) -> None:
    for _ in range(30):
        await service.request_code(fresh_phone(), "10.9.9.9")
    with pytest.raises(AuthError) as info:
        await service.request_code(fresh_phone(), "10.9.9.9")
    assert info.value.retry_after and info.value.retry_after > 0


async def test_bad_phone_is_refused_with_a_message(client) -> None:
    r = await client.post("/login/code", data={"phone": "12345"})
    assert r.status_code == 400
    assert "11 位手机号码" in r.text


async def test_staff_password_sign_in_and_role_shown(client) -> None:
    r = await client.post("/staff/login", data={"username": "haixi", "password": "demo1234"})
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    page = await client.get("/staff")
    assert page.status_code == 200
    assert "社区工作人员" in page.text and "海西社区" in page.text


async def test_wrong_password_gives_no_hint(client) -> None:
    r1 = await client.post("/staff/login", data={"username": "haixi", "password": "wrong-password"})
    r2 = await client.post("/staff/login", data={"username": "no_such_user", "password": "demo1234"})
    assert r1.status_code == r2.status_code == 400
    assert "用户名或密码错误" in r1.text and "用户名或密码错误" in r2.text


async def test_password_brute_force_is_locked_with_429(client) -> None:
    for _ in range(5):
        r = await client.post("/staff/login", data={"username": "liuxiang", "password": "nope-nope"})
        assert r.status_code == 400
    r = await client.post("/staff/login", data={"username": "liuxiang", "password": "demo1234"})
    assert r.status_code == 429
    assert "Retry-After" in r.headers and int(r.headers["Retry-After"]) > 0
    assert "操作过于频繁" in r.text


async def test_sign_out_ends_the_session(client) -> None:
    await client.login_staff("haixi")
    assert (await client.get("/staff")).status_code == 200
    r = await client.post("/logout")
    assert r.status_code == 303
    assert (await client.get("/staff")).status_code == 303


async def test_session_works_across_two_app_instances(client) -> None:
    """Sessions live in Redis: a second process (here a second app) sees the same sign-in."""
    from backend.app import create_app
    from tests.conftest import make_client

    await client.login_staff("zhzx")
    other = create_app()
    async with make_client(other) as c2:
        c2.cookies.update(client.cookies)
        r = await c2.get("/staff")
        assert r.status_code == 200
        assert "指挥中心调度员" in r.text


async def test_post_without_csrf_is_refused(client) -> None:
    import httpx

    await client.get("/")
    r = await httpx.AsyncClient.post(client, "/staff/login", data={"username": "haixi", "password": "demo1234"})
    assert r.status_code == 403
