"""Session fixation (issue 15, item 1) and unbounded anonymous sessions (item 9)."""

from __future__ import annotations

from backend.accounts.tables import Account, Membership
from backend.organisation.tables import Unit
from backend.redis import redis_client
from tests.support.factories import fresh_phone, unique

PLANTED = "a" * 64


async def _session_keys() -> list[bytes]:
    return [k async for k in redis_client().scan_iter(match="qg-sessions*")]


async def test_a_client_chosen_session_id_is_never_used(client, new_client) -> None:
    client.cookies.set("qg_session", PLANTED, domain="testserver.local")
    await client.login_staff("zhzx")
    issued = client.cookies.get("qg_session")
    assert issued and issued != PLANTED
    # The attacker who planted the id is not signed in with it.
    async with new_client() as attacker:
        attacker.cookies.set("qg_session", PLANTED, domain="testserver.local")
        r = await attacker.get("/cc/queue")
        assert r.status_code == 303 and "/staff/login" in r.headers["location"]
    assert await redis_client().exists(f"qg-sessions{PLANTED}") == 0
    assert await redis_client().exists(f"qg-sessions:{PLANTED}") == 0


async def test_sign_in_issues_a_fresh_id_and_csrf_token(client, new_client) -> None:
    await client.login_resident(fresh_phone())
    before_id = client.cookies["qg_session"]
    before_csrf = client.cookies["csrftoken"]
    # A second sign-in on the same browser (another account) gets a new id; the old id is dead.
    await client.login_staff("zhzx")
    after_id = client.cookies["qg_session"]
    assert after_id != before_id
    assert client.cookies["csrftoken"] != before_csrf
    async with new_client() as old:
        old.cookies.set("qg_session", before_id, domain="testserver.local")
        r = await old.get("/my")
        assert r.status_code == 303  # sent to sign in: the pre-sign-in id is worthless
    assert (await client.get("/cc/queue")).status_code == 200
    # The old CSRF token no longer matches the browser's cookie.
    r = await client.post("/logout", headers={"x-csrftoken": before_csrf})
    assert r.status_code == 403


async def test_sign_out_kills_the_id(client, new_client) -> None:
    await client.login_staff("zhzx")
    sid = client.cookies["qg_session"]
    r = await client.post("/logout")
    assert r.status_code == 303
    async with new_client() as replay:
        replay.cookies.set("qg_session", sid, domain="testserver.local")
        r = await replay.get("/cc/queue")
        assert r.status_code == 303 and "/staff/login" in r.headers["location"]


async def test_a_role_change_issues_a_fresh_id(client) -> None:
    username = unique("rot_")
    await client.login_staff("admin")
    community = await Unit.objects().where(Unit.code == "LX-1").first()
    r = await client.post("/admin/accounts", data={"username": username, "name": "轮换", "password": "longpassword",
                                                   "unit": str(community.id), "role": "community_staff"})
    assert r.status_code == 303
    await client.post("/logout")
    await client.login_staff(username, "longpassword")
    sid = client.cookies["qg_session"]
    assert (await client.get("/staff")).status_code == 200
    assert client.cookies["qg_session"] == sid  # an ordinary request keeps the id
    acc = await Account.objects().where(Account.username == username).first()
    await Membership.update({Membership.role: "unit_head"}).where(Membership.account == acc.id)
    r = await client.get("/staff")
    assert r.status_code == 200
    assert client.cookies["qg_session"] != sid  # rights changed: a new id, the old one deleted
    async with client.__class__(transport=client._transport, base_url="http://testserver") as replay:
        replay.cookies.set("qg_session", sid, domain="testserver.local")
        assert (await replay.get("/staff")).status_code == 303


async def test_anonymous_visits_store_no_session(client) -> None:
    for path in ["/", "/login", "/staff/login", "/public", "/wishes", "/no/such/page"]:
        r = await client.get(path)
        assert "qg_session" not in r.headers.get("set-cookie", ""), path
    assert await _session_keys() == []
    # Once something is kept (a signed-in account) exactly one session is stored.
    await client.login_resident(fresh_phone())
    assert len(await _session_keys()) == 1
    await client.post("/logout")
    assert await _session_keys() == []


async def test_an_unchanged_session_is_written_back_only_when_it_is_due(client, monkeypatch) -> None:
    """Each response re-wrote the session (a Redis SET and a Set-Cookie) until the check compared the stored
    text with the serialised bytes: now an unchanged session waits REFRESH_SECONDS before it is renewed."""
    from backend.web import sessions

    await client.login_staff("wg_lx_1_1")
    sid = client.cookies["qg_session"]
    for path in ("/staff/inbox", "/staff/field", "/staff/inbox"):
        r = await client.get(path)
        assert r.status_code == 200 and "set-cookie" not in r.headers, path
    monkeypatch.setattr(sessions, "REFRESH_SECONDS", 0)  # due: renewed, under the same id
    r = await client.get("/staff/inbox")
    assert r.status_code == 200 and f"qg_session={sid}" in r.headers.get("set-cookie", "")
