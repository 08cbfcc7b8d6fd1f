"""How the registry reaches its database: each registry call is one unit of work, run whole.

A unit of work is a plain function of a SQLAlchemy `Connection`: its statements, fetches and
commit. On SQLite it runs in one of a few threads of the registry's own on the standard `sqlite3`
driver, so a call costs one hand-off between the event loop and a thread. Through aiosqlite each
statement was four to six hand-offs (cursor, execute, fetch, close, commit), the largest part of
the worker's CPU after the SDK's own (bench/README.md, "Where the worker's CPU goes"). On
PostgreSQL it runs with `run_sync` on SQLAlchemy's asyncpg engine, which has no thread to hop to.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from adapters.registry.migrate import upgrade_connection, upgrade_engine
from runtime.state_dir import private_sqlite_file

T = TypeVar("T")
Work = Callable[[sa.Connection], T]

SQLITE_THREADS = 4
"""Threads running SQLite units of work. SQLite takes one writer at a time (the others wait on its
lock, up to the connection timeout); with WAL the readers go on meanwhile."""

SQLITE_LOCK_TIMEOUT_SECONDS = 30
"""How long a write waits for another connection's lock instead of failing with "database is
locked" (a failed outbox write would re-send an email)."""


class RegistryDatabase(Protocol):
    dialect_name: str

    async def read(self, work: Work[T]) -> T:
        """Run `work` on a connection; nothing it does is committed."""
        ...

    async def write(self, work: Work[T]) -> T:
        """Run `work` in one transaction, committed when it returns and rolled back if it raises."""
        ...

    async def migrate(self) -> str:
        """Apply pending Alembic revisions; returns the revision."""
        ...

    async def close(self) -> None: ...


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers go on while one connection writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _is_memory(url: sa.URL) -> bool:
    return url.database in (None, "", ":memory:")


class SqliteDatabase:
    """A SQLite file (or memory) on the standard `sqlite3` driver, in the registry's threads."""

    dialect_name = "sqlite"

    def __init__(self, url: str) -> None:
        parsed = sa.make_url(url).set(drivername="sqlite+pysqlite")
        private_sqlite_file(url)
        connect_args: dict[str, Any] = {"timeout": SQLITE_LOCK_TIMEOUT_SECONDS}
        threads = SQLITE_THREADS
        options: dict[str, Any] = {}
        if _is_memory(parsed):
            # One database lives in one connection: share it, one unit of work at a time.
            connect_args["check_same_thread"] = False
            options["poolclass"] = StaticPool
            threads = 1
        self._engine = sa.create_engine(parsed, connect_args=connect_args, **options)
        sa.event.listen(self._engine, "connect", _sqlite_pragmas)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="registry-sqlite")

    def _read(self, work: Work[T]) -> T:
        with self._engine.connect() as connection:
            return work(connection)

    def _write(self, work: Work[T]) -> T:
        with self._engine.begin() as connection:
            return work(connection)

    async def read(self, work: Work[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._read, work)

    async def write(self, work: Work[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._write, work)

    async def migrate(self) -> str:
        return await self.write(upgrade_connection)

    async def close(self) -> None:
        # Units of work already handed to a thread finish (and commit) before the engine goes.
        await asyncio.get_running_loop().run_in_executor(None, self._threads.shutdown, True)
        self._engine.dispose()


class AsyncEngineDatabase:
    """A database through SQLAlchemy's async engine: PostgreSQL on asyncpg."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.dialect_name = engine.dialect.name

    async def read(self, work: Work[T]) -> T:
        async with self._engine.connect() as connection:
            return await connection.run_sync(work)

    async def write(self, work: Work[T]) -> T:
        async with self._engine.begin() as connection:
            return await connection.run_sync(work)

    async def migrate(self) -> str:
        return await upgrade_engine(self._engine)

    async def close(self) -> None:
        await self._engine.dispose()


def open_database(url: str) -> RegistryDatabase:
    """A SQLite URL (`sqlite+aiosqlite:///path`, as configured) runs in the registry's threads on
    the `sqlite3` driver; any other SQLAlchemy async URL on its async engine."""
    if sa.make_url(url).get_backend_name() == "sqlite":
        return SqliteDatabase(url)
    # pre-ping: a pooled connection may have been closed by a server restart.
    return AsyncEngineDatabase(create_async_engine(url, pool_pre_ping=True))
