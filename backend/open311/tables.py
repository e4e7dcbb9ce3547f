"""Open311 API clients (their keys, hashed), every call they make, the requests they filed and their updates."""

from __future__ import annotations

from piccolo.columns import JSONB, Boolean, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from backend.accounts.tables import Account
from backend.requests.tables import Event, Request


class ApiClient(Table):
    """Another system (an app, a kiosk, the 12345 call center, a department's back office) with one API key."""

    name = Varchar(length=80)
    contact = Varchar(length=120, default="")
    key_prefix = Varchar(length=12, unique=True)  # the first characters of the key: finds the row, shown to admins
    key_hash = Varchar(length=64)  # sha256 of the whole key (a random 32-byte secret, not a password)
    enabled = Boolean(default=True)
    # service codes this client may POST requests for; empty = every active category
    allowed_services = JSONB(default=[])
    rate_limit = Integer(default=60)  # calls per minute
    returns_token = Boolean(default=False)  # POST answers with a token instead of the id (GeoReport's token flow)
    # The staff account whose rights a back-office client's updates use (the transition service checks them).
    acts_as = ForeignKey(Account, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    last_used_at = Timestamptz(null=True, default=None)


class ApiCall(Table):
    """One API call, logged with its client (None: no or a wrong key)."""

    client = ForeignKey(ApiClient, null=True, default=None, index=True)
    method = Varchar(length=8)
    path = Varchar(length=200)
    status = Integer()
    ms = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow(), index=True)


class ApiRequest(Table):
    """A request filed through the API: which client, its token, and what the client said of the person.

    The person's details are kept for staff only and never answered by a GET.
    """

    request = ForeignKey(Request, unique=True)
    client = ForeignKey(ApiClient, index=True)
    token = Varchar(length=40, unique=True)
    device_id = Varchar(length=100, default="")
    account_id = Varchar(length=100, default="")
    email = Varchar(length=200, default="")
    media_url = Varchar(length=500, default="")
    address_id = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class ApiUpdate(Table):
    """An update POSTed by a back office (FixMyStreet's servicerequestupdates): update_id makes it idempotent."""

    client = ForeignKey(ApiClient, index=True)
    update_id = Varchar(length=100)  # unique per client (index in the raw migration)
    request = ForeignKey(Request)
    event = ForeignKey(Event, null=True, default=None)
    status = Varchar(length=40)
    description = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())
