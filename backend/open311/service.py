"""Open311's public surface: what the controllers and the admin pages call, by the module that holds it.

No logic here. spec.py (limits, status mapping, ApiError), clients.py (keys, rate limits, call log), discovery.py
(discovery, services, definitions), posting.py (POST requests, tokens), reading.py (GET requests), updates.py
(servicerequestupdates). Formats (JSON, XML) are formats.py; the admin pages admin.py.
"""
from __future__ import annotations

from backend.open311.clients import (
    KEY_PREFIX_LEN,
    NewClient,
    authenticate,
    check_rate,
    create_client,
    log_call,
    rotate_key,
    set_enabled,
    update_client,
)
from backend.open311.discovery import (
    category_by_code,
    definition,
    discovery,
    services,
)
from backend.open311.posting import (
    attribute_fields,
    post_request,
    token,
)
from backend.open311.reading import (
    list_requests,
    one_request,
    parse_w3c,
    window,
)
from backend.open311.spec import (
    CLOSED_STATUSES,
    MAX_DESCRIPTION,
    MAX_PAGE_SIZE,
    MAX_WINDOW,
    SPEC,
    STATUS_MAP,
    UPDATE_STATUSES,
    ApiError,
)
from backend.open311.updates import (
    list_updates,
    post_update,
)

__all__ = [
    "CLOSED_STATUSES",
    "KEY_PREFIX_LEN",
    "MAX_DESCRIPTION",
    "MAX_PAGE_SIZE",
    "MAX_WINDOW",
    "SPEC",
    "STATUS_MAP",
    "UPDATE_STATUSES",
    "ApiError",
    "NewClient",
    "attribute_fields",
    "authenticate",
    "category_by_code",
    "check_rate",
    "create_client",
    "definition",
    "discovery",
    "list_requests",
    "list_updates",
    "log_call",
    "one_request",
    "parse_w3c",
    "post_request",
    "post_update",
    "rotate_key",
    "services",
    "set_enabled",
    "token",
    "update_client",
    "window",
]
