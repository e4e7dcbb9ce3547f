"""Serve a request's photo copies (display, thumb) through the request's permission check."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.exceptions import NotFoundException

from backend.requests.photos.service import read_photo
from backend.web.guards import viewer_of


class RequestPhotoController(Controller):
    path = "/media"

    @get("/{photo_id:int}/{variant:str}")
    async def photo(self, request: Request, photo_id: int, variant: str) -> Response:
        data = await read_photo(viewer_of(request), photo_id, variant)
        if data is None:
            # The same answer for "missing" and "not yours": nothing about private requests leaks.
            raise NotFoundException("照片不存在或您无权查看")
        return Response(content=data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})
