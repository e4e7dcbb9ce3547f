"""PWA plumbing: the service worker at the site root, the offline page."""

from __future__ import annotations

from litestar import Controller, Request, Response, get

from backend.pwa.assets import sw_source
from backend.web.render import page


class PwaController(Controller):
    path = ""
    include_in_schema = False

    @get("/sw.js", cache=False)
    async def service_worker(self) -> Response:
        # Served from the root so its scope is the whole site; revalidated on every visit so a
        # new version (new asset hashes) is picked up at once.
        return Response(
            sw_source(),
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    @get("/offline")
    async def offline(self, request: Request) -> Response:
        return page(request, "pwa/offline.html", headers={"Cache-Control": "no-cache"})

