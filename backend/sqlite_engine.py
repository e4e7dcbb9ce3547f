"""A Piccolo SQLite engine that keeps its connections open.

Piccolo's SQLiteEngine opens a new aiosqlite connection (a new thread and file handle) for every
query outside a transaction and for every transaction, and sends ``PRAGMA foreign_keys`` before
each statement; every statement then crosses to that thread three or four times. Under load that
costs more than the queries. This engine keeps a small pool of sqlite3 connections with their
pragmas set once and runs each statement (execute + fetch) in one hop to a worker thread, or, inside
a write transaction that already holds the write lock, directly: no lock can be waited for there,
and the hop would cost more than the statement.

Connections are only ever used by one coroutine at a time (acquired from the pool for one
statement or one transaction), so sharing sqlite3 connections between the pool's threads is safe.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

POOL_SIZE = 8
INLINE_MAX_ARGS = 256  # more bound values: a bulk insert, run in a thread
INLINE_YIELD_AFTER = 0.005  # seconds of inline statements before the loop gets a turn


class PooledConnection:
    """One sqlite3 connection: a statement runs in one hop to the engine's threads, or inline (see execute)."""

    def __init__(self, raw: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self.raw = raw
        self._executor = executor
        # Set while this connection holds the write lock (after BEGIN IMMEDIATE): then no statement can
        # wait for a lock (WAL readers never block), and a short statement costs less than a thread hop.
        self.holds_write_lock = False
        self._inline_since_yield = 0.0

    async def execute(self, sql: str, args: list[Any] | tuple[Any, ...] = (), *, tuples: bool = False) -> list[Any]:
        # COMMIT may checkpoint (fsync) and a statement with many arguments is a bulk write: both off the loop.
        if self.holds_write_lock and sql != "COMMIT" and len(args) <= INLINE_MAX_ARGS:
            if self._inline_since_yield > INLINE_YIELD_AFTER:  # a long transaction: let other tasks run
                self._inline_since_yield = 0.0
                await asyncio.sleep(0)
            started = time.perf_counter()
            try:
                return self._run(sql, args, tuples)
            finally:
                self._inline_since_yield += time.perf_counter() - started
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, sql, args, tuples)

    def _run(self, sql: str, args: list[Any] | tuple[Any, ...], tuples: bool = False) -> list[Any]:
        cursor = self.raw.cursor()
        if tuples:  # plain rows: no dict per row
            cursor.row_factory = None
        try:
            return cursor.execute(sql, args).fetchall()
        finally:
            cursor.close()

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def close(self) -> None:
        self.raw.close()


class PooledTransaction(SQLiteTransaction):
    """Piccolo's transaction, on a pooled connection that goes back to the pool afterwards."""

    async def get_connection(self) -> PooledConnection:  # type: ignore[override]
        return await self.engine.acquire()  # type: ignore[attr-defined]

    async def begin(self) -> None:
        await super().begin()
        if self.transaction_type in (TransactionType.immediate, TransactionType.exclusive):
            self.connection.holds_write_lock = True

    async def __aexit__(self, exception_type, exception, traceback) -> bool:  # type: ignore[override]
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                await self.commit()
        finally:
            self.connection.holds_write_lock = False
            self.engine.release(self.connection)  # type: ignore[attr-defined]
            self.engine.current_transaction.reset(self.context)
        return exception is None


class PooledSQLiteEngine(SQLiteEngine):
    """SQLiteEngine with persistent connections (WAL, foreign keys, synchronous=NORMAL)."""

    def __init__(self, path: str, pool_size: int = POOL_SIZE, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self.pool_size = pool_size
        self._idle: list[PooledConnection] = []
        self._guard = threading.Lock()  # the idle list is shared by every event loop of the process
        self._executor = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="sqlite")
        if sqlite3.sqlite_version_info < (3, 35):
            raise RuntimeError("SQLite 3.35 or newer is needed (INSERT … RETURNING)")

    # ------------------------------------------------------------ pool

    def _connect(self) -> PooledConnection:
        kwargs = {k: v for k, v in self.connection_kwargs.items() if k != "check_same_thread"}
        raw = sqlite3.connect(check_same_thread=False, **kwargs)
        raw.row_factory = dict_factory
        raw.execute("PRAGMA foreign_keys = 1")
        # WAL: readers never wait for the writer. NORMAL: a commit does not wait for fsync (WAL stays
        # consistent; only a power cut can lose the last commits, never corrupt the file).
        raw.execute("PRAGMA journal_mode = WAL")
        raw.execute("PRAGMA synchronous = NORMAL")
        return PooledConnection(raw, self._executor)

    async def acquire(self) -> PooledConnection:
        # No upper bound on connections in use (a bound could deadlock a reader waiting for the
        # writer lock); the threads bound the parallelism, and only pool_size stay open when idle.
        with self._guard:
            if self._idle:
                return self._idle.pop()
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)

    def release(self, conn: PooledConnection) -> None:
        if not conn.in_transaction:  # a failed rollback: never hand out a connection mid-transaction
            with self._guard:
                if len(self._idle) < self.pool_size:
                    self._idle.append(conn)
                    return
        conn.close()

    async def fetch_tuples(self, query: str, args: list[Any]) -> list[tuple[Any, ...]]:
        """Rows as plain tuples (no dict per row): for reads of many rows."""
        conn = await self.acquire()
        try:
            return await conn.execute(query, args, tuples=True)
        finally:
            self.release(conn)

    def close_pool(self) -> None:
        with self._guard:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # ------------------------------------------------------------ Piccolo's hooks

    def transaction(  # type: ignore[override]
        self, transaction_type: TransactionType = TransactionType.deferred, allow_nested: bool = True,
    ) -> PooledTransaction:
        return PooledTransaction(engine=self, transaction_type=transaction_type, allow_nested=allow_nested)

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None,
                                     query_type: str = "generic", table: Any = None) -> list[dict[str, Any]]:
        conn = await self.acquire()
        try:
            return await conn.execute(query, args or [])  # autocommit: isolation_level is None
        finally:
            self.release(conn)

    async def _run_in_existing_connection(self, connection: PooledConnection, query: str,  # type: ignore[override]
                                          args: list[Any] | None = None, query_type: str = "generic",
                                          table: Any = None) -> list[dict[str, Any]]:
        return await connection.execute(query, args or [])
