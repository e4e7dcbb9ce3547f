"""Rating pages: the resident rates the handling of their own request (满意度测评)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect

from backend.ratings import service
from backend.ratings.service import MAX_COMMENT, SCORE_LABELS, NotFound
from backend.requests.service import NotAllowed, RequestError
from backend.requests.tables import Request as Req
from backend.web.flash import N_, flash
from backend.web.guards import signed_in, viewer_of
from backend.web.render import page

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


async def _own_request(request: Request, code: str) -> dict[str, Any]:
    """The viewer's own request by tracking code: staff get 403, other residents 404."""
    viewer = viewer_of(request)
    if viewer is None or not viewer.is_resident:
        raise PermissionDeniedException("只有提交诉求的居民本人可以评价，工作人员不能代为评价")
    req = await Req.select(Req.id, Req.code, Req.status, Req.reporter, Req.version).where(Req.code == code).first()
    if req is None or req["reporter"] != viewer.id:
        raise NotFoundException("诉求不存在")
    return req


class RatingController(Controller):
    path = "/r/{code:str}/rate"
    guards = [signed_in]

    @get("")
    async def form(self, request: Request, code: str) -> Response:
        req = await _own_request(request, code)
        return page(request, "ratings/rate.html", {"req": req, "form": {}, "errors": {},
                                                   "ratings": await service.ratings_of(req["id"])})

    @post("")
    async def submit(self, request: Request, code: str, data: Form) -> Response:
        req = await _own_request(request, code)
        score = str(data.get("score") or "")
        comment = str(data.get("comment") or "")
        try:
            result = await service.rate(req["id"], viewer_of(request), score, comment)
        except NotFound as exc:
            raise NotFoundException(exc.message) from exc
        except NotAllowed as exc:
            raise PermissionDeniedException(exc.message) from exc
        except RequestError as exc:
            if exc.field is None:  # a state refusal (already rated, closed): say so, change nothing
                raise HTTPException(status_code=exc.status, detail=exc.message) from exc
            return page(request, "ratings/rate.html",
                        {"req": req, "form": {"score": score, "comment": comment}, "errors": {exc.field: exc.message},
                         "ratings": await service.ratings_of(req["id"])}, status_code=400)
        if result.action == "reopen":
            flash(request, N_("感谢您的评价。诉求已退回重新办理，我们会尽快处理。"))
        else:
            flash(request, N_("感谢您的评价！"))
        return Redirect(f"/r/{code}#my-rating", status_code=303)


class SupporterRatingController(Controller):
    """A supporter (我也遇到了) rates the result on the request's public page (issue 17)."""

    path = "/p/{code:str}/rate"
    guards = [signed_in]

    @post("")
    async def submit(self, request: Request, code: str, data: Form) -> Response:
        viewer = viewer_of(request)
        if viewer is None or not viewer.is_resident:
            raise PermissionDeniedException("只有关注该诉求的居民可以评价")
        req = await Req.select(Req.id).where(Req.code == code).first()
        if req is None:
            raise NotFoundException("诉求不存在")
        try:
            await service.rate_as_supporter(req["id"], viewer, str(data.get("score") or ""),
                                            str(data.get("comment") or ""))
        except NotFound as exc:
            raise NotFoundException(exc.message) from exc
        except NotAllowed as exc:
            raise PermissionDeniedException(exc.message) from exc
        except RequestError as exc:  # no score, too long, not resolved, already rated: say so, change nothing
            raise HTTPException(status_code=exc.status, detail=exc.message) from exc
        flash(request, N_("感谢您的评价！"))
        return Redirect(f"/p/{code}#supporter-ratings", status_code=303)


__all__ = ["MAX_COMMENT", "SCORE_LABELS", "RatingController", "SupporterRatingController"]
