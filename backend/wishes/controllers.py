"""Micro-wish pages: the board, a shareable page per wish, posting, verification and the claim flow."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.response import Redirect

from backend.accounts.service import Viewer, mask_phone
from backend.accounts.tables import Role
from backend.db import utcnow
from backend.errors import DomainError
from backend.media.controllers import upload_quota
from backend.media.service import read_file as read_photo
from backend.web.errors import FORM, FormPage, error_page
from backend.web.flash import N_, flash
from backend.web.forms import form_int
from backend.web.guards import roles, signed_in, viewer_of
from backend.web.render import page
from backend.wishes import service
from backend.wishes.checks import WishInput
from backend.wishes.reading import BoardQuery
from backend.wishes.rules import (
    BOARD_STATUS_LABELS,
    CLAIM_LABELS,
    GROUP_LABELS,
    HONORIFIC_LABELS,
    STATUS_LABELS,
    FormErrors,
    WishError,
)

LABELS = {"groups": GROUP_LABELS, "statuses": STATUS_LABELS, "claim_labels": CLAIM_LABELS,
          "honorifics": HONORIFIC_LABELS, "board_statuses": BOARD_STATUS_LABELS}
MAX_FIELD = 5000

# The confirmation each action ends with (shown once on the wish's page, in the reader's language).
WISH_DONE = {
    "approve": N_("已核实通过，心愿已发布到心愿墙"), "reject": N_("已退回，并告知提交人原因"),
    "claim": N_("认领成功！请尽快联系受助人"), "contact": N_("联系情况已记录"),
    "fulfil": N_("已提交完成凭证，等待确认"), "confirm": N_("已确认心愿完成，谢谢"),
    "submit": N_("已提交社区核实"), "release": N_("已放弃认领，心愿回到心愿墙"),
}


async def _form(request: Request) -> tuple[dict[str, str], list[tuple[bytes, str]]]:
    """Plain fields (trimmed to a sane length) and the uploaded photos of a urlencoded or multipart form."""
    form = await request.form()
    fields: dict[str, str] = {}
    files: list[tuple[bytes, str]] = []
    for key, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            if data or value.filename:  # an empty file input still sends an empty part
                files.append((data, value.filename or ""))
        elif key not in fields:
            fields[key] = str(value)[:MAX_FIELD]
    fields["_remove"] = ",".join(str(v) for v in form.getall("remove_photo") if form_int(v) is not None) \
        if "remove_photo" in form else ""
    await upload_quota(request, [(name, data) for data, name in files])
    return fields, files


def _wish_input(f: dict[str, str]) -> WishInput:
    return WishInput(
        title=f.get("title", ""), story=f.get("story", ""), group=f.get("group", ""), value=f.get("value", ""),
        community_id=form_int(f.get("community")), wanted_by=f.get("wanted_by", ""),
        beneficiary_name=f.get("beneficiary_name", ""), beneficiary_phone=f.get("beneficiary_phone", ""),
        beneficiary_address=f.get("beneficiary_address", ""), honorific=f.get("honorific", "family"),
        thanks_story=f.get("thanks_story", ""), thanks_consent=f.get("thanks_consent") in ("1", "on", "true"),
    )


def _viewer(request: Request) -> Viewer:
    viewer = viewer_of(request)
    assert viewer is not None, "guarded by signed_in"
    return viewer


def _not_found(exc: WishError) -> NotFoundException:
    return NotFoundException(exc.message)


def wish_again(action: str) -> FormPage:
    """The wish page with the refused action's message and what was typed; a viewer who may not even see
    the wish gets the refusal alone (its 4xx page)."""

    async def reshow(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, service.NotFound):
            return error_page(request, exc.status, exc.message)
        form = await request.form()
        fields = {k: str(v)[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)}
        try:
            return await WishController._detail(request, request.path_params["wish_id"], error=exc,
                                                 form=fields | {"_action": action})
        except service.NotFound:  # the viewer may not even see this wish: the refusal alone
            return error_page(request, exc.status, exc.message)

    return reshow


class WishController(Controller):
    path = "/wishes"

    # ------------------------------------------------------------ the board

    @get("/")
    async def board(self, request: Request, community: str = "", group: str = "", vmin: str = "", vmax: str = "",
                    status: str = "open", sort: str = "newest", page_no: int = 1) -> Response:
        q = BoardQuery(community=form_int(community), group=group, vmin=form_int(vmin), vmax=form_int(vmax),
                       status=status, sort=sort, page=page_no).normalised()
        rows, has_next = await service.board(q)
        now = utcnow()
        names = await service.community_names()
        cards = [r | {"community_name": names.get(r["community"], ""), "waited": service.waited_days(r, now)}
                 for r in rows]
        params = {"community": q.community or "", "group": q.group, "vmin": "" if q.vmin is None else q.vmin,
                  "vmax": "" if q.vmax is None else q.vmax, "status": q.status, "sort": q.sort}
        base = {k: v for k, v in params.items() if v not in ("", None)}
        ctx = {"cards": cards, "q": q, "params": params, "communities": names, "has_next": has_next,
               "next_url": "/wishes?" + urlencode(base | {"page_no": q.page + 1}),
               "prev_url": "/wishes?" + urlencode(base | {"page_no": q.page - 1}) if q.page > 1 else None, **LABELS}
        return page(request, "wishes/board.html", ctx, block="results")

    @get("/stats")
    async def stats(self, request: Request) -> Response:
        return page(request, "wishes/stats.html", {"stats": await service.board_stats()})

    # ------------------------------------------------------------ one wish

    @staticmethod
    async def _detail(request: Request, wish_id: int, *, error: DomainError | None = None,
                      form: dict[str, str] | None = None) -> Response:
        v = await service.view_wish(viewer_of(request), wish_id)
        ctx = {"v": v, "w": v.wish, "error": error, "form": form or {}, "now": utcnow(),
               "waited": service.waited_days(v.wish, utcnow()), "mask_phone": mask_phone,
               "contact_days": service.CONTACT_DAYS, **LABELS}
        return page(request, "wishes/detail.html", ctx, status_code=error.status if error else 200)

    @get("/{wish_id:int}")
    async def detail(self, request: Request, wish_id: int) -> Response:
        return await self._detail(request, wish_id)

    @get("/photos/{photo_id:int}/{size:str}")
    async def photo(self, request: Request, photo_id: int, size: str) -> Response:
        row = await service.photo_for(viewer_of(request), photo_id)
        data = read_photo(row["thumb_key"] if size == "thumb" else row["display_key"])
        if data is None:
            raise NotFoundException("照片文件不存在")
        return Response(content=data, media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})

    # ------------------------------------------------------------ posting and editing

    async def _form_page(self, request: Request, *, wish_id: int | None, form: dict[str, Any],
                         errors: dict[str, str], status: int = 200, photos: list[dict] | None = None) -> Response:
        viewer = _viewer(request)
        choices = await (service.managed_communities(viewer) if viewer.is_staff else service.communities())
        groups: dict[str, list[dict[str, Any]]] = {}  # by street, in the tree's order (as on the report form)
        for c in choices:
            groups.setdefault(c["street"] or "", []).append(c)
        ctx = {"wish_id": wish_id, "form": form, "errors": errors, "communities": choices, "photos": photos or [],
               "community_groups": groups,
               "max_photos": service.MAX_PHOTOS, **LABELS}
        return page(request, "wishes/form.html", ctx, status_code=status)

    @get("/new", guards=[signed_in])
    async def new(self, request: Request, community: str = "") -> Response:
        return await self._form_page(request, wish_id=None, form={"honorific": "family", "community": community},
                                     errors={})

    @post("/new", guards=[signed_in])
    async def create(self, request: Request) -> Response:
        fields, files = await _form(request)
        try:
            wish_id = await service.create_wish(_viewer(request), _wish_input(fields), files,
                                                submit=fields.get("action") != "draft")
        except FormErrors as exc:
            return await self._form_page(request, wish_id=None, form=fields, errors=exc.field_errors(), status=400)
        except WishError as exc:
            return await self._form_page(request, wish_id=None, form=fields, errors={exc.field or "title": exc.message},
                                         status=exc.status)
        flash(request, N_("心愿已保存为草稿") if fields.get("action") == "draft" else N_("心愿已提交，等待社区核实"))
        return Redirect(f"/wishes/{wish_id}", status_code=303)

    @get("/{wish_id:int}/edit", guards=[signed_in])
    async def edit(self, request: Request, wish_id: int) -> Response:
        v = await service.view_wish(_viewer(request), wish_id)
        if not (v.can_manage or v.is_author):
            raise NotFoundException("心愿不存在")
        w = v.wish
        form = {k: ("" if w.get(k) is None else w.get(k)) for k in (
            "title", "story", "group", "value", "community", "wanted_by", "beneficiary_name", "beneficiary_phone",
            "beneficiary_address", "honorific", "thanks_story", "thanks_consent")}
        form["status"] = w["status"]
        return await self._form_page(request, wish_id=wish_id, form=form, errors={}, photos=v.photos)

    @post("/{wish_id:int}/edit", guards=[signed_in])
    async def update(self, request: Request, wish_id: int) -> Response:
        fields, files = await _form(request)
        remove = [int(x) for x in fields.get("_remove", "").split(",") if x]
        viewer = _viewer(request)
        try:
            await service.update_wish(viewer, wish_id, _wish_input(fields), files, remove_photos=remove,
                                      submit=fields.get("action") == "submit")
        except service.NotFound as exc:
            raise _not_found(exc) from exc
        except (FormErrors, WishError) as exc:
            errors = exc.field_errors("title")
            try:
                v = await service.view_wish(viewer, wish_id)
            except service.NotFound as nf:  # someone else's unpublished wish: it does not exist for this viewer
                raise _not_found(nf) from exc
            if not (v.can_manage or v.is_author):  # as the edit form (GET): no edit for others' wishes
                raise NotFoundException("心愿不存在") from exc
            fields["status"] = v.wish["status"]
            return await self._form_page(request, wish_id=wish_id, form=fields, errors=errors,
                                         status=exc.status, photos=v.photos)
        flash(request, N_("修改已保存"))
        return Redirect(f"/wishes/{wish_id}", status_code=303)

    # ------------------------------------------------------------ actions on one wish

    async def _act(self, request: Request, wish_id: int, action: str) -> Response:
        fields, files = await _form(request)
        viewer = _viewer(request)
        # WishError: the one handler shows the wish again with the message (wish_again, named by each route).
        if action == "approve":
            await service.approve(viewer, wish_id)
        elif action == "reject":
            await service.reject(viewer, wish_id, fields.get("reason", ""))
        elif action == "claim":
            await service.claim(viewer, wish_id)
        elif action == "contact":
            await service.record_contact(viewer, wish_id, fields.get("note", ""))
        elif action == "fulfil":
            await service.fulfil(viewer, wish_id, fields.get("note", ""), files)
        elif action == "confirm":
            await service.confirm(viewer, wish_id, thanks_story=fields.get("thanks_story", ""),
                                  thanks_consent=fields.get("thanks_consent") in ("1", "on", "true"))
        elif action == "submit":
            await service.submit_for_verification(viewer, wish_id)
        elif action == "release":
            await service.release(viewer, wish_id, fields.get("reason", ""))
        flash(request, WISH_DONE[action])
        return Redirect(f"/wishes/{wish_id}", status_code=303)

    @post("/{wish_id:int}/approve", guards=[signed_in], opt={FORM: wish_again("approve")})
    async def approve(self, request: Request, wish_id: int) -> Response:
        return await self._act(request, wish_id, "approve")

    @post("/{wish_id:int}/reject", guards=[signed_in], opt={FORM: wish_again("reject")})
    async def reject(self, request: Request, wish_id: int) -> Response:
        return await self._act(request, wish_id, "reject")

    @post("/{wish_id:int}/claim", guards=[signed_in], opt={FORM: wish_again("claim")})
    async def claim(self, request: Request, wish_id: int) -> Response:
        return await self._act(request, wish_id, "claim")

    @post("/{wish_id:int}/contact", guards=[signed_in], opt={FORM: wish_again("contact")})
    async def contact(self, request: Request, wish_id: int) -> Response:
        return await self._act(request, wish_id, "contact")

    @post("/{wish_id:int}/fulfil", guards=[signed_in], opt={FORM: wish_again("fulfil")})
    async def fulfil(self, request: Request, wish_id: int) -> Response:
        return await self._act(request, wish_id, "fulfil")

    @post("/{wish_id:int}/confirm", guards=[signed_in], opt={FORM: wish_again("confirm")})
    async def confirm(self, request: Request, wish_id: int) -> Response:
        return await self._act(request, wish_id, "confirm")

    @post("/{wish_id:int}/submit", guards=[signed_in], opt={FORM: wish_again("submit")})
    async def submit(self, request: Request, wish_id: int) -> Response:
        return await self._act(request, wish_id, "submit")

    @post("/{wish_id:int}/release", guards=[signed_in], opt={FORM: wish_again("release")})
    async def release(self, request: Request, wish_id: int) -> Response:
        return await self._act(request, wish_id, "release")

    # ------------------------------------------------------------ lists for people

    @get("/review", guards=[roles(*service.MANAGING_ROLES)])
    async def review(self, request: Request) -> Response:
        queue = await service.review_queue(_viewer(request))
        return page(request, "wishes/review.html", {"queue": queue, **LABELS})

    @get("/mine", guards=[signed_in])
    async def mine(self, request: Request) -> Response:
        viewer = _viewer(request)
        claims = await service.member_claims(viewer.id)
        ctx = {"claims": claims, "wishes": await service.my_wishes(viewer), "member": None,
               "open_count": await service.open_claim_count(viewer.id), "limit": service.OPEN_CLAIM_LIMIT,
               "fulfilled": [c for c in claims if c["fulfilled_at"]], **LABELS}
        return page(request, "wishes/mine.html", ctx)

    @get("/records", guards=[roles(Role.assessor, Role.admin)])
    async def records(self, request: Request) -> Response:
        return page(request, "wishes/records.html", {"records": await service.service_records()})

    @get("/records/{member_id:int}", guards=[roles(Role.assessor, Role.admin)])
    async def member_record(self, request: Request, member_id: int) -> Response:
        member = await service.member_name(member_id)
        if member is None:
            raise NotFoundException("账号不存在")
        claims = await service.member_claims(member_id)
        ctx = {"claims": claims, "wishes": [], "member": member, "open_count": None,
               "limit": service.OPEN_CLAIM_LIMIT, "fulfilled": [c for c in claims if c["fulfilled_at"]], **LABELS}
        return page(request, "wishes/mine.html", ctx)
