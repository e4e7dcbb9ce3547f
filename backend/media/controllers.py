"""The hourly upload limits every form with photos applies (requests, wishes, notices).

Serving a photo is its owner's: a request's photos at ``/media/…`` (``backend.requests.photos``), a wish's at
``/wishes/photos/…``.
"""

from __future__ import annotations

from litestar import Request
from litestar.exceptions import HTTPException

from backend.accounts.controllers import client_ip
from backend.i18n import gettext as _
from backend.media import service as media
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
