"""Database helpers shared by every domain: the engine, write transactions, after-commit work, time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from piccolo.engine.finder import engine_finder
from piccolo.engine.postgres import PostgresEngine
from piccolo.querystring import QueryString

_engine: PostgresEngine | None = None


def engine() -> PostgresEngine:
    """The process's one engine (``backend.piccolo_conf.DB``), found once: Piccolo's finder imports the
    configuration module on every call (2 % of a submission's CPU, issue 22)."""
    global _engine
    if _engine is None:
        db = engine_finder()
        assert isinstance(db, PostgresEngine), "backend.piccolo_conf defines DB"
        _engine = db
    return _engine


# The callbacks waiting for the open write transaction to commit (None: no write transaction open).
_on_commit: ContextVar[list[Callable[[], Awaitable[Any]]] | None] = ContextVar("on_commit", default=None)
log = logging.getLogger("qungong.db")
# In a request handler that opted in (``after_response``): after-commit work waits here for the response.
_held: ContextVar[list[Callable[[], Awaitable[Any]]] | None] = ContextVar("held", default=None)
# Replaying history (the demo's year): changes are written, nothing is announced outside the database.
_quiet: ContextVar[bool] = ContextVar("quiet", default=False)


@asynccontextmanager
async def without_side_effects() -> AsyncIterator[None]:
    """Inside: ``on_commit`` callbacks (arq jobs, pushes) are dropped; rows are written as usual."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


async def on_commit(callback: Callable[[], Awaitable[Any]]) -> None:
    """Run ``callback`` once the open write transaction commits (at once when none is open).

    For side effects outside the database (arq jobs, pushes): they must not announce a change that
    may still roll back. A failing callback is logged; the database is the truth and sweeps repair.
    """
    if _quiet.get():
        return
    pending = _on_commit.get()
    if pending is None:
        await _run_callbacks([callback])
    else:
        pending.append(callback)


async def _run_callbacks(callbacks: list[Callable[[], Awaitable[Any]]]) -> None:
    for callback in callbacks:
        try:
            await callback()
        except Exception:
            log.exception("after-commit callback %r failed", callback)


@asynccontextmanager
async def write_transaction() -> AsyncIterator[Any]:
    """A transaction for read-then-write work; nested calls join the open one.

    Callbacks registered with ``on_commit()`` run after the outermost one commits, never on rollback.
    """
    db = engine()
    if _on_commit.get() is not None:  # nested: Piccolo hands back the open transaction
        async with db.transaction() as tx:
            yield tx
        return
    callbacks: list[Callable[[], Awaitable[Any]]] = []
    token = _on_commit.set(callbacks)
    try:
        async with db.transaction() as tx:
            yield tx
    finally:
        _on_commit.reset(token)
    held = _held.get()
    if held is not None:  # reached only after a commit: sent after the response (see after_response)
        held.extend(callbacks)
    else:
        await _run_callbacks(callbacks)


@contextmanager
def after_response() -> Iterator[list[Callable[[], Awaitable[Any]]]]:
    """Inside: the after-commit work of the transactions (arq timers, pushes, the rollup's nudge) is held
    in the yielded list instead of run, for the handler to run after its response is sent
    (``BackgroundTask(run_held, held)``): the person is not kept waiting for Redis (issue 22). The
    database is already the truth then; a lost callback is repaired by the sweeps, as before."""
    held: list[Callable[[], Awaitable[Any]]] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


async def run_held(held: list[Callable[[], Awaitable[Any]]]) -> None:
    """The held work, its arq jobs sent together in one Redis round trip (``backend.jobs.sent_together``)."""
    from backend.jobs import sent_together  # jobs needs the settings and arq: imported when first used

    try:
        async with sent_together():
            await _run_callbacks(held)
    except Exception:  # as for a failing callback: logged, and the sweeps repair
        log.exception("sending the held jobs failed")


async def fetch_tuples(sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """A read of many rows as plain tuples; ``{}`` marks each argument, as in Piccolo's ``raw()``.

    Piccolo builds a dict per row, which costs more than the query when there are 100,000 rows.
    Inside a transaction the read joins it (same connection), else it takes one from the pool."""
    db = engine()
    query, values = QueryString(sql, *args).compile_string(engine_type=db.engine_type)
    tx = db.current_transaction.get()
    if tx is not None:
        return [tuple(r) for r in await tx.connection.fetch(query, *values)]
    if db.pool is not None:
        async with db.pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(query, *values)]
    conn = await db.get_new_connection()
    try:
        return [tuple(r) for r in await conn.fetch(query, *values)]
    finally:
        await conn.close()


async def keep_session(connection: Any) -> None:
    """The pool's reset (asyncpg ``create_pool(reset=...)``): nothing to reset, so no round trip.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`` on every
    release: a round trip per query outside a transaction (a ninth of a submission's CPU, issue 22). This
    code leaves no session state behind: advisory locks are transaction-scoped, settings ``SET LOCAL``, no
    LISTEN, no cursors outside transactions; and asyncpg still rolls back an open transaction itself."""


async def fetch_prepared(sql: str, *args: Any) -> list[Any]:
    """asyncpg records of a constant statement with ``$1``… placeholders, on the open transaction's
    connection (else one from the pool). For hot paths: asyncpg prepares a constant text once per
    connection and reuses it, where a Piccolo query is built anew (and costs more than it runs) each time."""
    db = engine()
    tx = db.current_transaction.get()
    if tx is not None:
        return await tx.connection.fetch(sql, *args)
    if db.pool is not None:
        async with db.pool.acquire() as conn:
            return await conn.fetch(sql, *args)
    conn = await db.get_new_connection()
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """A datetime marked as UTC when it came without a zone (values built in code or tests)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
