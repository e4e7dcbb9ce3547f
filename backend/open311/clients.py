"""API clients: keys (shown once, stored as a SHA-256 hash), settings, rate limits and the call log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from backend.accounts.tables import Account
from backend.db import utcnow
from backend.i18n import gettext as _
from backend.open311.spec import ApiError
from backend.open311.tables import ApiCall, ApiClient
from backend.redis import hit
from backend.routing.tables import Category

KEY_PREFIX_LEN = 12




def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class NewClient:
    name: str
    contact: str = ""
    allowed_services: list[str] | None = None
    rate_limit: int = 60
    returns_token: bool = False
    acts_as_username: str = ""


async def _checked(data: NewClient) -> tuple[dict[Any, Any], dict[str, str]]:
    """The client's settings as columns, or the errors by field."""
    errors: dict[str, str] = {}
    name = data.name.strip()
    if not name or len(name) > 80:
        errors["name"] = _("请填写客户端名称（不超过 80 字）")
    if len(data.contact) > 120:
        errors["contact"] = _("联系方式不超过 120 字")
    if not (1 <= data.rate_limit <= 10000):
        errors["rate_limit"] = _("每分钟调用上限应为 1 到 10000")
    codes = [c for c in dict.fromkeys(data.allowed_services or []) if c]
    if codes:
        known = {r["code"] for r in await Category.select(Category.code).where(Category.code.is_in(codes))}
        unknown = [c for c in codes if c not in known]
        if unknown:
            errors["allowed_services"] = _("未知的类别代码：{codes}").format(codes=", ".join(unknown)[:100])
    acts_as = None
    if data.acts_as_username.strip():
        viewer_row = await Account.select(Account.id).where(
            (Account.username == data.acts_as_username.strip()) & (Account.kind == "staff")
            & (Account.active == True)).first()
        if viewer_row is None:
            errors["acts_as"] = _("找不到该工作人员账号")
        else:
            acts_as = viewer_row["id"]
    values = {ApiClient.name: name, ApiClient.contact: data.contact.strip(), ApiClient.allowed_services: codes,
              ApiClient.rate_limit: data.rate_limit, ApiClient.returns_token: data.returns_token,
              ApiClient.acts_as: acts_as}
    return values, errors


async def create_client(data: NewClient) -> tuple[ApiClient | None, str, dict[str, str]]:
    """A new client and its key (the only time the key exists in clear). Returns (client, key, errors)."""
    values, errors = await _checked(data)
    if errors:
        return None, "", errors
    key = "o311_" + secrets.token_urlsafe(32)
    client = ApiClient(key_prefix=key[:KEY_PREFIX_LEN], key_hash=_hash(key), enabled=True,
                       **{column._meta.name: value for column, value in values.items()})
    await client.save()
    return client, key, {}


async def update_client(client_id: int, data: NewClient) -> dict[str, str] | None:
    """Change a client's settings (not its key); the errors by field, or None when there is no such client."""
    values, errors = await _checked(data)
    if errors:
        return errors
    done = await ApiClient.update(values).where(ApiClient.id == client_id).returning(ApiClient.id)
    return {} if done else None


async def set_enabled(client_id: int, enabled: bool) -> bool:
    done = await ApiClient.update({ApiClient.enabled: enabled}).where(ApiClient.id == client_id).returning(
        ApiClient.id)
    return bool(done)


async def rotate_key(client_id: int) -> str | None:
    """A new key for the client (the old one stops working at once); None when there is no such client."""
    key = "o311_" + secrets.token_urlsafe(32)
    done = await ApiClient.update({ApiClient.key_prefix: key[:KEY_PREFIX_LEN], ApiClient.key_hash: _hash(key)}).where(
        ApiClient.id == client_id).returning(ApiClient.id)
    return key if done else None


async def authenticate(key: str | None, *, required: bool) -> dict[str, Any] | None:
    """The enabled client owning ``key``. A wrong key is always refused; no key only where one is required."""
    if not key:
        if required:
            raise ApiError.one(403, "api_key", _("缺少 api_key"))
        return None
    row = await ApiClient.select().where(ApiClient.key_prefix == key[:KEY_PREFIX_LEN]).output(
        load_json=True).first() if len(key) > KEY_PREFIX_LEN else None
    if row is None or not hmac.compare_digest(row["key_hash"], _hash(key)):
        raise ApiError.one(403, "api_key", _("api_key 无效"))
    if not row["enabled"]:
        raise ApiError.one(403, "api_key", _("该 api_key 已停用"))
    return row


async def check_rate(client: dict[str, Any] | None, remote: str) -> None:
    """Per client (its own limit per minute), or per address for calls without a key; shared in Redis."""
    if client is not None:
        count, _ttl = await hit(f"qg:o311:rate:client:{client['id']}", 60)
        limit = client["rate_limit"]
    else:
        count, _ttl = await hit(f"qg:o311:rate:ip:{remote}", 60)
        limit = 120
    if count > limit:
        raise ApiError.one(429, "rate_limit", _("调用过于频繁，每分钟最多 {n} 次").format(n=limit))


async def log_call(client_id: int | None, method: str, path: str, status: int, ms: int) -> None:
    await ApiCall(client=client_id, method=method, path=path[:200], status=status, ms=ms).save()
    if client_id is not None:
        await ApiClient.update({ApiClient.last_used_at: utcnow()}).where(ApiClient.id == client_id)
