"""The figures' cache: any change shows at once, in every process (the key holds the newest event id).

Apart from the readers (service.py reads the events, rollup.py sums the rollup) so that neither needs the
other to be cached.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import pickle
from collections.abc import Callable, Iterable
from typing import Any

from backend.redis import redis_client
from backend.stats import rollup
from backend.stats.service import Dashboard, Filters, last_event_id

CACHE_SECONDS = 60  # bounds how stale the backlog ages may get; figures change key with every new event


async def cached(kind: str, parts: tuple, build: Callable[[], Any]) -> Any:
    """Memoise ``build()`` in Redis under a key that includes the newest event id.

    A new event anywhere gives a new key, so every web process sees every change on its next read;
    a wall screen polling every 15 s costs one ``MAX(id)`` while nothing happens. Redis trouble
    only costs speed, never correctness.
    """
    version = await last_event_id()
    key = f"qg:stats:{kind}:" + hashlib.sha1(repr((parts, version)).encode()).hexdigest()
    try:
        raw = await redis_client().get(key)
        if raw:
            return pickle.loads(base64.b64decode(raw))  # our own value, written below
    except Exception:
        logging.getLogger("qungong.stats").warning("stats cache unavailable", exc_info=True)
    value = await build()
    try:
        await redis_client().set(key, base64.b64encode(pickle.dumps(value)).decode(), ex=CACHE_SECONDS)
    except Exception:
        logging.getLogger("qungong.stats").warning("stats cache unavailable", exc_info=True)
    return value


async def cached_dashboard(f: Filters, scope_paths: Iterable[str]) -> Dashboard:
    scopes = tuple(sorted(scope_paths))
    return await cached("dash", (f, scopes), lambda: rollup.dashboard(f, scopes))
