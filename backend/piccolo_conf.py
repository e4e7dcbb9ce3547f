"""Piccolo engine from DATABASE_URL (the embedded PostgreSQL by default) and the app registry."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

from backend.settings import get_settings

DB = PostgresEngine(config={"dsn": get_settings().database_url}, log_queries=False)

# Order matters only for readability; Piccolo resolves dependencies between apps.
APP_REGISTRY = AppRegistry(
    apps=[
        "backend.organisation.piccolo_app",
        "backend.accounts.piccolo_app",
        "backend.routing.piccolo_app",
        "backend.requests.piccolo_app",
        "backend.media.piccolo_app",
        "backend.requests.photos.piccolo_app",
        "backend.notify.piccolo_app",
        "backend.wishes.piccolo_app",
        "backend.lights.piccolo_app",
        "backend.ratings.piccolo_app",
        "backend.stats.piccolo_app",
        "backend.knowledge.piccolo_app",
        "backend.notices.piccolo_app",
        "backend.open311.piccolo_app",
        "backend.learning.piccolo_app",
        "backend.maps.piccolo_app",
        "backend.wechat.piccolo_app",
    ]
)
