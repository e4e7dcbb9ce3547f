"""村居公开: limits, labels, the error every notices module raises, and who may publish, review or see drafts.
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from backend.accounts.service import Viewer
from backend.accounts.tables import Role
from backend.db import utcnow
from backend.errors import DomainError
from backend.organisation.tables import UnitKind
from backend.settings import get_settings

CADENCE_LABELS = {"immediate": "即时公开", "monthly": "每月", "quarterly": "每季度", "yearly": "每年",
                  "event": "逐项（事件）"}
LEVEL_LABELS = {"all": "社区和村", "community": "城市社区（居务）", "village": "村（村务）"}
NOTICE_STATUS_LABELS = {"draft": "未发布", "published": "已发布", "withdrawn": "已撤下"}
VERSION_STATUS_LABELS = {"draft": "草稿", "review": "待监委会审核", "returned": "已退回修改", "published": "现行版本",
                         "superseded": "已更正（旧版本）"}
ATTACHMENT_LABELS = {"pdf": "PDF", "image": "图片", "table": "表格", "board": "公开栏照片"}
PUBLISHER_ROLES = (Role.community_staff.value, Role.unit_head.value)
QUESTION_DAYS = 10  # an answer is due within 10 days (the lights' resolve clock of the question category)
QUESTION_CATEGORY = "open_affairs"
MAX_TITLE = 200
MAX_BODY = 20000
MAX_FILE = 10 * 1024 * 1024
MAX_FILES = 10
PAGE_SIZE = 20


class NoticeError(DomainError):
    """A refused change, with a message for the user, the form field and the HTTP status."""


def tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def today() -> date:
    return utcnow().astimezone(tz()).date()




def publisher_units(viewer: Viewer | None) -> set[int]:
    """Communities this person publishes for: staff or head of that very community (not of a parent)."""
    if viewer is None or not viewer.is_staff:
        return set()
    return {m.unit_id for m in viewer.memberships
            if m.role in PUBLISHER_ROLES and m.unit_kind == UnitKind.community.value}


def reviewer_units(viewer: Viewer | None) -> set[int]:
    if viewer is None or not viewer.is_staff:
        return set()
    return {m.unit_id for m in viewer.memberships if m.role == Role.supervisor.value}


def can_manage(viewer: Viewer | None, unit_id: int) -> bool:
    return unit_id in publisher_units(viewer)


def can_review(viewer: Viewer | None, unit_id: int) -> bool:
    return unit_id in reviewer_units(viewer)


def can_see_drafts(viewer: Viewer | None, unit_id: int) -> bool:
    return can_manage(viewer, unit_id) or can_review(viewer, unit_id) or bool(viewer and viewer.is_admin)
