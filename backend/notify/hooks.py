"""Who hears about a request's change (after its commit): the resident on every status change (the
rating-due notice on resolution comes from backend.ratings), the handler on a new assignment.
In-app always; Web Push rides along.

Titles are stored in Chinese, the source language: they are data, read later in any language.
"""

from __future__ import annotations

from backend.accounts.tables import Role
from backend.notify.service import notify_accounts, unit_members
from backend.requests.service import STATUS_LABELS, TransitionResult
from backend.requests.tables import Assignment, Status

HANDLER_ROLES = (Role.grid_worker, Role.community_staff, Role.street_staff, Role.department_staff, Role.unit_head,
                 Role.dispatcher)


async def notify_people(result: TransitionResult) -> None:
    code = result.code
    reporter = result.reporter
    # The resolution ("please rate") is announced by the ratings domain, which owns the rating.
    if (reporter and result.from_status != result.to_status and result.actor_id != reporter
            and result.to_status != Status.resolved.value):
        label = STATUS_LABELS.get(result.to_status, result.to_status)
        await notify_accounts([reporter], f"您的诉求 {code}：{label}", "", f"/r/{code}", kind="status")
    if result.opened_assignments:
        rows = await Assignment.select(Assignment.unit, Assignment.person, Assignment.role).where(
            Assignment.id.is_in(result.opened_assignments))
        for a in rows:
            people = [a["person"]] if a["person"] else await unit_members(a["unit"], *HANDLER_ROLES)
            people = [p for p in people if p != result.actor_id]
            title = f"新的诉求待受理 {code}" if a["role"] == "lead" else f"新的协办诉求 {code}"
            await notify_accounts(people, title, "", f"/staff/requests/{result.request_id}", kind="assignment")
