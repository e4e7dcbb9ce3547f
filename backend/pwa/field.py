"""Grid-worker field mode: today's tasks with big one-handed buttons.

Accept is one tap from the list; progress and resolve open an inline form (photo + note) and send:
three taps. The forms post to the request pages' action endpoints with the hidden version, so the
transition service stays the one place that changes a request. Forms carry ``data-offline-queue``:
made offline, they wait in the phone's outbox and are sent when the network returns.
"""

from __future__ import annotations

from litestar import Controller, Request, Response, get
from litestar.params import Parameter

from backend.accounts.service import Viewer
from backend.requests.rows import RequestListRow
from backend.requests.service import STATUS_LABELS, staff_actions_many
from backend.requests.tables import Status
from backend.web.guards import staff_only, viewer_of
from backend.web.render import page


class FieldTask(RequestListRow):
    """A task of the field page: an inbox row with the three actions it has buttons for."""

    actions: list[str]
    is_lead: bool


FIELD_STATUSES = (Status.assigned.value, Status.accepted.value)
PER_PAGE = 50  # a page of big cards stays light on an old phone; the rest are a "more" link away
MAX_READ = 5000  # every open task of a unit: the light order is known only once all are read


async def _tasks(viewer: Viewer, page_no: int) -> tuple[list[FieldTask], int]:
    """One page of the viewer's open tasks (assigned or accepted) and how many there are in all."""
    from backend.requests import queries  # the request pages' read side (issue 3)

    rows = [r for r in await queries.inbox(viewer, limit=MAX_READ) if r["status"] in FIELD_STATUSES]
    # Sorted as the inbox: red, then yellow, then the oldest (each row carries its light).
    tasks: list[FieldTask] = []
    # The transition rules decide what is offered; the field page shows the three it has buttons for.
    # Read for the page's tasks at once (per task it was four or five queries: 14 ms of CPU a page, issue 22).
    shown = rows[(page_no - 1) * PER_PAGE:page_no * PER_PAGE]
    allowed = await staff_actions_many(viewer, shown)
    for row in shown:
        actions, is_lead = allowed[row["id"]]
        tasks.append(row | {"actions": [a for a in ("accept", "resolve", "progress") if a in actions],
                            "is_lead": is_lead})
    return tasks, len(rows)


class FieldController(Controller):
    path = "/staff/field"
    guards = [staff_only]
    include_in_schema = False

    @get("")
    async def field(self, request: Request,
                    page_no: int = Parameter(query="page", default=1, ge=1, le=1000)) -> Response:
        viewer = viewer_of(request)
        assert viewer is not None
        tasks, total = await _tasks(viewer, page_no)
        pages = max(1, -(-total // PER_PAGE))
        return page(request, "pwa/field.html", {
            "tasks": tasks, "total": total, "page_no": page_no, "pages": pages, "first": (page_no - 1) * PER_PAGE + 1,
            "status_labels": STATUS_LABELS}, block="content")
