"""Micro-wishes: the limits, the labels of statuses and groups, and the errors every wishes module raises.
"""

from __future__ import annotations

from backend.accounts.tables import Role
from backend.errors import DomainError
from backend.wishes.tables import (
    BeneficiaryGroup,
    ClaimStatus,
    Honorific,
    WishStatus,
)

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
