"""One error type, one handler (backend/errors.py, backend/web/errors.py): a service's refusal is shown as
the form again (the route names it), the 4xx page, or the htmx fragment, in the reader's language, and
changes nothing."""

from __future__ import annotations

from backend.requests import service
from backend.requests.tables import Event, Request
from tests.support.factories import fresh_phone
from tests.support.people import staff
from tests.support.photos import code_from, report_data
from tests.support.routing import LX_1_1, state, submit_at


async def _english(client) -> None:
    r = await client.post("/prefs", data={"lang": "en", "next": "/"})
    assert r.status_code == 303


async def test_a_refused_form_is_shown_again_in_english(client) -> None:
    """The request service refuses an escalation without a reason: the routing page again, its form with the
    message in English, what was typed kept, the request unchanged."""
    req, _ = await submit_at(LX_1_1, "garbage", description="垃圾堆积三天")
    before = await state(req.id)
    events = await Event.count().where(Event.request == req.id)
    await client.login_staff("haixi")
    await _english(client)
    r = await client.post(f"/staff/requests/{req.id}/escalate", data={"version": str(req.version), "note": "  "})
    assert r.status_code == 400, r.text
    assert '<html lang="en"' in r.text
    assert 'data-testid="error"' in r.text and "An escalation needs a reason" in r.text
    assert "上报必须填写理由" not in r.text
    assert f'action="/staff/requests/{req.id}/escalate"' in r.text  # the form itself, ready to send again
    assert await state(req.id) == before and await Event.count().where(Event.request == req.id) == events


async def test_a_stale_dispatch_shows_the_new_state_in_english(client) -> None:
    """The service's 409 on the dispatch form: the form again with its message, in English."""
    req, _ = await submit_at(LX_1_1, "garbage", description="垃圾堆积")
    r = await service.transition(req.id, "escalate", await staff("haixi"), req.version, note="社区无法解决")
    r = await service.transition(req.id, "escalate", await staff("liuxiang"), r.version, note="街道无法解决")
    await client.login_staff("zhzx")
    await _english(client)
    r = await client.post(f"/cc/requests/{req.id}/dispatch",
                          data={"version": str(r.version + 7), "lead_unit_id": str(req.current_unit)})
    assert r.status_code == 409, r.text
    assert '<html lang="en"' in r.text
    assert "Someone has just updated this request; check its current state and try again" in r.text
    assert "该诉求刚刚被他人更新" not in r.text
    assert 'name="lead_unit_id"' in r.text  # the dispatch form again, with the request's current version


async def test_a_refusal_without_a_form_is_the_4xx_page_in_english(client) -> None:
    await client.login_staff("zhzx")
    await _english(client)
    r = await client.get("/dashboard/requests?start=2026-12-31&end=2026-01-01")
    assert r.status_code == 400, r.text
    assert "Bad request" in r.text and "The start date cannot be after the end date" in r.text
    assert "开始日期不能晚于结束日期" not in r.text and "请求有误" not in r.text


async def test_an_htmx_refusal_is_a_fragment_in_english(client) -> None:
    """我也遇到了 on one's own request, sent by htmx: the message fragment into #flash, in English; a plain
    POST gets the 403 page with the same words."""
    await client.login_resident(fresh_phone())
    data = await report_data(client, description="路灯坏了")
    code = code_from((await client.post("/report", data=data)).headers["location"])
    await _english(client)
    r = await client.post(f"/p/{code}/support", headers={"HX-Request": "true"})
    assert r.status_code == 403, r.text
    assert r.headers["HX-Retarget"] == "#flash" and r.headers["HX-Reswap"] == "innerHTML"
    assert r.text.startswith('<div class="alert alert-error" role="alert" data-status="403">')
    assert "Not allowed" in r.text and "This is your own request" in r.text and "<html" not in r.text
    page = await client.post(f"/p/{code}/support")
    assert page.status_code == 403 and '<html lang="en"' in page.text and "This is your own request" in page.text
    req = await Request.objects().where(Request.code == code).first()
    assert req is not None
