"""Benchmark: the resident home page's budget, measured in Debian's chromium over the Chrome DevTools Protocol.

    .venv/bin/python tests/bench/bench_budget.py

Starts its own Redis and embedded PostgreSQL (tests/bench/services.py; migrated, demo district loaded
by ``backend.cli setup``), the real app under uvicorn on loopback, and chromium (phone viewport).
Measures, from CDP Network events:

1. first load of ``/`` in a fresh profile: bytes transferred (compressed, HTML + CSS + JS + htmx + icon);
   budget ≤ 60 KB;
2. a repeat visit once the service worker controls the page: network bytes of static assets; budget 0
   (every /static asset is answered by the service worker);
3. Largest Contentful Paint under simulated slow 3G (400 kb/s both ways, 400 ms RTT, via
   ``Network.emulateNetworkConditions``) on a cold cache; budget ≤ 2.5 s.

Exits non-zero when a budget is exceeded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

BUDGET_FIRST_LOAD = 60 * 1024
BUDGET_LCP_MS = 2500
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN"}
LCP_JS = """() => new Promise(resolve => {
  let last = 0;
  new PerformanceObserver(list => { for (const e of list.getEntries()) last = e.startTime; })
    .observe({type: 'largest-contentful-paint', buffered: true});
  setTimeout(() => resolve(last), 300);
})"""


class NetworkLog:
    """Per-request CDP Network events: URL, whether the service worker answered, bytes on the wire."""

    def __init__(self, cdp) -> None:
        self.requests: dict[str, dict] = {}
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)

    def _sent(self, e: dict) -> None:
        self.requests.setdefault(e["requestId"], {"url": e["request"]["url"], "sw": False, "bytes": 0})

    def _response(self, e: dict) -> None:
        r = self.requests.setdefault(e["requestId"], {"url": e["response"]["url"], "sw": False, "bytes": 0})
        r["sw"] = bool(e["response"].get("fromServiceWorker"))
        r["encoding"] = {k.lower(): v for k, v in e["response"].get("headers", {}).items()}.get("content-encoding", "")

    def _finished(self, e: dict) -> None:
        r = self.requests.get(e["requestId"])
        if r is not None:
            r["bytes"] = int(e.get("encodedDataLength", 0))

    def total(self) -> int:
        return sum(r["bytes"] for r in self.requests.values())

    def static_network_bytes(self) -> tuple[int, list[dict]]:
        static = [r for r in self.requests.values() if "/static/" in r["url"]]
        return sum(r["bytes"] for r in static if not r["sw"]), static


def start_web(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """``backend.cli setup`` (adopts the running server: migrate + demo), then the app under uvicorn."""
    from tests.support.services import free_port

    setup = subprocess.run([sys.executable, "-m", "backend.cli", "setup"], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=600)
    if setup.returncode != 0:
        raise SystemExit("setup failed:\n" + setup.stdout[-2000:] + setup.stderr[-2000:])
    port = free_port()
    with (Path(env["QG_DATA_DIR"]) / "web.log").open("ab") as log:  # the app's request log (BENCH_KEEP=1 keeps it)
        web = subprocess.Popen([sys.executable, "-m", "uvicorn", "backend.app:app", "--host", "127.0.0.1", "--port",
                                str(port), "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return web, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or web.poll() is not None:
            stop(web)
            raise SystemExit("the app did not start")
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def sw_install_bytes(url: str) -> int:
    """What the service worker itself fetches on install (its script, the offline page, the PNG icon),
    compressed as served: it runs in another target, so the page's CDP log does not see it. The
    fingerprinted assets it precaches come from the HTTP cache the page just filled."""
    import re

    import httpx

    with httpx.Client(base_url=url, headers={"accept-encoding": "br, gzip"}) as c:
        sw = c.get("/sw.js")
        total = int(sw.headers.get("content-length") or len(sw.content))
        for extra in ["/offline", *re.findall(r'"(/static/icons/icon-192\.png\?v=[0-9a-f]+)"', sw.text)]:
            with c.stream("GET", extra) as r:
                total += sum(len(chunk) for chunk in r.iter_raw())
    return total


def measure(url: str) -> dict:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        # 1 + 2: first load, then a repeat visit in the same profile.
        ctx = browser.new_context(base_url=url, **PHONE)
        page = ctx.new_page()
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})
        first = NetworkLog(cdp)
        page.goto("/", wait_until="networkidle")
        out["first_load_bytes"] = first.total()
        out["first_load_requests"] = [(r["url"].removeprefix(url), r["bytes"], r.get("encoding", ""))
                                      for r in first.requests.values()]
        page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null",
                               timeout=20_000)
        cdp.detach()
        page.close()
        page = ctx.new_page()
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        repeat = NetworkLog(cdp)
        page.goto("/", wait_until="networkidle")
        static_bytes, static = repeat.static_network_bytes()
        out["repeat_static_network_bytes"] = static_bytes
        out["repeat_static_from_sw"] = f"{sum(1 for r in static if r['sw'])}/{len(static)}"
        out["repeat_total_bytes"] = repeat.total()
        ctx.close()
        out["sw_install_bytes"] = sw_install_bytes(url)
        # 3: LCP on slow 3G, cold cache, fresh profile.
        ctx = browser.new_context(base_url=url, **PHONE)
        page = ctx.new_page()
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        page.goto("/", wait_until="load")
        out["slow3g_lcp_ms"] = round(page.evaluate(LCP_JS))
        ctx.close()
        browser.close()
    return out


def main() -> int:
    from tests.bench.services import bench_services

    with bench_services("qg-bench-budget-") as svc:
        web, url = start_web(svc.env)
        try:
            r = measure(url)
        finally:
            stop(web)
    print("first load of / (fresh profile):")
    for path, size, enc in r["first_load_requests"]:
        print(f"    {size:>7} B  {enc or '-':<5} {path}")
    ok_first = r["first_load_bytes"] <= BUDGET_FIRST_LOAD
    ok_repeat = r["repeat_static_network_bytes"] == 0
    ok_lcp = 0 < r["slow3g_lcp_ms"] <= BUDGET_LCP_MS
    print(f"first load transferred:      {r['first_load_bytes'] / 1024:.1f} KB (budget 60 KB) "
          f"{'OK' if ok_first else 'OVER'}")
    with_sw = r["first_load_bytes"] + r["sw_install_bytes"]
    print(f"  + service worker install:  {r['sw_install_bytes'] / 1024:.1f} KB → {with_sw / 1024:.1f} KB in all "
          f"{'OK' if with_sw <= BUDGET_FIRST_LOAD else 'OVER'}")
    ok_first = ok_first and with_sw <= BUDGET_FIRST_LOAD
    print(f"repeat visit, static assets: {r['repeat_static_network_bytes']} network bytes, "
          f"{r['repeat_static_from_sw']} from the service worker (budget 0) {'OK' if ok_repeat else 'OVER'}")
    print(f"repeat visit, page bytes:    {r['repeat_total_bytes'] / 1024:.1f} KB (the HTML, fetched by the worker)")
    print(f"slow 3G (400 kb/s, 400 ms RTT) LCP: {r['slow3g_lcp_ms']} ms (budget 2500 ms) "
          f"{'OK' if ok_lcp else 'OVER'}")
    return 0 if ok_first and ok_repeat and ok_lcp else 1


if __name__ == "__main__":
    sys.exit(main())
