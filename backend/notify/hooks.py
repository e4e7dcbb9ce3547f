"""Who hears about a request's change (in the change's transaction): the resident on every status
change, and at once when it is resolved or answered, with the result and a link to rate it; the
handler on a new assignment. In-app always; Web Push rides along.

Notices are stored as a message key and parameters and rendered in the reader's language.
"""

from __future__ import annotations

from backend.accounts.tables import Role
from backend.i18n import N_
from backend.notify.service import notify_accounts, unit_members
from backend.requests.rules import STATUS_LABELS, TransitionResult
from backend.requests.tables import Event, Status

HANDLER_ROLES = (Role.grid_worker, Role.community_staff, Role.street_staff, Role.department_staff, Role.unit_head,
                 Role.dispatcher)
RESOLVED_LABELS = {"resolve": "您的诉求 {code} 已办结，请评价", "answer": "您的咨询 {code} 已答复，请评价"}


async def notify_people(result: TransitionResult) -> None:
    code = result.code
    reporter = result.reporter
    if reporter and result.action in RESOLVED_LABELS and result.to_status == Status.resolved.value:
        # The notice the rating depends on: what was done (the handler's result) and where to rate it.
        ev = await Event.select(Event.note).where(Event.id == result.event_id).first()
        await notify_accounts([reporter], "", (ev or {}).get("note", ""), f"/r/{code}#rate", kind="resolved",
                              key=RESOLVED_LABELS[result.action], params={"code": code})
    elif (reporter and result.from_status != result.to_status and result.actor_id != reporter
            and result.to_status != Status.resolved.value):
        label = STATUS_LABELS.get(result.to_status, result.to_status)
        await notify_accounts([reporter], "", "", f"/r/{code}", kind="status",
                              key=N_("您的诉求 {code}：{status_label}"), params={"code": code, "status_label": label})
    for a in result.opened_assignments:
        people = [a.person] if a.person else await unit_members(a.unit, *HANDLER_ROLES)
        people = [p for p in people if p != result.actor_id]
        key = N_("新的诉求待受理 {code}") if a.role == "lead" else N_("新的协办诉求 {code}")
        await notify_accounts(people, "", "", f"/staff/requests/{result.request_id}", kind="assignment",
                              key=key, params={"code": code})
