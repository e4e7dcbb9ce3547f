"""Litestar guards. Anonymous → sign-in (401 handler redirects pages); wrong account kind → 403.

Guards are ``async`` although they await nothing: Litestar runs a plain function guard in its thread pool
(``sync_to_thread``), a thread hop on every guarded request.
"""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from backend.accounts.service import Viewer
from backend.accounts.tables import Role


def viewer_of(connection: ASGIConnection) -> Viewer | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Viewer) else None


def require_staff(connection: ASGIConnection) -> Viewer:
    """The signed-in staff member, or the 401/403 the staff guards answer with."""
    viewer = viewer_of(connection)
    if viewer is None:
        raise NotAuthorizedException("请先登录")
    if not viewer.is_staff:
        raise PermissionDeniedException("此页面仅供工作人员使用")
    return viewer


async def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if viewer_of(connection) is None:
        raise NotAuthorizedException("请先登录")


async def resident_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    viewer = viewer_of(connection)
    if viewer is None:
        raise NotAuthorizedException("请先登录")
    if not viewer.is_resident:
        raise PermissionDeniedException("此页面仅供居民使用")


async def staff_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    require_staff(connection)


def roles(*allowed: Role):
    """A guard that admits staff holding one of ``allowed`` roles."""
    wanted = {r.value for r in allowed}

    async def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        viewer = require_staff(connection)
        if not (viewer.roles & wanted):
            raise PermissionDeniedException("您的角色无权访问此页面")

    return guard


admin_only = roles(Role.admin)
