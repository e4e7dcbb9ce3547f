"""Blind SSRF through Web Push (issue 15, item 5): only https endpoints on the push services' hosts,
at most a few subscriptions per account, and the worker never POSTs anywhere else."""

from __future__ import annotations

import pytest

from backend.notify import push
from backend.notify.tables import PushSubscription
from tests.notify.test_push import browser_keys
from tests.support.factories import fresh_phone
from tests.support.people import resident

REFUSED = [
    "http://127.0.0.1:6379/",
    "https://127.0.0.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://fcm.googleapis.com.evil.example/x",
    "https://user:pw@fcm.googleapis.com/x",
    "https://fcm.googleapis.com:8443/x",
    "http://fcm.googleapis.com/fcm/send/x",
    "https://localhost/x",
    "https://[::1]/x",
]
ACCEPTED = [
    "https://fcm.googleapis.com/fcm/send/abc",
    "https://updates.push.services.mozilla.com/wpush/v2/abc",
    "https://web.push.apple.com/QGabc",
    "https://wns2-by3p.notify.windows.com/w/?token=abc",
]


@pytest.mark.parametrize("endpoint", REFUSED)
async def test_endpoints_outside_the_push_services_are_refused(client, endpoint: str) -> None:
    await client.login_resident(fresh_phone())
    r = await client.post("/push/subscribe", json={"endpoint": endpoint, "keys": browser_keys()})
    assert r.status_code == 400 and r.json()["ok"] is False
    assert not await PushSubscription.exists().where(PushSubscription.endpoint == endpoint)


@pytest.mark.parametrize("endpoint", ACCEPTED)
def test_push_service_endpoints_are_accepted(endpoint: str) -> None:
    assert push.endpoint_allowed(endpoint)


async def test_at_most_a_few_subscriptions_per_account(client) -> None:
    phone = fresh_phone()
    await client.login_resident(phone)
    me = await resident(phone)
    for i in range(push.MAX_SUBSCRIPTIONS + 3):
        r = await client.post("/push/subscribe", json={"endpoint": f"https://fcm.googleapis.com/fcm/send/{phone}-{i}",
                                                       "keys": browser_keys()})
        assert r.status_code == 201
    rows = await PushSubscription.select(PushSubscription.endpoint).where(PushSubscription.account == me.id)
    assert len(rows) == push.MAX_SUBSCRIPTIONS
    assert f"https://fcm.googleapis.com/fcm/send/{phone}-{push.MAX_SUBSCRIPTIONS + 2}" in {r["endpoint"] for r in rows}


async def test_the_worker_never_posts_to_a_stored_internal_endpoint(monkeypatch) -> None:
    who = await resident()
    await PushSubscription(account=who.id, endpoint="http://127.0.0.1:9/internal", **browser_keys()).save()
    monkeypatch.setattr(push, "_send_one", lambda *a: pytest.fail("the worker called an internal address"))
    counts = await push.send_to_accounts([who.id], "测试")
    assert counts["removed"] == 1 and counts["sent"] == 0
    assert not await PushSubscription.exists().where(PushSubscription.account == who.id)
