"""Litestar guards. Anonymous → sign-in (401 handler redirects pages); wrong account kind → 403."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from backend.accounts.service import Viewer
from backend.accounts.tables import Role


def viewer_of(connection: ASGIConnection) -> Viewer | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Viewer) else None


def signed_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    if viewer_of(connection) is None:
        raise NotAuthorizedException("请先登录")


def resident_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    viewer = viewer_of(connection)
    if viewer is None:
        raise NotAuthorizedException("请先登录")
    if not viewer.is_resident:
        raise PermissionDeniedException("此页面仅供居民使用")


def staff_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    viewer = viewer_of(connection)
    if viewer is None:
        raise NotAuthorizedException("请先登录")
    if not viewer.is_staff:
        raise PermissionDeniedException("此页面仅供工作人员使用")


def roles(*allowed: Role):
    """A guard that admits staff holding one of ``allowed`` roles."""
    wanted = {r.value for r in allowed}

    def guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
        staff_only(connection, handler)
        viewer = viewer_of(connection)
        assert viewer is not None
        if not (viewer.roles & wanted):
            raise PermissionDeniedException("您的角色无权访问此页面")

    return guard


admin_only = roles(Role.admin)
