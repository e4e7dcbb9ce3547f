"""An HTTP client for the Open311 API: no cookies, no CSRF token (the API is authenticated by its api_key)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest


class ApiHttp(httpx.AsyncClient):
    async def post(self, url: str, *, data=None, **kwargs):  # type: ignore[override]
        # Repeated fields (attribute[CODE][]=a&attribute[CODE][]=b) go as a list of pairs, form-encoded.
        if isinstance(data, list):
            headers = {"content-type": "application/x-www-form-urlencoded", **(kwargs.pop("headers", None) or {})}
            return await super().post(url, content=urlencode(data).encode(), headers=headers, **kwargs)
        return await super().post(url, data=data, **kwargs)


@pytest.fixture
async def api(app) -> AsyncIterator[ApiHttp]:
    async with ApiHttp(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c
