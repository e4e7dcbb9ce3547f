"""Web Push: subscriptions per account, VAPID keys, sending from the arq job to a real (local) push
service; expired subscriptions (404/410) are removed; in-app notifications for everyone."""

from __future__ import annotations

import base64
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from arq.worker import Worker
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from backend.jobs import arq_pool
from backend.notify.push import send_to_accounts
from backend.notify.service import notify_accounts, render
from backend.notify.tables import Notification, PushSubscription
from backend.notify.vapid import public_key
from tests.support.factories import fresh_phone
from tests.support.people import resident
from workers.notify import send_push


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    """What a browser's PushSubscription carries: its P-256 public key and a 16-byte auth secret."""
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"p256dh": _b64(point), "auth": _b64(os.urandom(16))}


class PushService:
    """A tiny push service on 127.0.0.1: answers every POST with ``status`` and records what came."""

    def __init__(self, status: int) -> None:
        received: list[dict] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                received.append({"path": self.path, "headers": headers, "body": body})
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gone(monkeypatch) -> Iterator[PushService]:
    monkeypatch.setattr("backend.notify.push.endpoint_allowed", lambda endpoint: True)  # a local fake service
    s = PushService(410)
    yield s
    s.stop()


@pytest.fixture
def ok(monkeypatch) -> Iterator[PushService]:
    monkeypatch.setattr("backend.notify.push.endpoint_allowed", lambda endpoint: True)  # a local fake service
    s = PushService(201)
    yield s
    s.stop()


def test_vapid_public_key_is_an_uncompressed_p256_point() -> None:
    raw = base64.urlsafe_b64decode(public_key() + "==")
    assert len(raw) == 65 and raw[0] == 4
    assert public_key() == public_key()  # generated once, then kept


async def test_subscribe_and_unsubscribe(client) -> None:
    phone = fresh_phone()
    await client.login_resident(phone)
    endpoint = f"https://fcm.googleapis.com/fcm/send/{phone}"
    r = await client.post("/push/subscribe", json={"endpoint": endpoint, "keys": browser_keys()})
    assert r.status_code == 201
    again = await client.post("/push/subscribe", json={"endpoint": endpoint, "keys": browser_keys()})
    assert again.status_code == 201 and again.json()["id"] == r.json()["id"]  # one row per device
    assert await PushSubscription.count().where(PushSubscription.endpoint == endpoint) == 1
    bad = await client.post("/push/subscribe", json={"endpoint": "ftp://x", "keys": {}})
    assert bad.status_code == 400
    junk = await client.post("/push/subscribe", content=b"{not json", headers={"content-type": "application/json"})
    assert junk.status_code == 400
    out = await client.post("/push/unsubscribe", json={"endpoint": endpoint})
    assert out.json() == {"ok": True, "removed": 1}
    assert await PushSubscription.count().where(PushSubscription.endpoint == endpoint) == 0


async def test_subscribing_needs_a_signed_in_account(client) -> None:
    sub = {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": browser_keys()}
    r = await client.post("/push/subscribe", json=sub, headers={"accept": "application/json"})
    assert r.status_code in (401, 303)


async def test_push_is_encrypted_and_signed_for_the_push_service(ok) -> None:
    who = await resident()
    sub = PushSubscription(account=who.id, endpoint=f"{ok.url}/send/{who.id}", **browser_keys())
    await sub.save()
    counts = await send_to_accounts([who.id], "您的诉求已受理", "海西社区已受理", "/my")
    assert counts == {"sent": 1, "removed": 0, "failed": 0}
    got = ok.received[-1]
    assert got["path"] == f"/send/{who.id}"
    assert got["headers"]["content-encoding"] == "aes128gcm"
    assert got["headers"]["authorization"].startswith("vapid t=")
    assert b"\xe6\x82\xa8" not in got["body"]  # the payload is encrypted, not plain text
    row = await PushSubscription.select(PushSubscription.last_ok_at).where(PushSubscription.id == sub.id).first()
    assert row["last_ok_at"] is not None


async def test_expired_subscription_is_removed_by_the_arq_job(gone) -> None:
    """notify_accounts stores the in-app notification and enqueues the push job; a real arq worker
    runs it; the push service answers 410 Gone; the subscription is deleted."""
    who = await resident()
    keep = await resident()
    await PushSubscription(account=who.id, endpoint=f"{gone.url}/gone/{who.id}", **browser_keys()).save()
    await notify_accounts([who.id, keep.id], "诉求已办结", "请评价", "/my", kind="status")
    assert await Notification.count().where(Notification.account == who.id) == 1
    assert await Notification.count().where(Notification.account == keep.id) == 1
    pool = await arq_pool()
    assert any(j.function == "send_push" for j in await pool.queued_jobs())
    worker = Worker(functions=[send_push], redis_pool=pool, burst=True, poll_delay=0.05, max_jobs=2,
                    handle_signals=False)
    await worker.main()
    assert worker.jobs_complete >= 1 and worker.jobs_failed == 0
    assert gone.received and gone.received[-1]["path"] == f"/gone/{who.id}"
    assert await PushSubscription.count().where(PushSubscription.account == who.id) == 0


async def test_no_job_when_nobody_subscribed() -> None:
    who = await resident()
    await notify_accounts([who.id], "测试", kind="status")
    pool = await arq_pool()
    assert not [j for j in await pool.queued_jobs() if j.function == "send_push" and who.id in j.args[0]]


async def test_in_app_notifications_page_and_unread_count(client) -> None:
    phone = fresh_phone()
    await client.login_resident(phone)
    me = await resident(phone)
    await notify_accounts([me.id], "您的诉求已受理", "海西社区已受理您的诉求", "/my", kind="status")
    badge = await client.get("/notifications/count", headers={"hx-request": "true"})
    assert 'data-testid="unread-count">1<' in badge.text
    page = await client.get("/notifications")
    assert "您的诉求已受理" in page.text and "1 条未读" in page.text
    note = await Notification.select(Notification.id).where(Notification.account == me.id).first()
    go = await client.get(f"/notifications/{note['id']}")
    assert go.status_code == 303 and go.headers["location"] == "/my"
    badge = await client.get("/notifications/count", headers={"hx-request": "true"})
    assert "unread-count" not in badge.text
    # Someone else's notification is not reachable.
    other = await resident()
    await notify_accounts([other.id], "别人的通知", kind="status")
    theirs = await Notification.select(Notification.id).where(Notification.account == other.id).first()
    r = await client.get(f"/notifications/{theirs['id']}")
    assert r.headers["location"] == "/notifications"
    still = await Notification.select(Notification.read).where(Notification.id == theirs["id"]).first()
    assert still["read"] is False


async def test_resident_and_handler_hear_about_changes() -> None:
    from backend.requests import service
    from backend.requests.service import NewRequest
    from backend.routing.tables import Category
    from tests.support.people import staff, unit

    who = await resident()
    worker = await staff("wg_lx_1_1")
    cat = await Category.objects().where(Category.code == "garbage").first()
    req, _ = await service.submit(NewRequest(kind="help", category_id=cat.id, description="通知测试：垃圾",
                                             community_id=(await unit("LX-1")).id), who)
    # Stored as a key and its fields (no pre-rendered sentence), rendered when shown.
    mine = await Notification.select().where(Notification.account == worker.id).order_by(Notification.id,
                                                                                         ascending=False).first()
    assert mine["key"] == "新的诉求待受理 {code}" and mine["title"] == "" and req.code in mine["params"]
    assert render(mine)["title"] == f"新的诉求待受理 {req.code}"
    r1 = await service.transition(req.id, "accept", worker, req.version)
    await service.transition(req.id, "resolve", worker, r1.version, note="已清运")
    titles = [render(r)["title"] for r in await Notification.select().where(Notification.account == who.id)
              .order_by(Notification.id)]
    assert titles[0] == f"您的诉求 {req.code}：办理中"
    assert len(titles) == len(set(titles))  # one notice per change


def test_vapid_keys_can_come_from_the_environment(monkeypatch) -> None:
    from py_vapid import Vapid

    from backend.notify import vapid as vapid_module

    given = Vapid()
    given.generate_keys()
    raw_private = given.private_key.private_numbers().private_value.to_bytes(32, "big")
    raw_public = given.public_key.public_bytes(serialization.Encoding.X962,
                                               serialization.PublicFormat.UncompressedPoint)
    monkeypatch.setenv("VAPID_PRIVATE_KEY", _b64(raw_private))
    monkeypatch.setenv("VAPID_PUBLIC_KEY", _b64(raw_public))
    vapid_module.vapid.cache_clear()
    try:
        assert public_key() == _b64(raw_public)
        derived = vapid_module.vapid().public_key.public_bytes(serialization.Encoding.X962,
                                                               serialization.PublicFormat.UncompressedPoint)
        assert derived == raw_public
    finally:
        monkeypatch.undo()
        vapid_module.vapid.cache_clear()
    assert public_key() != _b64(raw_public)  # back to the key kept in the data folder


async def test_a_burst_stores_every_notice_and_pushes_only_to_groups_with_a_subscriber() -> None:
    """A burst of lights: every account gets its in-app notices (one statement); a push job goes to a group of
    recipients only when one of them subscribed, several of its items summed up in one push."""
    from backend.notify.service import Notice, notify_burst

    watched, alone = await resident(), await resident()
    await PushSubscription(account=watched.id, endpoint=f"https://fcm.googleapis.com/fcm/send/{watched.id}",
                           **browser_keys()).save()
    notices = [Notice((watched.id,), "", url="/staff/inbox", kind="light", key="{code} 亮红灯",
                      params=(("code", f"YZ{n}"),)) for n in (1, 2)]
    notices.append(Notice((alone.id, None), "黄灯提醒", body="请尽快受理", kind="light"))
    await notify_burst(notices, summary="{n} 条红黄灯提醒")
    stored = await Notification.select(Notification.account, Notification.key, Notification.params,
                                       Notification.title, Notification.body).where(
        Notification.account.is_in([watched.id, alone.id])).order_by(Notification.id).output(load_json=True)
    assert [(r["account"], r["key"], r["params"], r["title"], r["body"]) for r in stored] == [
        (watched.id, "{code} 亮红灯", {"code": "YZ1"}, "", ""), (watched.id, "{code} 亮红灯", {"code": "YZ2"}, "", ""),
        (alone.id, "", {}, "黄灯提醒", "请尽快受理")]
    pushes = [j for j in await (await arq_pool()).queued_jobs() if j.function == "send_push"]
    assert [(j.args[0], j.args[1]) for j in pushes if {watched.id, alone.id} & set(j.args[0])] == [
        ([watched.id], "2 条红黄灯提醒")]
