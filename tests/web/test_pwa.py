"""PWA plumbing seen over HTTP: service worker, offline page, manifest icons, fingerprinted static
assets with long cache lifetimes, compressed responses, elder-friendly mode, field mode."""

from __future__ import annotations

import io
import json
import re

from PIL import Image

from backend.requests import service
from backend.requests.service import NewRequest
from backend.routing.tables import Category
from tests.support.people import resident, staff, unit

ASSET_RE = re.compile(r'(?:href|src)="(/static/[^"?]+\?v=[0-9a-f]{12})"')


async def test_service_worker_is_served_at_the_root_with_its_version(client) -> None:
    r = await client.get("/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["service-worker-allowed"] == "/"
    assert "no-cache" in r.headers["cache-control"]
    assert "__VERSION__" not in r.text and "__PRECACHE__" not in r.text
    version = re.search(r'var VERSION = "([0-9a-f]{12})"', r.text)
    assert version
    precache = json.loads("[" + re.search(r"var PRECACHE = \[(.*?)\];", r.text).group(1) + "]")
    assert "/offline" in precache
    for url in precache:  # everything the worker installs exists
        assert (await client.get(url)).status_code == 200, url


async def test_offline_page(client) -> None:
    r = await client.get("/offline")
    assert r.status_code == 200
    assert "当前没有网络" in r.text


async def test_pages_use_fingerprinted_assets_cached_for_a_year(client) -> None:
    r = await client.get("/")
    assets = ASSET_RE.findall(r.text)
    assert any("css/app.css" in a for a in assets) and any("htmx-2.0.11.min.js" in a for a in assets)
    assert any("js/app.js" in a for a in assets)
    for url in assets:
        a = await client.get(url)
        assert a.status_code == 200
        assert a.headers["cache-control"] == "public, max-age=31536000, immutable", url
    # A stale or missing fingerprint is not promised to be immutable.
    css = next(a for a in assets if "app.css" in a)
    stale = await client.get(css.split("?")[0] + "?v=000000000000")
    assert stale.headers["cache-control"] == "no-cache"
    plain = await client.get("/static/manifest.webmanifest")
    assert plain.headers["cache-control"] == "no-cache"


async def test_responses_are_compressed(client) -> None:
    page = await client.get("/", headers={"accept-encoding": "br"})
    assert page.headers.get("content-encoding") == "br"
    assert "我要反映" in page.text  # httpx decodes brotli
    gz = await client.get("/", headers={"accept-encoding": "gzip"})
    assert gz.headers.get("content-encoding") == "gzip"
    html = (await client.get("/")).text
    htmx_url = next(a for a in ASSET_RE.findall(html) if "htmx" in a)
    js = await client.get(htmx_url, headers={"accept-encoding": "br"})
    assert js.headers.get("content-encoding") == "br"
    assert int(js.headers.get("content-length", "0") or 0) < 25_000 or len(js.content) > 50_000


async def test_manifest_has_png_icons_192_and_512(client) -> None:
    manifest = (await client.get("/static/manifest.webmanifest")).json()
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = {}
    for icon in manifest["icons"]:
        if icon["type"] == "image/png":
            r = await client.get(icon["src"])
            assert r.status_code == 200
            img = Image.open(io.BytesIO(r.content))
            sizes[icon["sizes"]] = img.size
    assert sizes["192x192"] == (192, 192) and sizes["512x512"] == (512, 512)


async def test_elder_mode_is_remembered_and_bigger(client) -> None:
    r = await client.post("/prefs", data={"elder": "1", "next": "/"})
    assert r.status_code == 303
    assert "elder=1" in r.headers["set-cookie"] and "Max-Age=31536000" in r.headers["set-cookie"]
    home = await client.get("/")
    assert re.search(r'<html[^>]*class="elder"', home.text)
    assert "标准模式" in home.text  # the toggle shows the way back
    css = (await client.get("/static/css/app.css")).text
    base = float(re.search(r":root \{[^}]*font-size: (\d+)px", css).group(1))
    elder = re.search(r"html\.elder \{([^}]*)\}", css).group(1)
    assert float(re.search(r"font-size: (\d+)px", elder).group(1)) >= 1.25 * base
    assert int(re.search(r"--tap: (\d+)px", elder).group(1)) >= 48
    off = await client.post("/prefs", data={"elder": "0", "next": "/"})
    assert "elder=0" in off.headers["set-cookie"]
    assert 'class="elder"' not in (await client.get("/")).text


async def test_outbox_strings_are_on_every_page_and_translated(client) -> None:
    zh = (await client.get("/")).text
    assert 'id="outbox"' in zh and 'data-msg-waiting="等待发送"' in zh
    client.cookies.set("lang", "en")
    en = (await client.get("/")).text
    assert 'data-msg-waiting="Waiting to send"' in en


async def _assigned_request() -> tuple[int, int, str]:
    reporter = await resident()
    cat = await Category.objects().where(Category.code == "garbage").first()
    # In a grid of its own (the field list shows red, yellow, then the oldest, at most 100): a worker whose
    # list the rest of the run does not fill.
    req, _ = await service.submit(NewRequest(kind="help", category_id=cat.id, description="现场模式测试：垃圾未清运",
                                             community_id=(await unit("LX-1")).id, grid_id=(await unit("LX-1-3")).id),
                                  reporter)
    return req.id, req.version, req.code


async def test_field_mode_lists_tasks_and_accepts_in_one_tap(client) -> None:
    req_id, version, code = await _assigned_request()
    await client.login_staff("wg_lx_1_3")
    r = await client.get("/staff/field")
    assert r.status_code == 200
    block = r.text.split(f'data-code="{code}"', 1)[1].split("</li>", 1)[0]
    assert f'action="/staff/requests/{req_id}/accept"' in block and "data-offline-queue" in block
    assert f'name="version" value="{version}"' in block
    done = await client.post(f"/staff/requests/{req_id}/accept", data={"version": str(version)})
    assert done.status_code == 303
    after = (await client.get("/staff/field")).text.split(f'data-code="{code}"', 1)[1].split("</li>", 1)[0]
    assert f'action="/staff/requests/{req_id}/resolve"' in after and "data-compress" in after
    assert 'capture="environment"' in after


async def test_field_mode_is_for_staff_only(client) -> None:
    r = await client.get("/staff/field")
    assert r.status_code in (302, 303, 401)
    await client.login_resident((await resident()).phone)
    assert (await client.get("/staff/field")).status_code == 403


async def test_field_tile_on_the_staff_home(client) -> None:
    worker = await staff("wg_lx_1_1")
    assert worker.is_staff
    await client.login_staff("wg_lx_1_1")
    assert 'href="/staff/field"' in (await client.get("/staff")).text
