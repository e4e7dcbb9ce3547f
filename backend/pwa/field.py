"""Grid-worker field mode: today's tasks with big one-handed buttons.

Accept is one tap from the list; progress and resolve open an inline form (photo + note) and send:
three taps. The forms post to the request pages' action endpoints with the hidden version, so the
transition service stays the one place that changes a request. Forms carry ``data-offline-queue``:
made offline, they wait in the phone's outbox and are sent when the network returns.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get

from backend.accounts.service import Viewer
from backend.requests.service import STATUS_LABELS, staff_actions_many
from backend.requests.tables import Status
from backend.web.guards import staff_only, viewer_of
from backend.web.render import page

FIELD_STATUSES = (Status.assigned.value, Status.accepted.value)
MAX_TASKS = 100


async def _tasks(viewer: Viewer) -> list[dict[str, Any]]:
    from backend.requests import queries  # the request pages' read side (issue 3)

    rows = [r for r in await queries.inbox(viewer, limit=1000) if r["status"] in FIELD_STATUSES]
    # Sorted as the inbox: red, then yellow, then the oldest (each row carries its light).
    tasks = []
    # The transition rules decide what is offered; the field page shows the three it has buttons for.
    # Read for all tasks at once (per task it was four or five queries: 14 ms of CPU a page, issue 22).
    allowed = await staff_actions_many(viewer, rows[:MAX_TASKS])
    for row in rows[:MAX_TASKS]:
        actions, is_lead = allowed[row["id"]]
        tasks.append(row | {"actions": [a for a in ("accept", "resolve", "progress") if a in actions],
                            "is_lead": is_lead})
    return tasks


class FieldController(Controller):
    path = "/staff/field"
    guards = [staff_only]
    include_in_schema = False

    @get("")
    async def field(self, request: Request) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        tasks = await _tasks(viewer)
        return page(request, "pwa/field.html", {"tasks": tasks, "status_labels": STATUS_LABELS}, block="content")
