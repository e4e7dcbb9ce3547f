"""Who is signed in: the session holds an account id; this middleware loads the Viewer."""

from __future__ import annotations

import secrets

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from backend.accounts.service import Viewer, load_viewer
from backend.web.sessions import rotate_session

SESSION_KEY = "account_id"
DRAFT_TOKEN_KEY = "draft_token"  # ties anonymous report drafts to this browser; kept over sign-in
ROLES_KEY = "roles"  # what the account could do when its session id was issued


def roles_signature(viewer: Viewer) -> str:
    """The account's rights: a change (new role, unit, party membership) means a fresh session id."""
    held = sorted(f"{m.role}@{m.unit_id}" for m in viewer.memberships)
    return ",".join([viewer.kind, "party" if viewer.is_party_member else "-", *held])


class ViewerMiddleware(AbstractAuthenticationMiddleware):
    """Never refuses: anonymous visitors get ``user=None``; guards decide what they may see."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        viewer: Viewer | None = None
        session = connection.scope.get("session")
        account_id = session.get(SESSION_KEY) if isinstance(session, dict) else None
        if isinstance(account_id, int) and isinstance(session, dict):
            viewer = await load_viewer(account_id)
            if viewer is None:  # the account is gone: forget the session
                session.clear()
            elif session.get(ROLES_KEY) != (sig := roles_signature(viewer)):
                session[ROLES_KEY] = sig
                rotate_session(connection)
        return AuthenticationResult(user=viewer, auth=None)


def draft_token(request: ASGIConnection, *, create: bool = False) -> str | None:
    """The secret that ties this browser session's anonymous drafts to it (kept over sign-in)."""
    token = request.session.get(DRAFT_TOKEN_KEY) if isinstance(request.scope.get("session"), dict) else None
    if token is None and create:
        token = secrets.token_urlsafe(24)
        request.session[DRAFT_TOKEN_KEY] = token
    return token
