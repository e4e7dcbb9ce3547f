"""Server-side sessions in Redis that resist fixation and store nothing for anonymous visitors.

Litestar's server-side backend keeps whatever id the client's cookie carries, also when the store
never issued it, and writes an (empty) session for every cookie-less request. This backend:

- trusts a cookie id only if the store holds a session under it; any other id is replaced by a
  fresh server-generated one (a client can never choose its id);
- issues a fresh id when asked to (``rotate_session``: sign-in, sign-out, a change of roles) and
  deletes the old one, so an id seen before sign-in is worthless after it;
- stores a session only when something is in it; an emptied session is deleted and its cookie
  cleared;
- writes an unchanged session back (Redis SET and Set-Cookie, renewing both expiries) at most every
  ``REFRESH_SECONDS``, not on every response: it was a Redis round trip and a cookie per request.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.types import Empty
from litestar.utils.dataclass import extract_dataclass_items

if TYPE_CHECKING:
    from litestar.connection import ASGIConnection
    from litestar.types import Message, ScopeSession

_TRUSTED = "qg_session_trusted_id"  # the cookie id, once the store confirmed it issued it
_ROTATE = "qg_session_rotate"  # set by rotate_session(): a new id on this response
_NEW = "qg_session_new_id"
_LOADED = "qg_session_loaded"  # the stored bytes as loaded: an unchanged session need not be written back
STAMP = "_written"  # in the session: when it was last written (epoch seconds)
REFRESH_SECONDS = 300


def rotate_session(connection: ASGIConnection) -> None:
    """Give this browser a fresh session id on the response (the old id's session is deleted)."""
    connection.scope.setdefault("state", {})[_ROTATE] = True


class RotatingSessionBackend(ServerSideSessionBackend):
    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        state = connection.scope.setdefault("state", {})
        state.pop(_TRUSTED, None)
        session_id = connection.cookies.get(self.config.key)
        if session_id and session_id != "null":
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                state[_TRUSTED] = session_id
                state[_LOADED] = data
                return self.deserialize_data(data)
        return {}

    def get_session_id(self, connection: ASGIConnection) -> str:
        state = connection.scope.setdefault("state", {})
        trusted = state.get(_TRUSTED)
        if trusted and not state.get(_ROTATE):
            return trusted
        if not state.get(_NEW):
            state[_NEW] = self.generate_session_id()
        return state[_NEW]

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        state = connection.scope.setdefault("state", {})
        trusted = state.get(_TRUSTED)
        empty = scope_session is Empty or not scope_session or scope_session.keys() == {STAMP}
        loaded = state.get(_LOADED)
        if isinstance(loaded, str):  # the store may hand back text (a client that decodes its replies)
            loaded = loaded.encode()
        if trusted and not empty and not state.get(_ROTATE) and loaded is not None \
                and time.time() - scope_session.get(STAMP, 0) < REFRESH_SECONDS \
                and self.serialize_data(scope_session, connection.scope) == loaded:
            return  # unchanged, and written moments ago: the store and the cookie still hold it
        store = self.config.get_store_from_app(connection.scope["app"])
        headers = MutableScopeHeaders.from_message(message)
        cookie_params = dict(extract_dataclass_items(self.config, exclude_none=True, include=Cookie.__dict__.keys()))
        had_cookie = bool(connection.cookies.get(self.config.key))
        if trusted and (state.get(_ROTATE) or empty):
            await self.delete(trusted, store=store)
        if empty:
            if had_cookie:
                headers.add("Set-Cookie",
                            Cookie(value="null", key=self.config.key, expires=0, **cookie_params).to_header(header=""))
            return
        assert scope_session is not Empty
        scope_session[STAMP] = int(time.time())
        session_id = self.get_session_id(connection)
        await self.set(session_id=session_id, data=self.serialize_data(scope_session, connection.scope), store=store)
        headers.add("Set-Cookie", Cookie(value=session_id, key=self.config.key, **cookie_params).to_header(header=""))


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend
