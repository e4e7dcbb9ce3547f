"""The template database a mutation run's tests copy: migrated from empty, with the demo organisation
(what tests/conftest.py's ``database`` fixture makes at the start of a normal run)."""

from __future__ import annotations

import asyncio
import os
import tempfile

os.environ.setdefault("QG_DATA_DIR", tempfile.mkdtemp(prefix="qg-template-"))
os.environ["QG_DEMO"] = "1"
os.environ["QG_DEMO_HISTORY"] = "0"
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")


async def main() -> None:
    from backend.cli import migrate
    from backend.db import engine
    from backend.demo import load_demo

    db = engine()
    await db.start_connection_pool(min_size=1, max_size=4)
    try:
        await migrate()
        await load_demo()
    finally:
        await db.close_connection_pool()


if __name__ == "__main__":
    asyncio.run(main())
