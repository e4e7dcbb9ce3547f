"""Micro-wishes: posting, community verification, the board, exclusive claims and their timers.

No Litestar imports. Every state change is a conditional UPDATE (``WHERE status = <expected>``)
inside ``write_transaction()``, so two people acting at once can never both win; after-commit work
(the lapse timer, notifications) runs only once the change is stored. ``now`` is injectable.
"""

from __future__ import annotations

import asyncio
import logging
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from backend.accounts.service import Viewer
from backend.accounts.tables import Account, Role
from backend.db import aware, on_commit, utcnow, write_transaction
from backend.errors import DomainError
from backend.i18n import N_
from backend.organisation.tables import Unit, UnitKind
from backend.wishes.photos import PhotoError, StoredPhoto, delete_photo, store_photo
from backend.wishes.tables import (
    BeneficiaryGroup,
    Claim,
    ClaimStatus,
    Honorific,
    PhotoKind,
    Wish,
    WishPhoto,
    WishStatus,
)

log = logging.getLogger("qungong.wishes")

OPEN_CLAIM_LIMIT = 3  # open claims (claimed or contacted) one member may hold at once
CONTACT_DAYS = 7  # the claimer must record contact with the beneficiary within this many days
MAX_PHOTOS = 6
PAGE_SIZE = 20
LAPSE_JOB = "lapse_wish_claim"
# Staff roles that verify and manage the wishes of the communities they cover.
MANAGING_ROLES = (Role.community_staff, Role.unit_head, Role.admin)

GROUP_LABELS: dict[str, str] = {
    BeneficiaryGroup.dibao.value: "低保户",
    BeneficiaryGroup.disabled.value: "残疾人",
    BeneficiaryGroup.hardship.value: "困难户",
    BeneficiaryGroup.elderly.value: "老人",
    BeneficiaryGroup.left_behind_child.value: "留守儿童",
    BeneficiaryGroup.other.value: "其他",
}
HONORIFIC_LABELS: dict[str, str] = {
    Honorific.male.value: "先生",
    Honorific.female.value: "女士",
    Honorific.family.value: "家",
}
STATUS_LABELS: dict[str, str] = {
    WishStatus.draft.value: "草稿",
    WishStatus.pending.value: "待审核",
    WishStatus.published.value: "待认领",
    WishStatus.rejected.value: "未通过",
    WishStatus.claimed.value: "已认领",
    WishStatus.contacted.value: "已联系",
    WishStatus.fulfilled.value: "已实现待确认",
    WishStatus.confirmed.value: "已圆梦",
}
CLAIM_LABELS: dict[str, str] = {
    ClaimStatus.claimed.value: "已认领，待联系",
    ClaimStatus.contacted.value: "已联系",
    ClaimStatus.fulfilled.value: "已实现，待确认",
    ClaimStatus.confirmed.value: "已确认",
    ClaimStatus.released.value: "已放弃",
    ClaimStatus.lapsed.value: "超时未联系，已失效",
}
PUBLIC_STATUSES = (
    WishStatus.published.value,
    WishStatus.claimed.value,
    WishStatus.contacted.value,
    WishStatus.fulfilled.value,
    WishStatus.confirmed.value,
)
# Board status filter → wish statuses.
BOARD_STATUS: dict[str, tuple[str, ...]] = {
    "open": (WishStatus.published.value,),
    "active": (WishStatus.claimed.value, WishStatus.contacted.value),
    "done": (WishStatus.fulfilled.value, WishStatus.confirmed.value),
    "all": PUBLIC_STATUSES,
}
BOARD_STATUS_LABELS = {"open": "待认领", "active": "认领中", "done": "已实现", "all": "全部"}
OPEN_CLAIM_STATUSES = (ClaimStatus.claimed.value, ClaimStatus.contacted.value)
LIVE_CLAIM_STATUSES = (*OPEN_CLAIM_STATUSES, ClaimStatus.fulfilled.value)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙",
                     "宇文", "夏侯")


# ---------------------------------------------------------------- errors


class WishError(DomainError):
    """A refused action, with a message for people. ``status`` is the HTTP status to answer with."""


class NotFound(WishError):
    status = 404


class NotAllowed(WishError):
    status = 403


class NotPartyMember(NotAllowed):
    pass


class InvalidState(WishError):
    status = 409


class NotPublished(InvalidState):
    pass


class AlreadyClaimed(InvalidState):
    def __init__(self) -> None:
        super().__init__("该心愿已被认领，请看看其他心愿")


class ClaimLimit(InvalidState):
    pass


class ProofRequired(WishError):
    pass


class FormErrors(WishError):
    """Several field errors at once (a form to re-show)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(next(iter(errors.values())), next(iter(errors)), fields=errors)
        self.errors = errors


# ---------------------------------------------------------------- masking and checks


def mask_name(name: str, honorific: str) -> str:
    """'闫先生' / '闫女士' / '闫家'; '某某' without a name. Never more than the surname."""
    name = re.sub(r"\s+", "", name or "")
    if not name:
        return "某某"
    surname = next((s for s in COMPOUND_SURNAMES if name.startswith(s) and len(name) > len(s)), name[0])
    return surname + HONORIFIC_LABELS.get(honorific, "家")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def privacy_problems(texts: Sequence[str], name: str, phone: str, address: str) -> str | None:
    """A public text must not contain the beneficiary's full name, phone or address."""
    joined = "".join(re.sub(r"\s+", "", t or "") for t in texts)
    name = re.sub(r"\s+", "", name or "")
    if len(name) >= 2 and name in joined:
        return "公开内容中不能出现受助人的姓名，请改用称呼"
    phone_digits = _digits(phone)
    if len(phone_digits) >= 7 and phone_digits in _digits(" ".join(texts)):
        return "公开内容中不能出现受助人的电话号码"
    address = re.sub(r"\s+", "", address or "")
    if len(address) >= 4 and address in joined:
        return "公开内容中不能出现受助人的详细地址"
    return None


@dataclass
class WishInput:
    title: str = ""
    story: str = ""
    group: str = ""
    value: str = ""
    community_id: int | None = None
    wanted_by: str = ""
    beneficiary_name: str = ""
    beneficiary_phone: str = ""
    beneficiary_address: str = ""
    honorific: str = Honorific.family.value
    thanks_story: str = ""
    thanks_consent: bool = False

    def as_form(self) -> dict[str, Any]:
        return {k: ("" if v is None else v) for k, v in self.__dict__.items()}


def validate(data: WishInput, today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """Clean the form; return (columns, field errors)."""
    errors: dict[str, str] = {}
    title = (data.title or "").strip()
    story = (data.story or "").strip()
    if not title:
        errors["title"] = "请填写心愿（例如：一根助行拐杖）"
    elif len(title) > 60:
        errors["title"] = "心愿标题不能超过 60 字"
    if len(story) > 2000:
        errors["story"] = "心愿故事不能超过 2000 字"
    if data.group not in GROUP_LABELS:
        errors["group"] = "请选择受助人类别"
    value = 0
    try:
        value = int(str(data.value).strip() or "0")
        if not 0 <= value <= 100_000:
            raise ValueError
    except ValueError:
        errors["value"] = "预估价值请填写 0–100000 之间的整数（元）"
    if data.community_id is None:
        errors["community"] = "请选择社区"
    wanted_by: date | None = None
    if (data.wanted_by or "").strip():
        try:
            wanted_by = date.fromisoformat(data.wanted_by.strip())
        except ValueError:
            errors["wanted_by"] = "期望日期格式不正确"
        else:
            if wanted_by < today:
                errors["wanted_by"] = "期望日期不能早于今天"
    name = (data.beneficiary_name or "").strip()
    phone = re.sub(r"[\s-]", "", data.beneficiary_phone or "")
    address = (data.beneficiary_address or "").strip()
    if not name or len(name) > 50:
        errors["beneficiary_name"] = "请填写受助人姓名（仅社区和认领党员可见）"
    if not re.fullmatch(r"1[3-9]\d{9}|0\d{2,3}\d{7,8}", phone):
        errors["beneficiary_phone"] = "请填写受助人或家属的联系电话（手机或座机）"
    if not address or len(address) > 200:
        errors["beneficiary_address"] = "请填写受助人住址（仅社区和认领党员可见）"
    if data.honorific not in HONORIFIC_LABELS:
        errors["honorific"] = "请选择称呼"
    thanks = (data.thanks_story or "").strip()
    if len(thanks) > 2000:
        errors["thanks_story"] = "感谢的话不能超过 2000 字"
    if not errors:
        problem = privacy_problems([title, story, thanks], name, phone, address)
        if problem:
            errors["story"] = problem
    cleaned = {
        "title": title,
        "story": story,
        "group": data.group,
        "value": value,
        "community": data.community_id,
        "wanted_by": wanted_by,
        "beneficiary_name": name,
        "beneficiary_phone": phone,
        "beneficiary_address": address,
        "honorific": data.honorific,
        "display_name": mask_name(name, data.honorific),
        "thanks_story": thanks,
        "thanks_consent": bool(data.thanks_consent),
    }
    return cleaned, errors


# ---------------------------------------------------------------- who may do what


async def communities() -> list[dict[str, Any]]:
    return await Unit.select(Unit.id, Unit.name, Unit.path, Unit.parent.name.as_alias("street")).where(
        (Unit.kind == UnitKind.community.value) & (Unit.active == True)
    ).order_by(Unit.path)


async def community_names() -> dict[int, str]:
    return {r["id"]: r["name"] for r in await communities()}


async def _community_path(unit_id: int | None) -> str | None:
    if unit_id is None:
        return None
    row = await Unit.select(Unit.path).where(
        (Unit.id == unit_id) & (Unit.kind == UnitKind.community.value)).first()
    return row["path"] if row else None


def manages(viewer: Viewer | None, community_path: str) -> bool:
    """Community staff / unit heads covering the wish's community (and admins) verify and manage it."""
    return bool(viewer and viewer.is_staff and viewer.covers(community_path, *MANAGING_ROLES))


async def managed_communities(viewer: Viewer) -> list[dict[str, Any]]:
    return [c for c in await communities() if manages(viewer, c["path"])]


def _now(now: datetime | None) -> datetime:
    return aware(now) if now is not None else utcnow()  # type: ignore[return-value]


async def _load(wish_id: int) -> dict[str, Any]:
    row = await Wish.select(*Wish.all_columns(), Wish.community.path.as_alias("community_path"),
                            Wish.community.name.as_alias("community_name")).where(Wish.id == wish_id).first()
    if row is None:
        raise NotFound("心愿不存在或已被移除")
    return row


async def _open_claim(wish: dict[str, Any]) -> dict[str, Any] | None:
    if not wish["current_claim"]:
        return None
    return await Claim.select().where(Claim.id == wish["current_claim"]).first()


# ---------------------------------------------------------------- photos


async def _store_photos(files: Sequence[tuple[bytes, str]]) -> list[StoredPhoto]:
    """Re-encode uploads in a thread; on any bad file, remove what was stored and refuse."""
    stored: list[StoredPhoto] = []
    try:
        for data, filename in files:
            stored.append(await asyncio.to_thread(store_photo, data, filename))
    except PhotoError as exc:
        _discard(stored)
        raise WishError(exc.message, "photos") from exc
    return stored


def _discard(stored: Sequence[StoredPhoto]) -> None:
    for p in stored:
        try:
            delete_photo(p)
        except OSError:
            log.warning("could not delete photo %s", p.display_key)


async def _attach(wish_id: int, stored: Sequence[StoredPhoto], kind: str, claim_id: int | None = None) -> list[int]:
    ids = []
    for p in stored:
        rows = await WishPhoto.insert(WishPhoto(
            wish=wish_id, claim=claim_id, kind=kind, display_key=p.display_key, thumb_key=p.thumb_key,
            width=p.width, height=p.height)).returning(WishPhoto.id)
        ids.append(rows[0]["id"])
    return ids


# ---------------------------------------------------------------- posting and verification


async def create_wish(actor: Viewer, data: WishInput, photos: Sequence[tuple[bytes, str]] = (), *,
                      submit: bool = True, now: datetime | None = None) -> int:
    """A resident drafts a wish for self/family, or community staff for someone they look after."""
    now = _now(now)
    if not (actor.is_resident or actor.is_staff):
        raise NotAllowed("请先登录")
    cleaned, errors = validate(data, now.date())
    path = await _community_path(data.community_id)
    if data.community_id is not None and path is None:
        errors["community"] = "请选择社区"
    if actor.is_staff and path is not None and not manages(actor, path):
        errors["community"] = "您只能为自己负责的社区发布心愿"
    if len(photos) > MAX_PHOTOS:
        errors["photos"] = f"最多上传 {MAX_PHOTOS} 张照片"
    if errors:
        raise FormErrors(errors)
    stored = await _store_photos(photos)
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
            photo_ids = await _attach(wish_id, stored, PhotoKind.wish.value)
            if photo_ids:
                await Wish.update({Wish.cover_photo: photo_ids[0]}).where(Wish.id == wish_id)
    except BaseException:
        _discard(stored)
        raise
    if submit:
        await _notify_community(cleaned["community"], N_("有新的微心愿待审核"), cleaned["title"], f"/wishes/{wish_id}")
    return wish_id


async def update_wish(actor: Viewer, wish_id: int, data: WishInput, photos: Sequence[tuple[bytes, str]] = (),
                      *, remove_photos: Sequence[int] = (), submit: bool | None = None,
                      now: datetime | None = None) -> None:
    """Staff edit for privacy (before or after publishing); the author edits a draft, pending or rejected wish.

    ``submit`` (author only) sends a draft or rejected wish (back) for verification.
    """
    now = _now(now)
    wish = await _load(wish_id)
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
        raise InvalidState(f"心愿当前为「{STATUS_LABELS[wish['status']]}」，不能修改")
    else:
        raise NotAllowed("只有心愿的发布人或所在社区的工作人员可以修改")
    cleaned, errors = validate(data, now.date())
    if data.community_id != wish["community"]:
        path = await _community_path(data.community_id)
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
    stored = await _store_photos(photos)
    try:
        async with write_transaction():
            changed = await Wish.update({**{getattr(Wish, k): v for k, v in cleaned.items()},
                                         Wish.status: new_status, Wish.updated_at: now}).where(
                (Wish.id == wish_id) & (Wish.status == wish["status"])).returning(Wish.id)
            if not changed:
                raise InvalidState("心愿刚刚被他人更新，请刷新后再试")
            if remove_photos:
                await WishPhoto.delete().where(
                    (WishPhoto.wish == wish_id) & (WishPhoto.kind == PhotoKind.wish.value)
                    & WishPhoto.id.is_in(list(remove_photos)))
            new_ids = await _attach(wish_id, stored, PhotoKind.wish.value)
            cover = (keep + new_ids)[0] if keep + new_ids else None
            await Wish.update({Wish.cover_photo: cover}).where(Wish.id == wish_id)
    except BaseException:
        _discard(stored)
        raise
    if new_status == WishStatus.pending.value and wish["status"] != new_status:
        await _notify_community(wish["community"], N_("有新的微心愿待审核"), cleaned["title"], f"/wishes/{wish_id}")


async def submit_for_verification(actor: Viewer, wish_id: int, *, now: datetime | None = None) -> None:
    """The author sends a draft (or a rejected wish, unchanged) to the community for verification."""
    now = _now(now)
    wish = await _load(wish_id)
    if actor.id not in (wish["owner"], wish["created_by"]):
        raise NotAllowed("只有心愿的发布人可以提交审核")
    if wish["status"] not in (WishStatus.draft.value, WishStatus.rejected.value):
        raise InvalidState(f"心愿当前为「{STATUS_LABELS[wish['status']]}」，不能提交审核")
    changed = await Wish.update({Wish.status: WishStatus.pending.value, Wish.updated_at: now}).where(
        (Wish.id == wish_id) & (Wish.status == wish["status"])).returning(Wish.id)
    if not changed:
        raise InvalidState("心愿刚刚被他人更新，请刷新后再试")
    await _notify_community(wish["community"], N_("有新的微心愿待审核"), wish["title"], f"/wishes/{wish_id}")


async def approve(actor: Viewer, wish_id: int, *, now: datetime | None = None) -> None:
    """Verified: the wish goes on the board."""
    now = _now(now)
    wish = await _load(wish_id)
    if not manages(actor, wish["community_path"]):
        raise NotAllowed("只有心愿所在社区的工作人员可以审核")
    async with write_transaction():
        done = await Wish.update({
            Wish.status: WishStatus.published.value, Wish.verified_by: actor.id, Wish.verified_at: now,
            Wish.published_at: now, Wish.board_at: now, Wish.reject_reason: "", Wish.updated_at: now,
        }).where((Wish.id == wish_id) & (Wish.status == WishStatus.pending.value)).returning(Wish.id)
    if not done:
        raise InvalidState("只有待审核的心愿可以通过审核")
    await _notify([wish["owner"]], N_("您的微心愿已通过审核并发布"), wish["title"], f"/wishes/{wish_id}")


async def reject(actor: Viewer, wish_id: int, reason: str, *, now: datetime | None = None) -> None:
    now = _now(now)
    wish = await _load(wish_id)
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
    await _notify([wish["owner"]], N_("您的微心愿未通过审核"), reason, f"/wishes/{wish_id}")


# ---------------------------------------------------------------- claims


async def open_claim_count(member_id: int) -> int:
    return await Claim.count().where((Claim.member == member_id) & Claim.status.is_in(list(OPEN_CLAIM_STATUSES)))


async def claim(actor: Viewer | None, wish_id: int, *, now: datetime | None = None,
                limit: int = OPEN_CLAIM_LIMIT) -> int:
    """Claim a published wish for ``actor`` (a verified party member). Returns the claim id.

    Exclusive: the wish moves published → claimed by a conditional UPDATE, so among simultaneous
    claimers exactly one gets a row back; the others get AlreadyClaimed and nothing is written.
    """
    now = _now(now)
    if actor is None:
        raise NotAllowed("请先登录")
    if not actor.is_party_member:
        raise NotPartyMember("只有经组织部认定的党员可以认领微心愿")
    due = now + timedelta(days=CONTACT_DAYS)
    seen = await Wish.select(Wish.owner, Wish.created_by, Wish.status).where(Wish.id == wish_id).first()
    if seen is None:
        raise NotFound("心愿不存在或已被移除")
    if actor.id in (seen["owner"], seen["created_by"]):
        raise NotAllowed("不能认领自己发布的心愿")
    # A cheap early answer without taking the write lock; the conditional UPDATE below is what decides.
    if seen["status"] in PUBLIC_STATUSES and seen["status"] != WishStatus.published.value:
        raise AlreadyClaimed()
    async with write_transaction():
        # One member's claims serialise, so the open-claim limit holds under concurrent clicks.
        await Wish.raw("SELECT pg_advisory_xact_lock(7, {})", actor.id)
        if await open_claim_count(actor.id) >= limit:
            raise ClaimLimit(f"每位党员同时最多认领 {limit} 个心愿，请先完成或放弃已认领的心愿")
        won = await Wish.update({
            Wish.status: WishStatus.claimed.value, Wish.claimed_at: now, Wish.updated_at: now,
        }).where((Wish.id == wish_id) & (Wish.status == WishStatus.published.value)).returning(
            Wish.id, Wish.owner, Wish.community, Wish.title)
        if not won:
            row = await Wish.select(Wish.status).where(Wish.id == wish_id).first()
            if row is None:
                raise NotFound("心愿不存在或已被移除")
            if row["status"] in PUBLIC_STATUSES:
                raise AlreadyClaimed()
            raise NotPublished("该心愿尚未通过审核发布，不能认领")
        rows = await Claim.insert(Claim(wish=wish_id, member=actor.id, status=ClaimStatus.claimed.value,
                                        claimed_at=now, contact_due_at=due)).returning(Claim.id)
        claim_id = rows[0]["id"]
        await Wish.update({Wish.current_claim: claim_id}).where(Wish.id == wish_id)
    wish = won[0]
    await on_commit(partial(schedule_lapse, claim_id, due))  # at once (no transaction is open here)
    await _notify([wish["owner"]], N_("您的微心愿已被党员认领"),
                  f"{wish['title']}：认领人将在 {CONTACT_DAYS} 天内与您联系", f"/wishes/{wish_id}")
    await _notify_community(wish["community"], N_("微心愿已被认领"), wish["title"], f"/wishes/{wish_id}")
    return claim_id


async def schedule_lapse(claim_id: int, due: datetime) -> None:
    """The arq alarm for a claim's contact deadline (after commit; the sweep covers a lost job)."""
    from backend.jobs import enqueue

    try:
        await enqueue(LAPSE_JOB, claim_id, job_id=f"wish-claim-lapse:{claim_id}", defer_until=due)
    except Exception:
        log.exception("could not schedule the lapse of claim %s; the sweep will catch it", claim_id)


async def _member_claim(actor: Viewer, wish_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    wish = await _load(wish_id)
    current = await _open_claim(wish)
    if current is None or current["member"] != actor.id:
        raise NotAllowed("您没有认领这个心愿")
    return wish, current


async def _move(wish_id: int, claim_id: int, wish_from: str, claim_from: str, to: str,
                wish_cols: dict[Any, Any], claim_cols: dict[Any, Any], now: datetime) -> bool:
    """Move the wish and its claim together, only if both are still where we expect them."""
    async with write_transaction():
        got = await Claim.update({Claim.status: to, **claim_cols}).where(
            (Claim.id == claim_id) & (Claim.status == claim_from)).returning(Claim.id)
        if not got:
            return False
        await Wish.update({Wish.status: to, Wish.updated_at: now, **wish_cols}).where(
            (Wish.id == wish_id) & (Wish.status == wish_from) & (Wish.current_claim == claim_id))
    return True


async def record_contact(actor: Viewer, wish_id: int, note: str = "", *, now: datetime | None = None) -> None:
    now = _now(now)
    _, current = await _member_claim(actor, wish_id)
    if current["status"] != ClaimStatus.claimed.value:
        raise InvalidState(f"认领当前为「{CLAIM_LABELS[current['status']]}」，无需再记录联系")
    note = (note or "").strip()[:500]
    ok = await _move(wish_id, current["id"], WishStatus.claimed.value, ClaimStatus.claimed.value,
                     ClaimStatus.contacted.value, {}, {Claim.contacted_at: now, Claim.contact_note: note}, now)
    if not ok:
        raise InvalidState("认领已失效或已变化，请刷新后查看")


async def fulfil(actor: Viewer, wish_id: int, note: str, photos: Sequence[tuple[bytes, str]],
                 *, now: datetime | None = None) -> None:
    """The member reports the wish fulfilled: at least one photo as proof."""
    now = _now(now)
    wish, current = await _member_claim(actor, wish_id)
    if current["status"] == ClaimStatus.claimed.value:
        raise InvalidState("请先记录与受助人的联系，再登记心愿实现")
    if current["status"] != ClaimStatus.contacted.value:
        raise InvalidState(f"认领当前为「{CLAIM_LABELS[current['status']]}」，不能登记实现")
    if not photos:
        raise ProofRequired("请上传至少一张照片作为心愿实现的凭证", "photos")
    if len(photos) > MAX_PHOTOS:
        raise WishError(f"最多上传 {MAX_PHOTOS} 张照片", "photos")
    note = (note or "").strip()
    if len(note) > 1000:
        raise WishError("说明不能超过 1000 字", "note")
    stored = await _store_photos(photos)
    try:
        async with write_transaction():
            got = await Claim.update({Claim.status: ClaimStatus.fulfilled.value, Claim.fulfilled_at: now,
                                      Claim.fulfil_note: note}).where(
                (Claim.id == current["id"]) & (Claim.status == ClaimStatus.contacted.value)).returning(Claim.id)
            if not got:
                raise InvalidState("认领已变化，请刷新后查看")
            await Wish.update({Wish.status: WishStatus.fulfilled.value, Wish.fulfilled_at: now,
                               Wish.updated_at: now}).where(
                (Wish.id == wish_id) & (Wish.current_claim == current["id"]))
            await _attach(wish_id, stored, PhotoKind.proof.value, current["id"])
    except BaseException:
        _discard(stored)
        raise
    await _notify([wish["owner"]], N_("您的微心愿已实现，请确认"), wish["title"], f"/wishes/{wish_id}")
    await _notify_community(wish["community"], N_("微心愿已实现，待确认"), wish["title"], f"/wishes/{wish_id}")


def can_confirm(viewer: Viewer | None, wish: dict[str, Any]) -> bool:
    """The beneficiary (the resident who drafted it) or the community's staff confirm fulfilment."""
    if viewer is None:
        return False
    return (wish["owner"] is not None and viewer.id == wish["owner"]) or manages(viewer, wish["community_path"])


async def confirm(actor: Viewer, wish_id: int, *, thanks_story: str = "", thanks_consent: bool = False,
                  now: datetime | None = None) -> None:
    now = _now(now)
    wish = await _load(wish_id)
    if not can_confirm(actor, wish):
        raise NotAllowed("只有受助人本人或所在社区的工作人员可以确认心愿实现")
    current = await _open_claim(wish)
    if wish["status"] != WishStatus.fulfilled.value or current is None:
        raise InvalidState("只有已登记实现的心愿可以确认")
    thanks = (thanks_story or "").strip()
    if len(thanks) > 2000:
        raise WishError("感谢的话不能超过 2000 字", "thanks_story")
    problem = privacy_problems([thanks], wish["beneficiary_name"], wish["beneficiary_phone"],
                               wish["beneficiary_address"])
    if problem:
        raise WishError(problem, "thanks_story")
    cols: dict[Any, Any] = {Wish.confirmed_at: now}
    if thanks:
        cols |= {Wish.thanks_story: thanks, Wish.thanks_consent: bool(thanks_consent)}
    ok = await _move(wish_id, current["id"], WishStatus.fulfilled.value, ClaimStatus.fulfilled.value,
                     ClaimStatus.confirmed.value, cols, {Claim.confirmed_at: now, Claim.confirmed_by: actor.id}, now)
    if not ok:
        raise InvalidState("心愿状态已变化，请刷新后查看")
    await _notify([current["member"]], N_("您认领的微心愿已确认实现，感谢您的奉献"), wish["title"],
                  f"/wishes/{wish_id}")


async def release(actor: Viewer, wish_id: int, reason: str, *, now: datetime | None = None) -> None:
    """The member gives the claim up (with a reason); the wish returns to the front of the board."""
    now = _now(now)
    wish, current = await _member_claim(actor, wish_id)
    reason = (reason or "").strip()
    if not reason or len(reason) > 300:
        raise WishError("请填写放弃认领的原因（300 字以内）", "reason")
    if current["status"] not in OPEN_CLAIM_STATUSES:
        raise InvalidState("心愿已登记实现，不能放弃认领")
    ok = await _return_to_board(wish_id, current["id"], ClaimStatus.released.value,
                                {Claim.released_at: now, Claim.release_reason: reason}, now,
                                from_statuses=OPEN_CLAIM_STATUSES)
    if not ok:
        raise InvalidState("认领已变化，请刷新后查看")
    await _notify([wish["owner"]], N_("认领人放弃了您的微心愿，心愿已重新上墙"), wish["title"], f"/wishes/{wish_id}")
    await _notify_community(wish["community"], N_("党员放弃了微心愿认领"), f"{wish['title']}：{reason}",
                            f"/wishes/{wish_id}")


async def _return_to_board(wish_id: int, claim_id: int, to: str, claim_cols: dict[Any, Any], now: datetime,
                           *, from_statuses: Sequence[str], extra_where: Any = None) -> bool:
    async with write_transaction():
        where = (Claim.id == claim_id) & Claim.status.is_in(list(from_statuses))
        if extra_where is not None:
            where = where & extra_where
        got = await Claim.update({Claim.status: to, **claim_cols}).where(where).returning(Claim.id)
        if not got:
            return False
        await Wish.update({
            Wish.status: WishStatus.published.value, Wish.current_claim: None, Wish.claimed_at: None,
            Wish.returned_at: now, Wish.board_at: now, Wish.updated_at: now,
        }).where((Wish.id == wish_id) & (Wish.current_claim == claim_id))
    return True


async def lapse_claim(claim_id: int, *, now: datetime | None = None) -> bool:
    """Lapse a claim with no recorded contact by its due time. Safe to run twice, late or early (no-op)."""
    now = _now(now)
    row = await Claim.select(Claim.wish, Claim.member, Claim.wish.title, Claim.wish.community).where(
        Claim.id == claim_id).first()
    if row is None:
        return False
    ok = await _return_to_board(row["wish"], claim_id, ClaimStatus.lapsed.value, {Claim.lapsed_at: now}, now,
                                from_statuses=(ClaimStatus.claimed.value,),
                                extra_where=(Claim.contacted_at.is_null()) & (Claim.contact_due_at <= now))
    if ok:
        title = row["wish.title"]
        await _notify([row["member"]], N_("您认领的微心愿因超时未联系已失效"),
                      f"{title}：{CONTACT_DAYS} 天内未记录与受助人的联系，心愿已重新上墙", f"/wishes/{row['wish']}")
        await _notify_community(row["wish.community"], N_("微心愿认领超时失效，已重新上墙"), title,
                                f"/wishes/{row['wish']}")
    return ok


async def sweep_lapses(*, now: datetime | None = None) -> int:
    """Lapse every overdue claim (catches what a lost or early timer job missed)."""
    now = _now(now)
    rows = await Claim.select(Claim.id).where(
        (Claim.status == ClaimStatus.claimed.value) & (Claim.contact_due_at <= now)).limit(500)
    n = 0
    for r in rows:
        if await lapse_claim(r["id"], now=now):
            n += 1
    return n


# ---------------------------------------------------------------- notifications


async def _notify(account_ids: Sequence[int | None], title: str, body: str, url: str) -> None:
    from backend.notify.service import notify_accounts

    try:
        await notify_accounts(account_ids, title, body, url, kind="wish", key=title)  # shown in the reader's language
    except Exception:  # the change is committed; a missed notification must not undo or fail it
        log.exception("wish notification failed")


async def _notify_community(community_id: int | None, title: str, body: str, url: str) -> None:
    from backend.notify.service import notify_unit

    if community_id is None:
        return
    try:
        await notify_unit(community_id, title, body, url, "wish", Role.community_staff, Role.unit_head, key=title)
    except Exception:
        log.exception("wish community notification failed")


# ---------------------------------------------------------------- reading: board, detail, records, stats


@dataclass
class BoardQuery:
    community: int | None = None
    group: str = ""
    vmin: int | None = None
    vmax: int | None = None
    status: str = "open"
    sort: str = "newest"
    page: int = 1

    def normalised(self) -> BoardQuery:
        status = self.status if self.status in BOARD_STATUS else "open"
        sort = self.sort if self.sort in ("newest", "waiting") else "newest"
        group = self.group if self.group in GROUP_LABELS else ""
        page = min(max(self.page, 1), 500)
        return BoardQuery(self.community, group, self.vmin, self.vmax, status, sort, page)


BOARD_COLUMNS = (Wish.id, Wish.title, Wish.group, Wish.value, Wish.community, Wish.display_name, Wish.status,
                 Wish.cover_photo, Wish.published_at, Wish.returned_at, Wish.board_at, Wish.fulfilled_at,
                 Wish.wanted_by)


async def board(q: BoardQuery) -> tuple[list[dict[str, Any]], bool]:
    """One page of public cards (public columns only) and whether there is a next page."""
    q = q.normalised()
    query = Wish.select(*BOARD_COLUMNS).where(Wish.status.is_in(list(BOARD_STATUS[q.status])))
    if q.community:
        query = query.where(Wish.community == q.community)
    if q.group:
        query = query.where(Wish.group == q.group)
    if q.vmin is not None:
        query = query.where(Wish.value >= q.vmin)
    if q.vmax is not None:
        query = query.where(Wish.value <= q.vmax)
    if q.sort == "waiting":
        query = query.order_by(Wish.published_at, Wish.id)
    else:
        query = query.order_by(Wish.board_at, Wish.id, ascending=False)
    rows = await query.limit(PAGE_SIZE + 1).offset((q.page - 1) * PAGE_SIZE)
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def waited_days(row: dict[str, Any], now: datetime) -> int:
    start = aware(row.get("published_at"))
    end = aware(row.get("fulfilled_at")) or now
    return max(0, (end - start).days) if start else 0


@dataclass
class WishView:
    wish: dict[str, Any]
    claim: dict[str, Any] | None
    photos: list[dict[str, Any]]
    proof_photos: list[dict[str, Any]]
    is_public: bool
    can_manage: bool
    is_author: bool
    is_claimer: bool
    can_see_private: bool
    can_confirm: bool
    can_claim: bool
    claim_member: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


async def view_wish(viewer: Viewer | None, wish_id: int) -> WishView:
    wish = await _load(wish_id)
    is_public = wish["status"] in PUBLIC_STATUSES
    can_manage = manages(viewer, wish["community_path"])
    is_author = viewer is not None and viewer.id in (wish["owner"], wish["created_by"])
    if not is_public and not (can_manage or is_author):
        raise NotFound("心愿不存在或尚未发布")
    current = await _open_claim(wish)
    is_claimer = bool(viewer and current and current["member"] == viewer.id
                      and current["status"] in LIVE_CLAIM_STATUSES)
    can_see_private = can_manage or is_author or is_claimer
    photos = await WishPhoto.select(WishPhoto.id, WishPhoto.kind, WishPhoto.width, WishPhoto.height).where(
        WishPhoto.wish == wish_id).order_by(WishPhoto.id)
    show_proof = can_see_private or (wish["status"] in (WishStatus.fulfilled.value, WishStatus.confirmed.value)
                                     and wish["thanks_consent"])
    history: list[dict[str, Any]] = []
    member = None
    if can_see_private:
        history = await Claim.select(Claim.all_columns(), Claim.member.name, Claim.member.phone).where(
            Claim.wish == wish_id).order_by(Claim.id)
    if current is not None and (can_manage or is_author):
        # Those who confirm (the community, the drafter) see who claimed it, how to reach them, and their notes.
        member = await Account.select(Account.id, Account.name, Account.phone).where(
            Account.id == current["member"]).first()
    if not can_see_private:
        wish = {k: v for k, v in wish.items() if not k.startswith("beneficiary_")}
    return WishView(
        wish=wish, claim=current, is_public=is_public, can_manage=can_manage, is_author=is_author,
        is_claimer=is_claimer, can_see_private=can_see_private,
        photos=[p for p in photos if p["kind"] == PhotoKind.wish.value],
        proof_photos=[p for p in photos if p["kind"] == PhotoKind.proof.value] if show_proof else [],
        can_confirm=can_confirm(viewer, wish) and wish["status"] == WishStatus.fulfilled.value,
        can_claim=wish["status"] == WishStatus.published.value and bool(viewer and viewer.is_party_member),
        claim_member=member, history=history,
    )


async def photo_for(viewer: Viewer | None, photo_id: int) -> dict[str, Any]:
    """A photo row if ``viewer`` may see it (public wish photos; proof only with consent or to those involved)."""
    row = await WishPhoto.select(WishPhoto.display_key, WishPhoto.thumb_key, WishPhoto.kind, WishPhoto.wish).where(
        WishPhoto.id == photo_id).first()
    if row is None:
        raise NotFound("照片不存在")
    v = await view_wish(viewer, row["wish"])
    visible = {p["id"] for p in v.photos} | {p["id"] for p in v.proof_photos}
    if photo_id not in visible:
        raise NotFound("照片不存在")
    return row


async def review_queue(viewer: Viewer) -> dict[str, list[dict[str, Any]]]:
    """Wishes in the viewer's communities: pending first, then what needs the community's attention."""
    ids = [c["id"] for c in await managed_communities(viewer)]
    if not ids:
        return {"pending": [], "fulfilled": [], "rejected": [], "drafts": []}
    cols = (Wish.id, Wish.title, Wish.group, Wish.value, Wish.status, Wish.display_name, Wish.created_at,
            Wish.community.name, Wish.reject_reason, Wish.updated_at)
    base = Wish.community.is_in(ids)
    return {
        "pending": await Wish.select(*cols).where(base & (Wish.status == WishStatus.pending.value)).order_by(
            Wish.created_at).limit(200),
        "fulfilled": await Wish.select(*cols).where(base & (Wish.status == WishStatus.fulfilled.value)).order_by(
            Wish.updated_at).limit(200),
        "rejected": await Wish.select(*cols).where(base & (Wish.status == WishStatus.rejected.value)).order_by(
            Wish.updated_at, ascending=False).limit(50),
        "drafts": [],
    }


async def my_wishes(viewer: Viewer) -> list[dict[str, Any]]:
    return await Wish.select(Wish.id, Wish.title, Wish.status, Wish.reject_reason, Wish.created_at,
                             Wish.community.name).where(
        (Wish.owner == viewer.id) | (Wish.created_by == viewer.id)).order_by(Wish.id, ascending=False).limit(200)


async def member_claims(member_id: int) -> list[dict[str, Any]]:
    return await Claim.select(Claim.all_columns(), Claim.wish.title, Claim.wish.community.name,
                              Claim.wish.status, Claim.wish.display_name).where(
        Claim.member == member_id).order_by(Claim.id, ascending=False).limit(500)


async def service_records() -> list[dict[str, Any]]:
    """Per party member (anyone who ever claimed): claims, fulfilled, confirmed, last fulfilment."""
    rows = await Claim.select(Claim.member, Claim.status, Claim.fulfilled_at, Claim.member.name,
                              Claim.member.phone, Claim.member.is_party_member)
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        rec = out.setdefault(r["member"], {"member": r["member"], "name": r["member.name"],
                                           "phone": r["member.phone"], "claims": 0, "open": 0,
                                           "fulfilled": 0, "released": 0, "lapsed": 0, "last_fulfilled": None})
        rec["claims"] += 1
        if r["status"] in OPEN_CLAIM_STATUSES:
            rec["open"] += 1
        if r["status"] in (ClaimStatus.fulfilled.value, ClaimStatus.confirmed.value):
            rec["fulfilled"] += 1
            f = aware(r["fulfilled_at"])
            if f and (rec["last_fulfilled"] is None or f > rec["last_fulfilled"]):
                rec["last_fulfilled"] = f
        if r["status"] == ClaimStatus.released.value:
            rec["released"] += 1
        if r["status"] == ClaimStatus.lapsed.value:
            rec["lapsed"] += 1
    return sorted(out.values(), key=lambda x: (-x["fulfilled"], -x["claims"], x["member"]))


async def member_name(member_id: int) -> dict[str, Any] | None:
    return await Account.select(Account.id, Account.name, Account.phone, Account.is_party_member).where(
        Account.id == member_id).first()


def _median_days(spans: list[float]) -> float | None:
    return round(statistics.median(spans), 1) if spans else None


async def board_stats() -> dict[str, Any]:
    """Posted (ever published), claimed (ever claimed), fulfilled, median days from publishing to fulfilment."""
    wishes = await Wish.select(Wish.id, Wish.community, Wish.status, Wish.published_at, Wish.fulfilled_at).where(
        Wish.published_at.is_not_null())
    claimed_ids = {r["wish"] for r in await Claim.select(Claim.wish).distinct()}
    names = await community_names()
    by: dict[int, dict[str, Any]] = {}
    total = {"name": "全区", "posted": 0, "open": 0, "claimed": 0, "fulfilled": 0, "spans": []}
    for w in wishes:
        c = by.setdefault(w["community"], {"name": names.get(w["community"], "—"), "posted": 0, "open": 0,
                                           "claimed": 0, "fulfilled": 0, "spans": []})
        for bucket in (c, total):
            bucket["posted"] += 1
            if w["status"] == WishStatus.published.value:
                bucket["open"] += 1
            if w["id"] in claimed_ids:
                bucket["claimed"] += 1
            if w["status"] in (WishStatus.fulfilled.value, WishStatus.confirmed.value) and w["fulfilled_at"]:
                bucket["fulfilled"] += 1
                bucket["spans"].append((aware(w["fulfilled_at"]) - aware(w["published_at"])).total_seconds() / 86400)
    rows = sorted(by.values(), key=lambda x: (-x["posted"], x["name"]))
    for bucket in [*rows, total]:
        bucket["median_days"] = _median_days(bucket.pop("spans"))
    return {"total": total, "communities": rows}
