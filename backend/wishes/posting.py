"""Posting a wish and the community's verification (approve, reject).

No Litestar imports. Every state change is a conditional UPDATE (``WHERE status = <expected>``)
inside ``write_transaction()``, so two people acting at once can never both win; after-commit work
(notifications) runs only once the change is stored. ``now`` is injectable.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backend.accounts.service import Viewer
from backend.db import write_transaction
from backend.i18n import N_
from backend.wishes.access import community_path, load_wish, manages, now_or
from backend.wishes.alerts import notify_community, notify_people
from backend.wishes.checks import WishInput, validate
from backend.wishes.photos import attach_photos, discard_photos, store_photos
from backend.wishes.photos import remove_photos as drop_photos
from backend.wishes.rules import (
    MAX_PHOTOS,
    PUBLIC_STATUSES,
    STATUS_LABELS,
    FormErrors,
    InvalidState,
    NotAllowed,
    WishError,
)
from backend.wishes.tables import (
    PhotoKind,
    Wish,
    WishPhoto,
    WishStatus,
)


async def create_wish(actor: Viewer, data: WishInput, photos: Sequence[tuple[bytes, str]] = (), *,
                      submit: bool = True, now: datetime | None = None) -> int:
    """A resident drafts a wish for self/family, or community staff for someone they look after."""
    now = now_or(now)
    if not (actor.is_resident or actor.is_staff):
        raise NotAllowed("请先登录")
    cleaned, errors = validate(data, now.date())
    path = await community_path(data.community_id)
    if data.community_id is not None and path is None:
        errors["community"] = "请选择社区"
    if actor.is_staff and path is not None and not manages(actor, path):
        errors["community"] = "您只能为自己负责的社区发布心愿"
    if len(photos) > MAX_PHOTOS:
        errors["photos"] = f"最多上传 {MAX_PHOTOS} 张照片"
    if errors:
        raise FormErrors(errors)
    stored = await store_photos(photos)
    try:
        async with write_transaction():
            rows = await Wish.insert(Wish(
                **cleaned,
                created_by=actor.id,
                owner=actor.id if actor.is_resident else None,
                status=WishStatus.pending.value if submit else WishStatus.draft.value,
                created_at=now,
                updated_at=now,
            )).returning(Wish.id)
            wish_id = rows[0]["id"]
            photo_ids = await attach_photos(wish_id, stored, PhotoKind.wish.value)
            if photo_ids:
                await Wish.update({Wish.cover_photo: photo_ids[0]}).where(Wish.id == wish_id)
    except BaseException:
        await discard_photos(stored)
        raise
    if submit:
        await notify_community(cleaned["community"], N_("有新的微心愿待审核"), cleaned["title"], f"/wishes/{wish_id}")
    return wish_id


async def update_wish(actor: Viewer, wish_id: int, data: WishInput, photos: Sequence[tuple[bytes, str]] = (),
                      *, remove_photos: Sequence[int] = (), submit: bool | None = None,
                      now: datetime | None = None) -> None:
    """Staff edit for privacy (before or after publishing); the author edits a draft, pending or rejected wish.

    ``submit`` (author only) sends a draft or rejected wish (back) for verification.
    """
    now = now_or(now)
    wish = await load_wish(wish_id)
    is_manager = manages(actor, wish["community_path"])
    is_author = actor.id in (wish["owner"], wish["created_by"])
    author_states = (WishStatus.draft.value, WishStatus.pending.value, WishStatus.rejected.value)
    done = (WishStatus.fulfilled.value, WishStatus.confirmed.value)  # what was fulfilled stays as it was
    manager_states = (WishStatus.pending.value, *(st for st in PUBLIC_STATUSES if st not in done))
    if is_manager and wish["status"] in manager_states:
        pass
    elif is_author and wish["status"] in author_states:
        pass
    elif is_manager or is_author:
        raise InvalidState(N_("心愿当前为「{state}」，不能修改"), state=STATUS_LABELS[wish["status"]])
    else:
        raise NotAllowed("只有心愿的发布人或所在社区的工作人员可以修改")
    cleaned, errors = validate(data, now.date())
    if data.community_id != wish["community"]:
        path = await community_path(data.community_id)
        if path is None or (actor.is_staff and not manages(actor, path)):
            errors["community"] = "请选择您负责的社区"
        elif wish["status"] not in author_states:
            errors["community"] = "已发布的心愿不能更换社区"
    if wish["status"] not in (WishStatus.fulfilled.value, WishStatus.confirmed.value):
        cleaned.pop("thanks_story")
        cleaned.pop("thanks_consent")
    existing = await WishPhoto.select(WishPhoto.id).where(
        (WishPhoto.wish == wish_id) & (WishPhoto.kind == PhotoKind.wish.value))
    keep = [r["id"] for r in existing if r["id"] not in set(remove_photos)]
    if len(keep) + len(photos) > MAX_PHOTOS:
        errors["photos"] = f"最多 {MAX_PHOTOS} 张照片"
    if errors:
        raise FormErrors(errors)
    new_status = wish["status"]
    if submit and is_author and wish["status"] in (WishStatus.draft.value, WishStatus.rejected.value):
        new_status = WishStatus.pending.value
    stored = await store_photos(photos)
    try:
        async with write_transaction():
            changed = await Wish.update({**{getattr(Wish, k): v for k, v in cleaned.items()},
                                         Wish.status: new_status, Wish.updated_at: now}).where(
                (Wish.id == wish_id) & (Wish.status == wish["status"])).returning(Wish.id)
            if not changed:
                raise InvalidState("心愿刚刚被他人更新，请刷新后再试")
            if remove_photos:
                await drop_photos(wish_id, PhotoKind.wish.value, remove_photos)
            new_ids = await attach_photos(wish_id, stored, PhotoKind.wish.value)
            cover = (keep + new_ids)[0] if keep + new_ids else None
            await Wish.update({Wish.cover_photo: cover}).where(Wish.id == wish_id)
    except BaseException:
        await discard_photos(stored)
        raise
    if new_status == WishStatus.pending.value and wish["status"] != new_status:
        await notify_community(wish["community"], N_("有新的微心愿待审核"), cleaned["title"], f"/wishes/{wish_id}")


async def submit_for_verification(actor: Viewer, wish_id: int, *, now: datetime | None = None) -> None:
    """The author sends a draft (or a rejected wish, unchanged) to the community for verification."""
    now = now_or(now)
    wish = await load_wish(wish_id)
    if actor.id not in (wish["owner"], wish["created_by"]):
        raise NotAllowed("只有心愿的发布人可以提交审核")
    if wish["status"] not in (WishStatus.draft.value, WishStatus.rejected.value):
        raise InvalidState(N_("心愿当前为「{state}」，不能提交审核"), state=STATUS_LABELS[wish["status"]])
    changed = await Wish.update({Wish.status: WishStatus.pending.value, Wish.updated_at: now}).where(
        (Wish.id == wish_id) & (Wish.status == wish["status"])).returning(Wish.id)
    if not changed:
        raise InvalidState("心愿刚刚被他人更新，请刷新后再试")
    await notify_community(wish["community"], N_("有新的微心愿待审核"), wish["title"], f"/wishes/{wish_id}")


async def approve(actor: Viewer, wish_id: int, *, now: datetime | None = None) -> None:
    """Verified: the wish goes on the board."""
    now = now_or(now)
    wish = await load_wish(wish_id)
    if not manages(actor, wish["community_path"]):
        raise NotAllowed("只有心愿所在社区的工作人员可以审核")
    async with write_transaction():
        done = await Wish.update({
            Wish.status: WishStatus.published.value, Wish.verified_by: actor.id, Wish.verified_at: now,
            Wish.published_at: now, Wish.board_at: now, Wish.reject_reason: "", Wish.updated_at: now,
        }).where((Wish.id == wish_id) & (Wish.status == WishStatus.pending.value)).returning(Wish.id)
    if not done:
        raise InvalidState("只有待审核的心愿可以通过审核")
    await notify_people([wish["owner"]], N_("您的微心愿已通过审核并发布"), wish["title"], f"/wishes/{wish_id}")


async def reject(actor: Viewer, wish_id: int, reason: str, *, now: datetime | None = None) -> None:
    now = now_or(now)
    wish = await load_wish(wish_id)
    if not manages(actor, wish["community_path"]):
        raise NotAllowed("只有心愿所在社区的工作人员可以审核")
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise WishError("请填写未通过的原因（300 字以内）", "reason")
    async with write_transaction():
        done = await Wish.update({
            Wish.status: WishStatus.rejected.value, Wish.reject_reason: reason, Wish.verified_by: actor.id,
            Wish.verified_at: now, Wish.updated_at: now,
        }).where((Wish.id == wish_id) & (Wish.status == WishStatus.pending.value)).returning(Wish.id)
    if not done:
        raise InvalidState("只有待审核的心愿可以退回")
    await notify_people([wish["owner"]], N_("您的微心愿未通过审核"), reason, f"/wishes/{wish_id}")
