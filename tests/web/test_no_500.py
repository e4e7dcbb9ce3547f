"""Robustness sweep over every route of the real app: bad input is a 4xx or a re-shown form, never a 500.

The routes are enumerated from the app itself, so a new controller is covered without touching this file.
One test per role keeps it fast: sign in once, then walk every GET and POST route with junk.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from backend.requests import service
from backend.requests.service import NewRequest
from backend.requests.tables import Event, Request
from backend.routing.tables import Category
from tests.support.factories import fresh_phone
from tests.support.people import resident, unit

STAFF = ["wg_lx_1_1", "haixi", "haixi_head", "liuxiang", "zhzx", "hwk", "zzb", "admin"]
ROLES = ["anonymous", "resident", *STAFF]
# Roles that also get the (slower) POST and query-string junk sweeps: one of each kind of account.
POST_ROLES = {"anonymous", "resident", "wg_lx_1_1", "zhzx", "admin"}

MISSING_ID = 999999999
HUGE_ID = 99999999999  # beyond a 32-bit id column: must be a 404, not a database error
PARAM = re.compile(r"\{(\w+):(\w+)\}")
# Field names the app's forms read (grep of the controllers): junk goes into all of them at once.
FIELDS = (
    "assignment_id assist_unit_ids beneficiary_address beneficiary_name beneficiary_phone boundary called_at callee "
    "category clock code comment community decision designated duty_unit_ids elder endpoint group honorific "
    "idempotency_key kind lang lead_person_id lead_unit_id level measures name next note office_hours outcome parent "
    "password phone promised_at public_title reason red_hours role score stage status story thanks_consent "
    "thanks_story title unit username value version wanted_by yellow_hours description lat lon address "
    "contact_name contact_phone source is_public unit_id account_id person target remove_photo metric "
    "contact rate_limit services acts_as returns_token enabled datatype values order required variable description_en "
    "datatype_description api_key service_code long address_string address_id update_id service_request_id"
    " question choice answer deactivate active stem option0 option1 explanation starts_at ends_at"
    " seconds_per_question scope units category0 difficulty0 count0 difficulty"
).split()
JUNK_VALUES = [
    "-1",  # negative ids and scores
    "99999999999999999999",  # overflows a 64-bit integer column
    "长" * 2001,  # longer than any text field allows (the longest limit is 2000)
    "\x00😀'\"<script>;--",  # NUL byte (PostgreSQL text refuses it), emoji, markup
    "2026-13-45T25:61",  # an impossible date/time, and non-numeric where a number is expected
    "",  # every field empty, version missing
]
QUERY_JUNK = [
    "page=-1&page_no=-1",
    "page=abc&page_no=abc&saved=abc&year=abc",
    "start=2026-13-45&end=0000-00-00&from=x&to=-1&year=99999&month=13&day=abc&grain=nope&level=-1",
    "start=2026-12-31&end=2020-01-01&from=9999-12-31&to=0001-01-01&grain=day&year=-1&lat=abc&lon=999&live=x",
    "status=nope&kind=nope&category=nope&community=abc&group=%00&sort=nope&metric=nope&unit=-5&q=%00&phone=%00",
    "q=" + "%E9%95%BF" * 3000 + "&vmin=abc&vmax=-1&located=nope&conflict=nope&next=//evil.example",
]
HTML_PARTIALS = ("/count", "/counts", "/assist-forms")  # htmx fragments: no page header by design


def routes(app) -> list[tuple[str, str]]:
    out = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method in ("GET", "POST") and not route.path.startswith("/static"):
                    out.append((method, route.path))
    return sorted(set(out))


def fill(path: str, ids: dict[str, Any], *, real: bool) -> list[str]:
    """Concrete URLs for a templated path: a missing/junk value per parameter, and the real one if asked."""
    params = PARAM.findall(path)
    if not params:
        return [path]
    choices: list[dict[str, str]] = [{}]
    for name, kind in params:
        if kind == "int":
            # Only request ids are known to be ours: junk POSTed at any other real row could delete demo data.
            values = [str(MISSING_ID), str(HUGE_ID)] + ([str(ids["request_id"])] if real and name == "request_id"
                                                         else [])
        else:
            values = ["junk%E2%9C%93", "YZ" + "9" * 10] + ([ids["code"]] if real and name == "code" else [])
        choices = [c | {name: v} for c in choices for v in values]
    return [PARAM.sub(lambda m, c=c: c[m.group(1)], path) for c in choices]


async def _demo_request() -> dict[str, Any]:
    """A fresh request in 海西社区 (LX-1), reported by a fresh resident, so real ids reach deep handlers."""
    phone = fresh_phone()
    reporter = await resident(phone)
    cat = await Category.objects().where(Category.code == "garbage").first()
    community = await unit("LX-1")
    req, _ = await service.submit(
        NewRequest(kind="help", category_id=cat.id, description="QA 巡检：楼道杂物", community_id=community.id),
        reporter)
    return {"request_id": req.id, "code": req.code, "phone": phone, "version": req.version}


async def service_request(request_id: int) -> dict[str, Any]:
    row = await Request.select(Request.version, Request.status).where(Request.id == request_id).first()
    assert row is not None
    return row


async def _sign_in(client, role: str, ids: dict[str, Any]) -> None:
    if role == "resident":
        await client.login_resident(ids["phone"])
    elif role != "anonymous":
        await client.login_staff(role)


def _check_page(role: str, url: str, r, problems: list[str]) -> None:
    if r.status_code >= 500:
        problems.append(f"{r.request.method} {url[:120]} → {r.status_code}")
        return
    html = r.headers.get("content-type", "").startswith("text/html")
    if not html or "<html" not in r.text[:200] or url.endswith(HTML_PARTIALS):
        return
    # Every full page (including friendly error pages) carries the header showing who is signed in.
    signed_in = 'data-testid="who"' in r.text
    if (role == "anonymous") == signed_in:
        problems.append(f"GET {url[:120]} as {role}: header shows signed_in={signed_in}")


@pytest.mark.parametrize("role", ROLES)
async def test_every_page_answers_without_a_500(client, app, role: str) -> None:
    ids = await _demo_request()
    await _sign_in(client, role, ids)
    problems: list[str] = []
    gets = [p for m, p in routes(app) if m == "GET" and not p.startswith("/schema")]
    for path in gets:
        for url in fill(path, ids, real=True):
            r = await client.get(url)
            _check_page(role, url, r, problems)
            if PARAM.search(path) and url.count(str(MISSING_ID)) and r.status_code < 400 and r.status_code != 303:
                problems.append(f"GET {url} as {role}: missing id gave {r.status_code}, want 403/404")
    if role in POST_ROLES:
        for path in gets:
            if PARAM.search(path):
                continue
            for junk in QUERY_JUNK:
                r = await client.get(f"{path}?{junk}")
                _check_page(role, f"{path}?{junk}", r, problems)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", sorted(POST_ROLES))
async def test_junk_posts_are_refused_without_a_500(client, app, role: str) -> None:
    ids = await _demo_request()
    await _sign_in(client, role, ids)
    token = await client.csrf()
    problems: list[str] = []
    posts = sorted((p for m, p in routes(app) if m == "POST"), key=lambda p: p == "/logout")  # sign out last
    if role != "anonymous":  # sign-in forms hash passwords (slow): the anonymous sweep covers them
        posts = [p for p in posts if not p.startswith(("/login", "/staff/login"))]
    for path in posts:
        for url in fill(path, ids, real=True):
            if str(MISSING_ID) in url or str(HUGE_ID) in url or "junk" in url or "YZ9999" in url:
                r = await client.post(url, data=dict.fromkeys(FIELDS, "1"))
                # A delete of something already gone may simply go back to the list (303); nothing else may succeed.
                if r.status_code >= 500 or (role != "anonymous" and r.status_code < 400
                                            and not (path.endswith("/delete") and r.status_code == 303)):
                    problems.append(f"POST {url} (missing target) as {role} → {r.status_code}")
                continue
            attempts: list[tuple[str, dict[str, Any]]] = [
                ("empty", {}),
                ("no csrf", {"headers": {"x-csrftoken": ""}, "data": {"note": "x"}}),
                ("wrong csrf", {"headers": {"x-csrftoken": "forged" + token[6:]}, "data": {"note": "x"}}),
                ("json junk", {"content": b'{"endpoint": 5, "keys": []',
                               "headers": {"content-type": "application/json"}}),
                ("htmx junk", {"data": dict.fromkeys(FIELDS, "abc"), "headers": {"hx-request": "true"}}),
            ]
            attempts += [(f"junk {v[:8]!r}", {"data": dict.fromkeys(FIELDS, v)}) for v in JUNK_VALUES]
            for label, kwargs in attempts:
                r = await client.post(url, **kwargs)
                if r.status_code >= 500:
                    problems.append(f"POST {url} ({label}) as {role} → {r.status_code}")
                elif label.endswith("csrf") and r.status_code < 400:
                    problems.append(f"POST {url} ({label}) as {role} accepted: {r.status_code}")
    assert not problems, "\n".join(problems)


async def test_unknown_urls_are_the_friendly_404(client) -> None:
    for url in ["/no/such/page", "/r/", "/staff/requests/abc", "/static/../../etc/passwd", "/wishes/%00"]:
        r = await client.get(url)
        assert r.status_code == 404, (url, r.status_code)
        assert "页面不存在" in r.text or "不存在" in r.text, url
    # htmx asks for a fragment: it gets the message (not a whole page) and is told where to show it.
    r = await client.get("/no/such/page", headers={"hx-request": "true"})
    assert r.status_code == 404 and "不存在" in r.text and "<html" not in r.text
    assert r.headers.get("hx-retarget") == "#flash"


async def test_htmx_form_posts_with_bad_input_get_a_4xx_body(client) -> None:
    ids = await _demo_request()
    await client.login_staff("wg_lx_1_1")
    hx = {"hx-request": "true"}
    # An id beyond the id column's range is simply not there (PostgreSQL would refuse the query itself).
    r = await client.get(f"/staff/requests/{HUGE_ID}")
    assert r.status_code == 404 and "不存在" in r.text
    r = await client.post(f"/staff/requests/{ids['request_id']}/accept", data={"version": "abc"}, headers=hx)
    assert 400 <= r.status_code < 500 and r.text.strip(), (r.status_code, r.text[:200])
    r = await client.post(f"/staff/requests/{ids['request_id']}/resolve", data={"version": "1", "note": ""},
                          headers=hx)
    assert 400 <= r.status_code < 500 and r.text.strip(), (r.status_code, r.text[:200])
    r = await client.post("/staff/report", data={"description": "", "kind": "nope"}, headers=hx)
    assert 400 <= r.status_code < 500 and r.text.strip(), (r.status_code, r.text[:200])
    # Nothing changed: the request is still waiting for its grid worker.
    detail = await client.get(f"/staff/requests/{ids['request_id']}")
    assert detail.status_code == 200 and "QA 巡检" in detail.text


async def test_one_bad_field_in_an_otherwise_valid_form(client, new_client) -> None:
    """Junk in a single field (the others valid) reaches the deepest code: still a clear 4xx, nothing stored."""
    ids = await _demo_request()
    lx1 = await unit("LX-1")
    cat = await Category.objects().where(Category.code == "garbage").first()
    report = {"kind": "help", "category": str(cat.id), "description": "路灯不亮", "community": str(lx1.id),
              "is_public": "1"}
    await client.login_resident(ids["phone"])
    bad_reports = [
        {"description": "路灯\x00不亮"},
        {"community": "99999999999999999999"},
        {"category": "²"},
        {"lat": "1e999", "lon": "nan"},
        {"lat": "37.86", "lon": "inf"},
        {"contact_phone": "\x00" * 3},
        {"idempotency_key": "\x00" + "x" * 40},
    ]
    for bad in bad_reports:
        r = await client.post("/report", data=report | bad)
        assert r.status_code < 500, (bad, r.status_code)
    for comment in ["好\x00的", "长" * 2001]:
        r = await client.post(f"/r/{ids['code']}/comment", data={"note": comment, "comment": comment})
        assert r.status_code < 500, (comment[:5], r.status_code)
    async with new_client() as worker:
        await worker.login_staff("wg_lx_1_1")
        for note in ["已\x00处理", "长" * 2001]:
            for action in ["progress", "resolve", "answer", "return"]:
                r = await worker.post(f"/staff/requests/{ids['request_id']}/{action}",
                                      data={"version": str(ids["version"]), "note": note, "reason": note})
                assert r.status_code < 500, (action, note[:5], r.status_code)
        wish = {"title": "需要一根拐杖", "story": "行走不便", "group": "disabled", "value": "120",
                "community": str(lx1.id), "beneficiary_name": "张\x00三", "beneficiary_phone": fresh_phone(),
                "beneficiary_address": "桃园北路", "honorific": "male", "action": "submit", "wanted_by": "2026-02-30"}
        r = await worker.post("/wishes/new", data=wish)
        assert r.status_code < 500, r.status_code
        r = await worker.get("/cc/search?q=%00&phone=%00")
        assert r.status_code < 500
    # The staff junk never moved the request, and nothing over-long was stored (a comment with a NUL byte is
    # refused by PostgreSQL: a 400, nothing written).
    row = await service_request(ids["request_id"])
    assert row["status"] == "assigned"
    notes = await Event.select(Event.note).where(Event.request == ids["request_id"])
    assert all(len(n["note"] or "") <= 2000 for n in notes)


async def test_malformed_bodies_are_a_4xx(client) -> None:
    await client.login_staff("wg_lx_1_1")
    bodies = [
        ("multipart/form-data", b"--x\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--x--\r\n"),
        ("multipart/form-data; boundary=x", b"garbage without parts"),
        ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--x--\r\n"),
        ("application/x-www-form-urlencoded", b"\xff\xfe=%%%&version=%ZZ"),
        ("application/json", b"\x00\x01"),
    ]
    for path in ["/staff/report", "/wishes/new", "/push/subscribe", "/notifications/read"]:
        for content_type, body in bodies:
            r = await client.post(path, content=body, headers={"content-type": content_type})
            assert r.status_code < 500, (path, content_type, r.status_code)
