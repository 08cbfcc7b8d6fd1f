"""`DeliveryLedger` (gateway/deliveries.py) in the registry database, table
`callback_deliveries` (revision 0005): SQLite (aiosqlite) or PostgreSQL (asyncpg).

The engine is opened, and the schema upgraded, on first use, so the gateway's app can be built
synchronously."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from adapters.registry.migrate import upgrade_engine
from adapters.registry.schema import callback_deliveries as table
from gateway.deliveries import DeliveryEntry, RecordedAnswer
from runtime.state_dir import private_sqlite_file


class SqlDeliveryLedger:
    def __init__(self, url: str) -> None:
        self._url = url
        self._engine: AsyncEngine | None = None
        self._opening = asyncio.Lock()

    @classmethod
    def in_memory(cls) -> SqlDeliveryLedger:
        """A private SQLite database in memory (one process, forgotten on exit): for an app
        built without a registry, such as a test's."""
        return cls("sqlite+aiosqlite://")

    async def _ready(self) -> AsyncEngine:
        async with self._opening:
            if self._engine is None:
                if self._url.startswith("sqlite"):
                    private_sqlite_file(self._url)
                    options: dict[str, object] = {"connect_args": {"timeout": 30}}
                    if self._url in ("sqlite+aiosqlite://", "sqlite+aiosqlite:///:memory:"):
                        options["poolclass"] = StaticPool
                    engine = create_async_engine(self._url, **options)
                else:
                    engine = create_async_engine(self._url, pool_pre_ping=True)
                await upgrade_engine(engine)
                self._engine = engine
            return self._engine

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def claim(
        self, backend: str, delivery_id: str, route: str, body_sha256: str, now: datetime
    ) -> DeliveryEntry | None:
        engine = await self._ready()
        values = {
            "backend": backend,
            "delivery_id": delivery_id,
            "route": route,
            "body_sha256": body_sha256,
            "received_at": now.astimezone(UTC),
        }
        try:
            async with engine.begin() as conn:
                await conn.execute(sa.insert(table).values(**values))
            return None
        except IntegrityError:
            pass
        async with engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(table).where(
                            table.c.backend == backend, table.c.delivery_id == delivery_id
                        )
                    )
                )
                .mappings()
                .one()
            )
        answer = (
            RecordedAnswer(status=row["answer_status"], body=row["answer_body"])
            if row["answer_status"] is not None
            else None
        )
        return DeliveryEntry(route=row["route"], body_sha256=row["body_sha256"], answer=answer)

    async def record_answer(self, backend: str, delivery_id: str, answer: RecordedAnswer) -> None:
        engine = await self._ready()
        async with engine.begin() as conn:
            await conn.execute(
                sa.update(table)
                .where(
                    table.c.backend == backend,
                    table.c.delivery_id == delivery_id,
                    table.c.answer_status.is_(None),
                )
                .values(answer_status=answer.status, answer_body=answer.body)
            )

    async def forget_before(self, cutoff: datetime) -> int:
        engine = await self._ready()
        async with engine.begin() as conn:
            result = await conn.execute(
                sa.delete(table).where(table.c.received_at < cutoff.astimezone(UTC))
            )
        return int(result.rowcount)
