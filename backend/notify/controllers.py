"""In-app notifications (every browser) and Web Push subscriptions (where the browser has Push)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect
from markupsafe import escape

from backend.i18n import gettext as _
from backend.notify import channels, push
from backend.notify.service import render, unread_count
from backend.notify.tables import Delivery, Notification
from backend.notify.vapid import public_key
from backend.web.guards import signed_in, viewer_of
from backend.web.render import page

PAGE_SIZE = 50


async def _json_body(request: Request) -> Any:
    """The JSON body, or None when it is not JSON (a 400 follows, never a 500)."""
    try:
        return await request.json()
    except Exception:  # msgspec.DecodeError and friends: malformed input from the client
        return None


class NotificationsController(Controller):
    path = ""
    guards = [signed_in]
    include_in_schema = False

    @get("/notifications")
    async def index(self, request: Request) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        rows = await (
            Notification.select()
            .where(Notification.account == viewer.id)
            .order_by(Notification.id, ascending=False)
            .limit(PAGE_SIZE)
        )
        unread = await unread_count(viewer.id)
        rows = [r | render(r) for r in rows]
        return page(request, "notify/index.html", {"items": rows, "unread": unread, "vapid_key": public_key()},
                    block="content")

    @get("/notifications/count")
    async def count(self, request: Request) -> Response:
        """The header badge (loaded by htmx): an empty span when nothing is unread."""
        viewer = viewer_of(request)
        assert viewer is not None
        n = await unread_count(viewer.id)
        html = f'<span class="count" data-testid="unread-count">{n}</span>' if n else '<span class="count"></span>'
        if n:
            unread = escape(_("条未读"))
            html = html.replace("</span>", f'<span class="sr-only"> {unread}</span></span>')
        return Response(html, media_type="text/html", headers={"Cache-Control": "no-store", "Vary": "HX-Request"})

    @post("/notifications/read")
    async def mark_read(self, request: Request) -> Redirect:
        viewer = viewer_of(request)
        assert viewer is not None
        await Notification.update({Notification.read: True}).where(
            (Notification.account == viewer.id) & (Notification.read == False)
        )
        return Redirect("/notifications", status_code=303)

    @get("/notifications/{note_id:int}")
    async def open(self, request: Request, note_id: int) -> Redirect:
        """Mark one read and go where it points."""
        viewer = viewer_of(request)
        assert viewer is not None
        row = await Notification.select(Notification.url).where(
            (Notification.id == note_id) & (Notification.account == viewer.id)
        ).first()
        if row is None:
            return Redirect("/notifications", status_code=303)
        await Notification.update({Notification.read: True}).where(Notification.id == note_id)
        url = row["url"] or "/notifications"
        return Redirect(url if url.startswith("/") and not url.startswith("//") else "/notifications", status_code=303)

    @get("/push/key")
    async def key(self) -> Response:
        return Response({"publicKey": public_key()})

    @post("/push/subscribe")
    async def subscribe(self, request: Request) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        data = await _json_body(request)
        try:
            sub_id = await push.subscribe(viewer.id, data, request.headers.get("user-agent", ""))
        except push.SubscriptionError as exc:
            return Response({"ok": False, "detail": str(exc)}, status_code=400)
        return Response({"ok": True, "id": sub_id}, status_code=201)

    @post("/push/unsubscribe")
    async def unsubscribe(self, request: Request) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        data = await _json_body(request)
        endpoint = data.get("endpoint") if isinstance(data, dict) else None
        if not isinstance(endpoint, str) or not endpoint:
            return Response({"ok": False, "detail": "缺少订阅地址"}, status_code=400)
        removed = await push.unsubscribe(viewer.id, endpoint)
        return Response({"ok": True, "removed": removed})


class AccountController(Controller):
    """My account: how I am told about my requests outside the app, and my WeChat binding (issue 23)."""

    path = "/account"
    guards = [signed_in]
    include_in_schema = False

    async def _render(self, request: Request, errors: dict[str, str] | None = None, saved: bool = False,
                      status_code: int = 200) -> Response:
        from backend.wechat.controllers import account_context

        viewer = viewer_of(request)
        assert viewer is not None
        pref = await channels.preference(viewer.id)
        ctx = {
            "pref": pref, "channels": channels.PREFERENCES, "errors": errors or {}, "saved": saved,
            "unbound": request.query_params.get("unbound") == "1",
            "can": await channels.receivable(viewer.id, "resolved"),
            "deliveries": await Delivery.select().where(Delivery.account == viewer.id).order_by(
                Delivery.id, ascending=False).limit(10),
        } | await account_context(request, viewer.id)
        return page(request, "notify/account.html", ctx, status_code=status_code)

    @get("")
    async def show(self, request: Request) -> Response:
        return await self._render(request)

    @post("/notify")
    async def save(self, request: Request) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        form = await request.form()
        channel = str(form.get("channel") or "")
        if channel not in channels.PREFERENCES:
            return await self._render(request, {"channel": _("请选择一种通知方式")}, status_code=400)
        await channels.set_preference(viewer.id, channel, form.get("sms_opt_out") == "1")
        return await self._render(request, saved=True)
