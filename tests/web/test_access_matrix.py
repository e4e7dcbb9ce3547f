"""The role × route access matrix, generated from the app's own route table (issue 15).

Every GET and POST route of the app must be declared in ACCESS below (who may pass its guard); a route
that is not declared fails ``test_every_route_is_declared``, and an undeclared route without a guard
fails ``test_every_non_public_route_has_a_guard``. Then every route is requested as every role
(anonymous included) and the answer must match the declaration: refused roles get the sign-in
redirect (anonymous) or 403, admitted roles never do. Objects of another resident, unit and street
are refused to everyone outside them, for GET and POST, and nothing changes.

Path parameters are a missing id (or code) so that no admitted POST changes anything; the sweep over
real objects is ``test_objects_of_another_resident_unit_and_street_are_refused``.
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
from tests.web.test_no_500 import MISSING_ID, PARAM, ROLES, STAFF, routes

PARTY_MEMBER = "13800000002"  # the demo district's verified party member (a resident)
MATRIX_ROLES = [*ROLES, "party"]
ANON = {"anonymous"}
EVERYONE = set(MATRIX_ROLES)
SIGNED_IN = EVERYONE - ANON
RESIDENT = {"resident", "party"}
STAFF_ALL = set(STAFF)
ADMIN = {"admin"}
ADMIN_ASSESSOR = {"admin", "zzb"}
DASHBOARD = {"admin", "zzb", "zhzx", "haixi_head"}  # admin, assessor, dispatcher, unit heads
ASSESS = {"admin", "zzb", "haixi_head"}
WISH_REVIEW = {"admin", "haixi", "haixi_head"}  # community staff and heads verify wishes
COMMAND_CENTER = {"zhzx"}
LIGHT_BOARD = {"zhzx", "admin"}  # the command center's red/yellow board (admins too)
FILE_FOR_RESIDENTS = {"wg_lx_1_1", "haixi", "haixi_head", "liuxiang", "zhzx"}  # who files on behalf / on patrol
STREET = {"liuxiang"}
NOT_STAFF = ANON | RESIDENT  # residents report themselves; staff use their own entry
KB_WRITERS = STAFF_ALL - {"zzb"}  # any staff but the assessor write answers (the owner unit's rights inside)
KB_EDITORS = {"zhzx", "admin"}  # the command center keeps the synonyms and sees the unanswered questions
COMMUNITY_PUBLISHERS = {"haixi", "haixi_head"}  # community staff publish their community's notices
PARTY = {"party"}
NOBODY_BY_COOKIE: set[str] = set()  # machine APIs authenticated by an api_key: every browser role is refused (403)

# (method, path pattern) → who passes. The first match wins; every route must match one line.
ACCESS: list[tuple[str, str, set[str]]] = [
    # Public pages: no guard, by design (each is checked object by object where it shows private data).
    ("GET", r"/|/healthz|/offline|/sw\.js|/login|/staff/login|/public|/public/stats", EVERYONE),
    ("GET", r"/schema.*", EVERYONE),  # the OpenAPI description of the routes (no data)
    ("POST", r"/login/code|/login/verify|/staff/login|/logout|/prefs", EVERYONE),
    # WeChat: its server's endpoint (signed by WeChat) and the web sign-in/binding; 404 while unconfigured.
    ("GET", r"/wechat/(callback|login|oauth|bind)", EVERYONE),
    ("POST", r"/wechat/(callback|bind/code|bind/verify|jssdk/refused)", EVERYONE),
    ("GET", r"/p/\{code:str\}", EVERYONE),  # public request page: only published requests, masked
    ("GET", r"/media/.*|/wishes/photos/.*", EVERYONE),  # photos: a permission check per photo (404 otherwise)
    ("GET", r"/wishes|/wishes/stats|/wishes/\{wish_id:int\}", EVERYONE),  # the public board
    ("GET", r"/report", EVERYONE),  # staff are sent on to /staff/report
    ("POST", r"/report", NOT_STAFF),  # anonymous may write (signs in at the end); staff are refused
    # Residents.
    ("GET", r"/my|/report/done/.*|/report/resume/.*", RESIDENT),
    ("POST", r"/r/\{code:str\}/(comment|withdraw)", RESIDENT),
    ("GET|POST", r"/r/\{code:str\}/rate", RESIDENT),  # only the reporter rates (404 for other residents)
    ("GET", r"/r/\{code:str\}", SIGNED_IN),  # its reporter; staff are sent to their page (404 for others)
    # Anyone signed in.
    ("GET|POST", r"/notifications.*|/push/.*", SIGNED_IN),
    ("GET|POST", r"/account.*|/wechat/(unbind|profile|profile/forget|avatar)", SIGNED_IN),  # my account, WeChat
    ("GET", r"/wishes/mine|/wishes/new|/wishes/\{wish_id:int\}/edit", SIGNED_IN),
    ("POST", r"/wishes/\{wish_id:int\}/claim", {"party"}),  # party members claim
    ("POST", r"/wishes/new|/wishes/\{wish_id:int\}/\w+", SIGNED_IN),  # the service checks who may act
    # Staff.
    ("GET", r"/wishes/review", WISH_REVIEW),
    ("GET", r"/wishes/records.*", ADMIN_ASSESSOR),
    ("GET|POST", r"/admin/party-members.*", ADMIN_ASSESSOR),
    ("GET|POST", r"/admin.*", ADMIN),
    ("GET", r"/assess.*", ASSESS),
    ("GET", r"/dashboard.*", DASHBOARD),
    ("GET", r"/cc/lights", LIGHT_BOARD),
    ("GET|POST", r"/cc/.*", COMMAND_CENTER),
    ("GET", r"/street/.*", STREET),
    ("POST", r"/staff/report", FILE_FOR_RESIDENTS),
    ("GET|POST", r"/staff/learning.*", ADMIN_ASSESSOR),  # the organisation department keeps the bank (issue 20)
    ("GET|POST", r"/staff.*|/lights/.*", STAFF_ALL),
    # Policy answers (issue 18): public reading and suggestions; staff write, the command center curates.
    ("GET", r"/kb|/kb/c/.*|/kb/search|/kb/suggest|/kb/\{entry_id:int\}", EVERYONE),
    ("POST", r"/kb/self-served|/kb/\{entry_id:int\}/feedback", EVERYONE),  # counted, never a request
    # The search page's record of the question, the result opened, and 没有找到答案 (the GET writes nothing).
    ("POST", r"/kb/search/log|/kb/search/unanswered|/kb/search/\{search_id:int\}/click", EVERYONE),
    ("GET|POST", r"/kb/manage/(gaps|synonyms).*", KB_EDITORS),
    ("GET|POST", r"/kb/manage.*", KB_WRITERS),
    # 村居公开 (issue 19): public notices; staff manage (the community's own checked inside).
    ("GET", r"/notices|/notices/\{notice_id:int\}|/notices/\{notice_id:int\}/print|/notices/files/.*", EVERYONE),
    ("POST", r"/notices/\{notice_id:int\}/ask", RESIDENT),
    ("GET|POST", r"/notices/new", COMMUNITY_PUBLISHERS),
    ("GET|POST", r"/notices/.*", STAFF_ALL),
    # Learning (issue 20): pages for anyone signed in (the service checks verification); answering for members.
    ("GET", r"/learning/(history|practice)", PARTY),
    ("GET", r"/learning.*", SIGNED_IN),
    ("POST", r"/learning/.*", PARTY),
    # Maps and "me too" (issue 17).
    ("GET", r"/map|/map/.*|/report/route", EVERYONE),  # read-only; public requests only, masked
    ("POST", r"/p/\{code:str\}/support", EVERYONE),  # anonymous are sent to sign in by the handler
    ("POST", r"/p/\{code:str\}/rate", RESIDENT),  # supporters rate the result (issue 17); staff are refused
    # Open311 (issue 21): GETs are public as the spec says; POSTs need an api_key (403 without one).
    ("GET", r"/open311/v2/.*", EVERYONE),
    ("POST", r"/open311/v2/.*", NOBODY_BY_COOKIE),
]


def declared(method: str, path: str) -> set[str] | None:
    for methods, pattern, who in ACCESS:
        if method in methods.split("|") and re.fullmatch(pattern, path):
            return who
    return None


def matrix_routes(app) -> list[tuple[str, str]]:
    # Sign out last: it ends the role's session.
    return sorted(routes(app), key=lambda mp: (mp == ("POST", "/logout"), mp))


def concrete(path: str) -> str:
    return PARAM.sub(lambda m: str(MISSING_ID) if m.group(2) == "int" else "YZ99999999", path)


def outcome(r) -> str:
    if r.status_code == 401:
        return "login"
    if r.status_code in (302, 303) and r.headers.get("location", "").startswith(("/login", "/staff/login")):
        return "login"
    if r.status_code == 403:
        return "refused"
    return "admitted"


def test_every_route_is_declared(app) -> None:
    missing = [f"{m} {p}" for m, p in routes(app) if declared(m, p) is None]
    assert not missing, "declare who may use these routes in ACCESS:\n" + "\n".join(missing)


def test_every_non_public_route_has_a_guard(app) -> None:
    """A route that admits fewer than everyone must say so with a guard, not only in its body."""
    unguarded = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            guards = [g for layer in handler.ownership_layers for g in (getattr(layer, "guards", None) or [])]
            for method in handler.http_methods & {"GET", "POST"}:
                who = declared(method, route.path)
                # (an api_key API authenticates in its handler: it has no cookie guard to declare)
                if who is not None and "anonymous" not in who and who is not NOBODY_BY_COOKIE and not guards:
                    unguarded.append(f"{method} {route.path}")
    assert not unguarded, "\n".join(unguarded)


async def _sign_in(client, role: str) -> None:
    if role == "resident":
        await client.login_resident(fresh_phone())
    elif role == "party":
        await client.login_resident(PARTY_MEMBER)
    elif role != "anonymous":
        await client.login_staff(role)


@pytest.mark.parametrize("role", MATRIX_ROLES)
async def test_role_route_matrix(client, app, role: str) -> None:
    await _sign_in(client, role)
    problems: list[str] = []
    cases = 0
    for method, path in matrix_routes(app):
        who = declared(method, path)
        assert who is not None, f"{method} {path} is not declared"
        url = concrete(path)
        r = await (client.get(url) if method == "GET" else client.post(url, data={}))
        cases += 1
        got = outcome(r)
        if r.status_code >= 500:
            problems.append(f"{method} {url} as {role}: {r.status_code}")
        elif role in who and got != "admitted":
            problems.append(f"{method} {url} as {role}: {got} ({r.status_code}), should be admitted")
        elif role not in who and got != ("login" if role == "anonymous" and who is not NOBODY_BY_COOKIE
                                         else "refused"):
            problems.append(f"{method} {url} as {role}: {got} ({r.status_code}), should be refused")
    assert cases == len(routes(app))
    assert not problems, "\n".join(problems)


async def _foreign_request() -> dict[str, Any]:
    """A request of another resident, in another street (迎泽 MQ-1) than the LX staff look after."""
    reporter = await resident(fresh_phone())
    cat = await Category.objects().where(Category.code == "garbage").first()
    community = await unit("MQ-1")
    req, _ = await service.submit(NewRequest(kind="help", category_id=cat.id, description="别人的诉求：私密内容",
                                             community_id=community.id), reporter)
    return {"request_id": req.id, "code": req.code, "version": req.version}


# Outside MQ-1's street: another resident, a grid worker, community staff and head, street staff of
# another street, a department not assigned, and an assessor for POSTs (read-only role).
OUTSIDERS = ["anonymous", "resident", "wg_lx_1_1", "haixi", "haixi_head", "liuxiang", "hwk"]


@pytest.mark.parametrize("role", OUTSIDERS)
async def test_objects_of_another_resident_unit_and_street_are_refused(client, app, role: str) -> None:
    ids = await _foreign_request()
    await _sign_in(client, role)
    problems: list[str] = []
    for method, path in matrix_routes(app):
        if not re.search(r"\{(request_id|code):", path) or path.startswith("/p/"):
            continue
        url = path.replace("{request_id:int}", str(ids["request_id"])).replace("{code:str}", ids["code"])
        url = concrete(url)
        form = {"version": str(ids["version"]), "note": "越权尝试", "reason": "越权尝试", "score": "satisfied",
                "comment": "越权尝试"}
        r = await (client.get(url) if method == "GET" else client.post(url, data=form))
        if r.status_code >= 500 or (r.status_code < 400 and outcome(r) != "login"
                                    and not r.headers.get("location", "").startswith(("/staff", "/r/"))):
            problems.append(f"{method} {url} as {role}: {r.status_code}")
        elif "私密内容" in r.text:
            problems.append(f"{method} {url} as {role}: shows the request")
    row = await Request.select(Request.version, Request.status).where(Request.id == ids["request_id"]).first()
    assert row["version"] == ids["version"], "an outsider changed the request"
    assert await Event.count().where(Event.request == ids["request_id"]) == 1
    assert not problems, "\n".join(problems)
