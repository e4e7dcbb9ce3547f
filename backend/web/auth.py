"""Who is signed in: the session holds an account id; this middleware loads the Viewer."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from backend.accounts.service import Viewer, load_viewer

SESSION_KEY = "account_id"


class ViewerMiddleware(AbstractAuthenticationMiddleware):
    """Never refuses: anonymous visitors get ``user=None``; guards decide what they may see."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        viewer: Viewer | None = None
        session = connection.scope.get("session") or {}
        account_id = session.get(SESSION_KEY) if isinstance(session, dict) else None
        if isinstance(account_id, int):
            viewer = await load_viewer(account_id)
        return AuthenticationResult(user=viewer, auth=None)
