"""Rating pages: the resident rates the handling of their own request (满意度测评)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body
from litestar.response import Redirect

from backend.errors import DomainError
from backend.ratings import service
from backend.ratings.service import MAX_COMMENT, SCORE_LABELS
from backend.requests.tables import Request as Req
from backend.web.errors import FORM, error_page
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


@dataclass(frozen=True)
class RatingForm:
    score: str
    comment: str

    @classmethod
    def of(cls, data: dict[str, Any]) -> RatingForm:
        return cls(score=str(data.get("score") or ""), comment=str(data.get("comment") or ""))


async def rating_form_again(request: Request, exc: DomainError) -> Response:
    """A bad score or comment: the form again with the field marked. A refusal of the rating itself (not
    yours, already rated, closed) concerns no field: the 4xx page says so, and nothing changed."""
    if exc.field is None:
        return error_page(request, exc.status, exc.message)
    req = await _own_request(request, request.path_params["code"])
    form = RatingForm.of(dict(await request.form()))
    return page(request, "ratings/rate.html",
                {"req": req, "form": {"score": form.score, "comment": form.comment}, "errors": exc.field_errors(),
                 "ratings": await service.ratings_of(req["id"])}, status_code=400)


class RatingController(Controller):
    path = "/r/{code:str}/rate"
    guards = [signed_in]

    @get("")
    async def form(self, request: Request, code: str) -> Response:
        req = await _own_request(request, code)
        return page(request, "ratings/rate.html", {"req": req, "form": {}, "errors": {},
                                                   "ratings": await service.ratings_of(req["id"])})

    @post("", opt={FORM: rating_form_again})
    async def submit(self, request: Request, code: str, data: Form) -> Response:
        req = await _own_request(request, code)
        form = RatingForm.of(data)
        result = await service.rate(req["id"], viewer_of(request), form.score, form.comment)
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
        # A refusal (no score, too long, not resolved, already rated) is a DomainError: the one handler answers it.
        await service.rate_as_supporter(req["id"], viewer, str(data.get("score") or ""), str(data.get("comment") or ""))
        flash(request, N_("感谢您的评价！"))
        return Redirect(f"/p/{code}#supporter-ratings", status_code=303)


__all__ = ["MAX_COMMENT", "SCORE_LABELS", "RatingController", "SupporterRatingController"]
