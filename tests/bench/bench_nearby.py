"""Nearby duplicates and the command-center map at scale (issue 17).

    scripts/bench nearby                       # 1,000,000 requests, 10,000 of them open
    scripts/bench nearby -- --requests 200000 --open 10000 --samples 500

Generates ``--requests`` requests by COPY into a throwaway embedded PostgreSQL (tests/bench/services.py),
spread uniformly over the demo district, ``--open`` of them open (the rest resolved/closed), 90 % public,
over the demo categories. Then measures:

1. the nearby query (``backend.maps.service.nearby``: same category, open, public, within 250 m), called as
   the report form calls it, at random points: p50/p95 in ms (budget: p95 ≤ 5 ms);
2. the command-center map's pins (``GET /staff/map/pins.json`` signed in as the dispatcher, through the app):
   bytes transferred with brotli (what a browser accepts) and without compression (budget: ≤ 300 KB);
3. the same nearby query after ten times more requests are opened (a backlog that never happens), to show
   the partial index's margin;
4. with Debian's chromium present: the time until the command-center map has drawn every pin.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

BATCH = 50_000
LON0, LAT0, LON1, LAT1 = 112.52, 37.845, 112.60, 37.875  # the demo district


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def generate(n: int, n_open: int, seed: int = 17) -> float:
    import asyncpg

    from backend.db import utcnow
    from backend.organisation.tables import Unit
    from backend.routing.tables import Category
    from backend.settings import get_settings

    rng = random.Random(seed)
    now = utcnow()
    comms = await Unit.select(Unit.id, Unit.parent).where(Unit.kind == "community")
    cats = [c["id"] for c in await Category.select(Category.id)]
    open_ids = set(rng.sample(range(n), n_open))
    cols = ["code", "kind", "category", "description", "is_public", "source", "contact_name", "contact_phone",
            "address", "lat", "lon", "street", "community", "status", "level", "urgent", "answer", "close_reason",
            "version", "created_at", "updated_at"]
    t0 = time.perf_counter()
    db = await asyncpg.connect(get_settings().database_url)
    done = 0
    while done < n:
        rows = []
        for i in range(done, min(n, done + BATCH)):
            c = rng.choice(comms)
            status = rng.choice(("assigned", "accepted")) if i in open_ids else rng.choice(("resolved", "closed"))
            t = now - timedelta(days=rng.random() * 3650)
            rows.append((f"N{i:011d}", "help", rng.choice(cats), "路灯不亮", rng.random() < 0.9, "resident", "", "", "",
                         rng.uniform(LAT0, LAT1), rng.uniform(LON0, LON1), c["parent"], c["id"], status, "community",
                         False, "", "", 1, t, t))
        await db.copy_records_to_table("request", records=rows, columns=cols)
        done += len(rows)
        print(f"\r  generated {done:,}/{n:,} requests", end="", flush=True)
    print()
    await db.execute("ANALYZE request")
    await db.close()
    return time.perf_counter() - t0


async def measure_nearby(samples: int, label: str) -> None:
    from backend.maps.service import nearby, nearby_sql
    from backend.requests.tables import Request
    from backend.routing.tables import Category

    rng = random.Random(5)
    cats = [c["id"] for c in await Category.select(Category.id)]
    for _ in range(20):  # warm the pool and the cache
        await nearby(rng.choice(cats), rng.uniform(LAT0, LAT1), rng.uniform(LON0, LON1))
    times, found = [], []
    for _ in range(samples):
        cat, lat, lon = rng.choice(cats), rng.uniform(LAT0, LAT1), rng.uniform(LON0, LON1)
        t = time.perf_counter()
        rows = await nearby(cat, lat, lon)
        times.append((time.perf_counter() - t) * 1000)
        found.append(len(rows))
    sql, args = nearby_sql(cat, lat, lon)
    plan = await Request.raw("EXPLAIN (ANALYZE, BUFFERS) " + sql, *args)
    print("    plan of the last query:\n      " + "\n      ".join(r["QUERY PLAN"] for r in plan))
    print(f"  nearby ({label}): {samples} queries, p50 {statistics.median(times):.2f} ms, "
          f"p95 {pct(times, 95):.2f} ms, max {max(times):.2f} ms; {statistics.mean(found):.2f} found on average")


async def measure_payload() -> None:
    import httpx

    from backend.app import app

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        await client.get("/")
        token = client.cookies["csrftoken"]
        r = await client.post("/staff/login", data={"username": "zhzx", "password": "demo1234"},
                              headers={"x-csrftoken": token})
        assert r.status_code == 303, r.status_code
        for url in ("/staff/map/pins.json", "/staff/map/density.json?start=2000-01-01&end=2100-01-01"):
            sizes = {}
            for enc in ("br", "gzip", "identity"):
                t = time.perf_counter()
                async with client.stream("GET", url, headers={"accept-encoding": enc}) as resp:
                    raw = b"".join([chunk async for chunk in resp.aiter_raw()])
                    sizes[enc] = (len(raw), resp.headers.get("content-encoding", "-"),
                                  (time.perf_counter() - t) * 1000)
            r = await client.get(url)
            pins = len(r.json().get("pins", r.json().get("features", [])))
            print(f"  {url}: {pins:,} items; " + "; ".join(
                f"{enc}: {n / 1024:.0f} KB ({ce}, {ms:.0f} ms)" for enc, (n, ce, ms) in sizes.items()))


def measure_browser(env: dict[str, str]) -> None:
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, PHONE
    from tests.support.services import free_port

    if not HAVE_CHROMIUM:
        print("  browser: Debian's chromium missing, skipped")
        return
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "backend.app:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning", "--no-access-log"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import httpx

        for _ in range(150):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        asyncio.run(_browser(f"http://127.0.0.1:{port}", CHROMIUM, CHROMIUM_ARGS, PHONE))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _browser(url: str, chromium: str, args: list[str], phone: dict) -> None:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=args)
        ctx = await browser.new_context(base_url=url, **phone)
        page = await ctx.new_page()
        page.on("pageerror", lambda exc: print(f"    page error: {exc}"))
        page.on("console", lambda m: print(f"    console {m.type}: {m.text[:200]}") if m.type in ("error", "warning")
                else None)
        page.on("response", lambda r: print(f"    HTTP {r.status} {r.url[:100]}") if r.status >= 400 else None)
        await page.goto("/staff/login")
        await page.fill("#username", "zhzx")
        await page.fill("#password", "demo1234")
        async with page.expect_navigation():
            await page.click("form[action='/staff/login'] button[type=submit]")
        times, drawn = [], []
        for _ in range(3):
            t = time.perf_counter()
            await page.goto("/staff/map")
            try:
                await page.locator("[data-testid=staff-map][data-ready]").wait_for(state="attached", timeout=60_000)
            except Exception:
                print("    map not ready:", await page.evaluate(
                    "() => { const el = document.querySelector('[data-testid=staff-map]'); return el ? "
                    "[...el.attributes].map(a => a.name + '=' + a.value.slice(0, 80)).join(' ') : 'no map'; }"))
                print("    resources:", await page.evaluate(
                    "() => performance.getEntriesByType('resource').map(r => r.name.split('/').pop().slice(0, 60)"
                    " + ' ' + Math.round(r.responseEnd)).join('; ')"))
                raise
            times.append(time.perf_counter() - t)
            drawn.append(int(await page.locator("[data-testid=staff-map]").get_attribute("data-ready")) / 1000)
        phases = await page.evaluate("""() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const res = performance.getEntriesByType('resource').filter(r => /json|leaflet.js/.test(r.name))
              .map(r => r.name.split('/').pop().split('?')[0] + ' ' + Math.round(r.startTime) + '-'
                + Math.round(r.responseEnd));
            return 'html ' + Math.round(nav.responseEnd) + ', DOMContentLoaded '
              + Math.round(nav.domContentLoadedEventEnd) + '; ' + res.join('; ') + '; drawn '
              + document.querySelector('[data-testid=staff-map]').dataset.ready + ' (ms since navigation)';
          }""")
        print("    last view: " + phases)
        n = await page.locator("[data-testid=staff-map]").get_attribute("data-pins-count")
        print(f"  browser (chromium, phone viewport): /staff/map with {int(n):,} pins drawn "
              f"{', '.join(f'{s:.2f}' for s in drawn)} s after the navigation started (the page's own clock); "
              f"Playwright's goto + wait: {', '.join(f'{s:.2f}' for s in times)} s")
        await browser.close()


async def run(n: int, n_open: int, samples: int) -> None:
    import logging

    logging.disable(logging.INFO)
    from backend.cli import migrate
    from backend.db import engine as db_engine
    from backend.demo import load_demo

    await db_engine().start_connection_pool(min_size=2, max_size=20)
    try:
        await migrate()
        await load_demo()
        print(f"PostgreSQL (embedded) requests={n:,} open={n_open:,}")
        seconds = await generate(n, n_open)
        print(f"  generation (COPY): {seconds:.1f} s")
        await measure_nearby(samples, f"{n_open:,} open")
        await measure_payload()
    finally:
        from backend.jobs import close_arq_pool
        from backend.redis import close_redis

        await close_arq_pool()
        await close_redis()
        await db_engine().close_connection_pool()


async def reopen_more(n_open: int, samples: int) -> None:
    from backend.db import engine as db_engine
    from backend.requests.tables import Request

    await db_engine().start_connection_pool(min_size=2, max_size=20)
    try:
        await Request.raw(f"UPDATE request SET status = 'assigned' WHERE id IN (SELECT id FROM request WHERE "
                          f"status IN ('resolved', 'closed') ORDER BY id LIMIT {n_open * 9})")
        await Request.raw("ANALYZE request")
        await measure_nearby(samples, f"{n_open * 10:,} open")
    finally:
        await db_engine().close_connection_pool()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--open", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()
    from tests.bench.services import bench_services

    with bench_services("qg-bench-near-") as svc:
        svc.export()  # before the first backend import reads the settings
        asyncio.run(run(args.requests, args.open, args.samples))
        measure_browser(dict(os.environ))
        asyncio.run(reopen_more(args.open, args.samples))


if __name__ == "__main__":
    main()
