"""`PartnerRegistry` on SQLAlchemy's async engine: SQLite (aiosqlite) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from adapters.registry import ResellerRecord, ResellerStatus
from adapters.registry.schema import MIGRATIONS, resellers, schema_migrations, sent_messages


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything the registry stores is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class SqlPartnerRegistry:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @classmethod
    async def open(cls, url: str) -> SqlPartnerRegistry:
        """Connect and bring the schema up to date."""
        engine = create_async_engine(url)
        registry = cls(engine)
        await registry.migrate()
        return registry

    async def migrate(self) -> int:
        """Apply pending migrations; returns the schema version."""
        async with self._engine.begin() as conn:
            await conn.run_sync(lambda c: schema_migrations.create(c, checkfirst=True))
            applied = set((await conn.execute(sa.select(schema_migrations.c.version))).scalars())
            for version, migration in enumerate(MIGRATIONS, start=1):
                if version in applied:
                    continue
                await conn.run_sync(migration)
                await conn.execute(
                    schema_migrations.insert().values(version=version, applied_at=datetime.now(UTC))
                )
        return len(MIGRATIONS)

    def _upsert(self, table: sa.Table, values: dict[str, Any], key: str) -> sa.Insert:
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(table).values(**values)
        updates = {name: statement.excluded[name] for name in values if name != key}
        if not updates:
            return cast(sa.Insert, statement.on_conflict_do_nothing(index_elements=[key]))
        return cast(sa.Insert, statement.on_conflict_do_update(index_elements=[key], set_=updates))

    async def save_reseller(self, record: ResellerRecord) -> None:
        values = record.model_dump(mode="python")
        values["status"] = record.status.value
        async with self._engine.begin() as conn:
            await conn.execute(self._upsert(resellers, values, "partner_id"))

    async def get_reseller(self, partner_id: str) -> ResellerRecord | None:
        async with self._engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(resellers).where(resellers.c.partner_id == partner_id)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        data = dict(row)
        for name in ("ir_authorized_at", "mpa_signed_at", "active_since", "updated_at"):
            data[name] = _utc(data[name])
        data["status"] = ResellerStatus(data["status"])
        return ResellerRecord.model_validate(data)

    async def was_message_sent(self, idempotency_key: str) -> bool:
        async with self._engine.connect() as conn:
            found = await conn.execute(
                sa.select(sent_messages.c.idempotency_key).where(
                    sent_messages.c.idempotency_key == idempotency_key
                )
            )
            return found.first() is not None

    async def record_message_sent(self, idempotency_key: str, sent_at: datetime) -> None:
        values = {"idempotency_key": idempotency_key, "sent_at": sent_at}
        async with self._engine.begin() as conn:
            await conn.execute(self._upsert(sent_messages, values, "idempotency_key"))

    async def close(self) -> None:
        await self._engine.dispose()
