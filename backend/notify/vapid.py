"""VAPID keys for Web Push: from VAPID_PRIVATE_KEY / VAPID_PUBLIC_KEY, else generated once into the data folder."""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid

from backend.settings import get_settings


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@lru_cache(maxsize=1)
def vapid() -> Vapid:
    env_key = os.environ.get("VAPID_PRIVATE_KEY", "").strip()
    if env_key:
        if "BEGIN" in env_key:
            return Vapid.from_pem(env_key.encode())
        return Vapid.from_string(env_key)
    path = get_settings().data_dir / "vapid_private.pem"
    if not path.exists():
        v = Vapid()
        v.generate_keys()
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(v.private_pem())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)  # atomic: two processes starting at once keep one key
    return Vapid.from_file(str(path))


def public_key() -> str:
    """The application server key browsers need: base64url of the uncompressed P-256 point."""
    env_pub = os.environ.get("VAPID_PUBLIC_KEY", "").strip()
    if env_pub:
        return env_pub
    raw = vapid().public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _b64url(raw)


def contact() -> str:
    return os.environ.get("VAPID_SUBJECT", "mailto:admin@qungong.invalid")
