"""Serve photo copies (display, thumb) through a permission check; the hourly upload limits for every form."""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.exceptions import HTTPException, NotFoundException

from backend.accounts.controllers import client_ip
from backend.i18n import gettext as _
from backend.media import service as media
from backend.media.service import read_photo
from backend.web.auth import draft_token
from backend.web.guards import viewer_of


async def upload_quota(request: Request, files: list[tuple[str, bytes]]) -> None:
    """Count uploads against the hourly limits per IP and per session/account, before any image is decoded
    or written; 429 with Retry-After when over."""
    if not files:
        return
    viewer = viewer_of(request)
    holder = f"acc:{viewer.id}" if viewer else f"s:{draft_token(request, create=True)}"
    try:
        await media.take_upload_quota(files, ip=client_ip(request), holder=holder,
                                      staff=bool(viewer and viewer.is_staff))
    except media.UploadQuotaExceeded as exc:
        raise HTTPException(status_code=429, detail=_("一小时内上传的照片太多，请稍后再试"),
                            headers={"Retry-After": str(exc.retry_after)}) from None


class MediaController(Controller):
    path = "/media"

    @get("/{photo_id:int}/{variant:str}")
    async def photo(self, request: Request, photo_id: int, variant: str) -> Response:
        data = await read_photo(viewer_of(request), photo_id, variant)
        if data is None:
            # The same answer for "missing" and "not yours": nothing about private requests leaks.
            raise NotFoundException("照片不存在或您无权查看")
        return Response(content=data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})
