"""What a request may go through: the rule table (which action from which status, by whom), the limits and
labels, the errors a refusal raises, and what a change reports to its hooks. Data only, no queries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from backend.accounts.tables import Role
from backend.errors import DomainError
from backend.i18n import N_
from backend.requests.tables import (
    OPEN_STATUSES,
    Status,
)

# Roles that handle requests (assessors and admins watch, they do not handle).
HANDLING_ROLES = {
    Role.grid_worker.value,
    Role.community_staff.value,
    Role.street_staff.value,
    Role.dispatcher.value,
    Role.department_staff.value,
    Role.unit_head.value,
}
MAX_DESCRIPTION = 2000
MAX_NOTE = 2000


class RequestError(DomainError):
    """A refused change. ``status`` is the HTTP status a controller should answer with."""


class NotAllowed(RequestError):
    status = 403


class InvalidState(RequestError):
    status = 409


class StaleVersion(RequestError):
    """Someone else changed the request first: show the new state instead of overwriting it."""

    status = 409

    def __init__(self, current_version: int, current_status: str) -> None:
        super().__init__(N_("该诉求刚刚被他人更新，请查看最新状态后再操作"))
        self.current_version = current_version
        self.current_status = current_status


@dataclass(frozen=True)
class OpenedAssignment:
    """An assignment a change opened, as it was written: the hooks (clocks, notices) need not read it back."""

    id: int
    unit: int
    person: int | None
    role: str  # AssignmentRole
    opened_at: datetime


@dataclass
class TransitionResult:
    request_id: int
    action: str
    from_status: str
    to_status: str
    version: int
    event_id: int
    opened_assignments: list[OpenedAssignment] = field(default_factory=list)
    closed_assignments: list[int] = field(default_factory=list)
    actor_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Facts of the request the hooks need, so they need not read them again.
    code: str = ""
    reporter: int | None = None
    category: int | None = None


# Called inside the transaction with the new event's id, e.g. to attach photos atomically.
EventAttach = Callable[[int, int], Awaitable[None]]  # (request_id, event_id)




@dataclass(frozen=True)
class Rule:
    from_statuses: frozenset[str]
    who: str  # "lead" | "handler" (lead or assist) | "reporter" | "dispatcher" | "system_or_reporter"
    needs_note: str | None = None  # message when a note/reason is required and missing


RULES: dict[str, Rule] = {
    "accept": Rule(frozenset({Status.assigned}), "lead"),
    "progress": Rule(frozenset({Status.assigned, Status.accepted}), "handler", N_("请填写进展说明")),
    "resolve": Rule(frozenset({Status.accepted}), "lead", N_("请填写办理结果")),
    "answer": Rule(frozenset({Status.assigned, Status.accepted}), "lead", N_("请填写答复内容")),
    "return": Rule(frozenset({Status.assigned, Status.accepted}), "lead", N_("退回必须填写理由")),
    "escalate": Rule(frozenset({Status.assigned, Status.accepted}), "lead", N_("上报必须填写理由")),
    "dispatch": Rule(frozenset({Status.assigned, Status.accepted, Status.returned}), "dispatcher"),
    "assist_report": Rule(frozenset({Status.assigned, Status.accepted}), "assist", N_("请填写协办情况")),
    "close_assist": Rule(frozenset({Status.assigned, Status.accepted, Status.returned}), "dispatcher"),
    "withdraw": Rule(frozenset({Status.submitted, Status.assigned}), "reporter"),
    "comment": Rule(frozenset({*OPEN_STATUSES, Status.resolved}), "reporter", N_("请填写补充内容")),
    "reopen": Rule(frozenset({Status.resolved}), "system_or_reporter"),
    "close": Rule(frozenset({Status.resolved}), "system_or_reporter"),
    # The same problem reported twice: closes with a link to the original (issue 17, backend/maps).
    "mark_duplicate": Rule(frozenset(OPEN_STATUSES), "handler_or_dispatcher", N_("请填写判定重复的理由")),
}

# Actions whose note is an internal instruction or reason: shown to staff only unless marked public.
INTERNAL_NOTE_ACTIONS = frozenset({"escalate", "dispatch", "return"})

ACTION_LABELS = {
    "submit": "提交诉求",
    "accept": "受理",
    "progress": "办理进展",
    "resolve": "办结",
    "answer": "答复",
    "return": "退回",
    "escalate": "上报",
    "dispatch": "派单",
    "assist_report": "协办反馈",
    "close_assist": "结束协办",
    "withdraw": "撤回",
    "comment": "补充说明",
    "reopen": "重新办理",
    "close": "结案",
    "rate": "满意度评价",  # a record() event written by backend/ratings
    "supporter_rate": "关注者评价",  # a supporter's rating (issue 17): no state change
    "light": "红黄灯",  # record() events of backend/lights
    "explanation": "书面说明",
    "explanation_review": "审核书面说明",
    "phone_call": "督办电话",
    "mark_duplicate": "合并为重复诉求",
}
STATUS_LABELS = {
    "submitted": "已提交",
    "assigned": "待受理",
    "accepted": "办理中",
    "resolved": "已办结",
    "returned": "已退回待派单",
    "closed": "已结案",
    "withdrawn": "已撤回",
    "duplicate": "重复诉求（已合并）",
}

# The field actions the staff pages offer, in the order they show them (access.staff_actions).
STAFF_ACTIONS = ("accept", "progress", "resolve", "answer", "return")
