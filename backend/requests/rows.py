"""The request rows other modules read, as typed dicts: what each key holds, in one place.

They are the rows Piccolo's ``select()`` returns (plain dicts, so the templates read them unchanged); a
joined column keeps Piccolo's dotted name (``"category.name"``). A function that needs only some keys
takes the smallest type that has them (``RequestState``): every wider row fits it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict


class RequestState(TypedDict):
    """What the access rules read of a request: every request row has it."""

    id: int
    kind: str
    status: str


class RequestRow(RequestState):
    """A request as ``Request.select()`` reads it: every column."""

    code: str
    category: int
    description: str
    is_public: bool
    source: str
    reporter: int | None
    filed_by: int | None
    contact_name: str
    contact_phone: str
    address: str
    lat: float | None
    lon: float | None
    street: int | None
    community: int | None
    grid: int | None
    current_unit: int | None
    current_person: int | None
    level: str
    urgent: bool
    answer: str
    close_reason: str
    version: int
    idempotency_key: str | None
    attributes: Any  # the category's extra answers (jsonb: a dict, or its text)
    created_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime


# The names joined to a request for its pages (queries.request_row).
_RequestNames = TypedDict("_RequestNames", {
    "category.name": str, "community.name": str | None, "street.name": str | None, "grid.name": str | None,
    "current_unit.name": str | None, "current_person.name": str | None,
    "current_person.public_title": str | None, "reporter.phone": str | None, "reporter.name": str | None,
    "filed_by.name": str | None, "filed_by.public_title": str | None,
})


class RequestView(RequestRow, _RequestNames):
    """A request with the names its pages show (``queries.request_row``)."""


# A request in a list (queries._LIST_SELECT); the inbox adds its light.
_ListNames = TypedDict("_ListNames", {
    "category.name": str, "community.name": str | None, "current_unit.name": str | None,
    "current_person.name": str | None, "current_person.public_title": str | None,
})


class RequestListRow(RequestState, _ListNames):
    code: str
    urgent: bool
    created_at: datetime
    description: str
    is_public: bool
    source: str
    level: str
    version: int
    light: NotRequired[Any]  # a lights.badges.LightState, added by with_lights (the inbox)


# A public request: nothing personal (no reporter, phone, name or address).
PublicRequestRow = TypedDict("PublicRequestRow", {
    "code": str, "kind": str, "status": str, "created_at": datetime, "resolved_at": datetime | None,
    "description": str, "category.name": str, "community.name": str | None, "current_unit.name": str | None,
})


class AssignmentRow(TypedDict):
    """An assignment as ``Assignment.select()`` reads it: who handles a request (lead or assist), since when."""

    id: int
    request: int
    unit: int
    person: int | None
    role: str
    level: str
    is_open: bool
    opened_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    close_reason: str
    version: int


# An event of a request's timeline as transitions.timeline() reads it, with the names of its unit and people.
TimelineRow = TypedDict("TimelineRow", {
    "id": int, "action": str, "from_status": str, "to_status": str, "note": str, "created_at": datetime,
    "data": Any, "actor_role": str, "unit.name": str | None, "person.name": str | None,
    "person.public_title": str | None, "actor.name": str | None, "actor.public_title": str | None,
    "is_public": bool,
})


class EventPhoto(TypedDict):
    """A photo of a request's event, as the timeline shows it (media's photo id and size; photos.service)."""

    id: int
    event: int | None
    width: int
    height: int


class TimelineEntry(TypedDict):
    """An event as the request pages show it (queries.timeline_with_photos)."""

    id: int
    action: str
    label: str
    to_status: str
    status_label: str
    note: str
    note_internal: bool
    sentence: str
    created_at: datetime
    actor: str
    by_resident: bool
    unit: str
    person: str
    photos: list[EventPhoto]
    internal: bool
    data: dict[str, Any] | None  # the event's own data (staff only)


class EventToRecord(TypedDict):
    """One item of ``record_many()``: a system event that changes no state."""

    request_id: int
    action: str
    note: NotRequired[str]
    data: NotRequired[dict[str, Any]]
    assignment_id: NotRequired[int | None]
    is_public: NotRequired[bool]
