"""Database helpers shared by every domain: the engine, write transactions, time."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine, TransactionType


def engine() -> Engine:
    db = engine_finder()
    assert db is not None, "backend.piccolo_conf defines DB"
    return db


def is_sqlite() -> bool:
    return isinstance(engine(), SQLiteEngine)


# One writer lock per event loop (an asyncio.Lock belongs to the loop that first waits on it).
_sqlite_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
_in_write: ContextVar[bool] = ContextVar("in_write", default=False)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A transaction for read-then-write work.

    SQLite has one writer: BEGIN IMMEDIATE takes the write lock up front so two
    read-then-write transactions serialise instead of failing at COMMIT. Within one process the
    writers also queue on an asyncio lock, so they wait their turn instead of sleeping in SQLite's
    busy handler (which polls with growing sleeps and wastes most of the time under load).
    """
    db = engine()
    if not isinstance(db, SQLiteEngine):
        async with db.transaction() as tx:
            yield tx
        return
    if _in_write.get():  # nested: Piccolo reuses the open transaction
        async with db.transaction(transaction_type=TransactionType.immediate) as tx:
            yield tx
        return
    loop = asyncio.get_running_loop()
    writer = _sqlite_writers.get(loop)
    if writer is None:
        writer = _sqlite_writers[loop] = asyncio.Lock()
    async with writer:
        token = _in_write.set(True)
        try:
            async with db.transaction(transaction_type=TransactionType.immediate) as tx:
                yield tx
        finally:
            _in_write.reset(token)


async def prepare_sqlite() -> None:
    """WAL lets readers run while one writer writes; it is a property of the file, set once."""
    db = engine()
    if isinstance(db, SQLiteEngine):
        await db.run_ddl("PRAGMA journal_mode=WAL")


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for stored UTC values: mark them as UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
