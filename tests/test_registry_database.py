"""The registry's units of work (adapters/registry/database.py) on SQLite and PostgreSQL: a write
commits whole or not at all, a read commits nothing, SQLite work runs off the event loop."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from adapters.registry.database import SqliteDatabase, open_database
from adapters.registry.schema import sent_messages
from adapters.registry.sql import SqlPartnerRegistry

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class Refused(Exception):
    pass


def _insert(key: str) -> sa.Insert:
    return sa.insert(sent_messages).values(idempotency_key=key, sent_at=NOW)


def _keys(conn: sa.Connection) -> list[str]:
    return list(conn.execute(sa.select(sent_messages.c.idempotency_key)).scalars())


async def test_a_unit_of_work_that_raises_leaves_nothing_written(registry_url: str) -> None:
    registry = await SqlPartnerRegistry.open(registry_url)
    database = open_database(registry_url)
    try:

        def two_inserts_then_refuse(conn: sa.Connection) -> None:
            conn.execute(_insert("first"))
            conn.execute(_insert("second"))
            raise Refused("the second step failed")

        with pytest.raises(Refused):
            await database.write(two_inserts_then_refuse)
        assert await database.read(_keys) == []

        await database.write(lambda conn: conn.execute(_insert("kept")))
        assert await database.read(_keys) == ["kept"]
        assert await registry.was_message_sent("kept") is True
    finally:
        await database.close()
        await registry.close()


async def test_a_read_commits_nothing(registry_url: str) -> None:
    registry = await SqlPartnerRegistry.open(registry_url)
    database = open_database(registry_url)
    try:
        await database.read(lambda conn: conn.execute(_insert("read-only")))
        assert await registry.was_message_sent("read-only") is False
    finally:
        await database.close()
        await registry.close()


async def test_sqlite_work_runs_in_the_registrys_threads_not_the_event_loop(
    tmp_path: Path,
) -> None:
    database = SqliteDatabase(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        loop_thread = threading.get_ident()
        names = await asyncio.gather(
            *(database.read(lambda _conn: threading.current_thread().name) for _ in range(8))
        )
        assert all(name.startswith("registry-sqlite") for name in names), names
        assert await database.read(lambda _conn: threading.get_ident()) != loop_thread
    finally:
        await database.close()


async def test_an_in_memory_registry_is_one_database_shared_by_every_call() -> None:
    registry = await SqlPartnerRegistry.open("sqlite+aiosqlite://")
    try:
        await asyncio.gather(*(registry.record_message_sent(f"key-{n}", NOW) for n in range(20)))
        found = await asyncio.gather(*(registry.was_message_sent(f"key-{n}") for n in range(20)))
        assert found == [True] * 20
    finally:
        await registry.close()


async def test_closing_waits_for_work_already_handed_to_a_thread(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    registry = await SqlPartnerRegistry.open(url)
    writes = [
        asyncio.ensure_future(registry.record_message_sent(f"key-{n}", NOW)) for n in range(10)
    ]
    await asyncio.sleep(0)  # every write handed to the executor
    await registry.close()
    await asyncio.gather(*writes)
    reopened = await SqlPartnerRegistry.open(url)
    try:
        assert all([await reopened.was_message_sent(f"key-{n}") for n in range(10)])
    finally:
        await reopened.close()
