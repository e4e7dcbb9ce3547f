"""Piccolo engine from DATABASE_URL (SQLite file by default) and the app registry."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from backend.settings import get_settings
from backend.sqlite_engine import PooledSQLiteEngine

_settings = get_settings()

if _settings.is_postgres:
    DB = PostgresEngine(config={"dsn": _settings.database_url}, log_queries=False)
else:
    _settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    # timeout = busy timeout: a second writer waits instead of failing at once.
    DB = PooledSQLiteEngine(path=str(_settings.sqlite_path), timeout=30)

# Order matters only for readability; Piccolo resolves dependencies between apps.
APP_REGISTRY = AppRegistry(
    apps=[
        "backend.organisation.piccolo_app",
        "backend.accounts.piccolo_app",
        "backend.routing.piccolo_app",
        "backend.requests.piccolo_app",
        "backend.media.piccolo_app",
        "backend.notify.piccolo_app",
        "backend.wishes.piccolo_app",
        "backend.lights.piccolo_app",
        "backend.ratings.piccolo_app",
        "backend.stats.piccolo_app",
        "backend.knowledge.piccolo_app",
    ]
)
