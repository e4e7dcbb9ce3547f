"""Settings read once from the environment, with defaults for the embedded mode.

No configuration: an embedded PostgreSQL and an embedded Redis, both on unix sockets in the data
folder (backend/embedded.py). ``DATABASE_URL`` / ``REDIS_URL`` point at any PostgreSQL ≥ 15 and any Redis.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from backend.embedded import embedded_database_url

ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret(data_dir: Path) -> str:
    """A secret from SECRET_KEY, else one generated once and kept in the data folder."""
    env = os.environ.get("SECRET_KEY")
    if env:
        return env
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(secrets.token_urlsafe(48))
        os.replace(tmp, path)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    embedded_postgres: bool
    redis_url: str
    embedded_redis: bool
    secret_key: str
    demo_mode: bool
    host: str = "127.0.0.1"
    port: int = 8000
    media_dir: Path = field(default=Path("."))
    otp_ttl_seconds: int = 300
    otp_max_tries: int = 5
    otp_per_phone_per_hour: int = 5
    otp_phone_cooldown_seconds: int = 60
    otp_per_ip_per_hour: int = 30
    login_max_failures: int = 5
    login_lock_seconds: int = 900
    session_max_age: int = 14 * 24 * 3600
    public_url: str = ""  # QG_PUBLIC_URL: where people reach the site (https in production)
    trusted_proxies: tuple[str, ...] = ()  # QG_TRUSTED_PROXIES: only these may set X-Forwarded-For
    push_hosts: tuple[str, ...] = ()  # QG_PUSH_HOSTS: Web Push services we POST to (".x" = any subdomain)
    tracking_prefix: str = "YZ"
    timezone: str = "Asia/Shanghai"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def is_production(self) -> bool:
        """Served to the public: ``QG_PUBLIC_URL`` is https or names a host other than this machine."""
        if not self.public_url:
            return False
        host = urlsplit(self.public_url).hostname or ""
        return self.https or host not in LOOPBACK_HOSTS


# The browsers' push services: Chrome/Edge (FCM), Firefox (Mozilla autopush), Safari (Apple), Edge legacy (WNS).
DEFAULT_PUSH_HOSTS = "fcm.googleapis.com,updates.push.services.mozilla.com,.push.apple.com,.notify.windows.com"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class UnsafeConfiguration(RuntimeError):
    """A combination of settings the app refuses to start with."""


def check_startup(settings: Settings) -> None:
    """Demo mode shows one-time codes on the page: anyone could sign in as anyone. Never in production."""
    if settings.demo_mode and settings.is_production:
        raise UnsafeConfiguration(
            f"QG_DEMO=1 (one-time codes shown on the page) is refused with the public URL {settings.public_url}: "
            "unset QG_DEMO for a production site, or unset QG_PUBLIC_URL for a local demo."
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    data_dir = Path(os.environ.get("QG_DATA_DIR", ROOT / "data")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_env = os.environ.get("DATABASE_URL")
    if database_env and not database_env.startswith(("postgres://", "postgresql://")):
        raise SystemExit(f"DATABASE_URL must be a postgresql:// URL (got {database_env.split(':', 1)[0]}:…)")
    database_url = database_env or embedded_database_url(data_dir)
    redis_env = os.environ.get("REDIS_URL")
    redis_url = redis_env or f"unix://{data_dir / 'redis.sock'}"
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        embedded_postgres=not database_env,
        redis_url=redis_url,
        embedded_redis=not redis_env,
        secret_key=_secret(data_dir),
        # Demo mode (codes shown on the page) only when asked for: scripts/run sets it for the demo district.
        demo_mode=_bool(os.environ.get("QG_DEMO"), default=False),
        host=os.environ.get("QG_HOST", "127.0.0.1"),
        port=int(os.environ.get("QG_PORT", "8000")),
        public_url=os.environ.get("QG_PUBLIC_URL", "").strip().rstrip("/"),
        trusted_proxies=tuple(p.strip() for p in os.environ.get("QG_TRUSTED_PROXIES", "").split(",") if p.strip()),
        push_hosts=tuple(h.strip().lower() for h in os.environ.get("QG_PUSH_HOSTS", DEFAULT_PUSH_HOSTS).split(",")
                         if h.strip()),
        media_dir=Path(os.environ.get("QG_MEDIA_DIR", data_dir / "media")).resolve(),
    )
