"""The SQLite partner registry: migrations, idempotent upserts, the mail outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from adapters.registry import ResellerRecord, ResellerStatus
from adapters.registry.schema import MIGRATIONS
from adapters.registry.sql import SqlPartnerRegistry

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _record(**changes: object) -> ResellerRecord:
    base = ResellerRecord(
        partner_id="1234567",
        status=ResellerStatus.ENROLLING,
        country="JP",
        workflow_id="reseller-enrollment-1234567",
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


async def test_save_is_idempotent_and_replaces_the_record(tmp_path: Path) -> None:
    registry = await SqlPartnerRegistry.open(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        assert await registry.get_reseller("1234567") is None
        await registry.save_reseller(_record())
        await registry.save_reseller(_record())
        active = _record(status=ResellerStatus.ACTIVE, ir_authorized_at=NOW, active_since=NOW)
        await registry.save_reseller(active)
        assert await registry.get_reseller("1234567") == active
    finally:
        await registry.close()


async def test_outbox_remembers_sent_keys(tmp_path: Path) -> None:
    registry = await SqlPartnerRegistry.open(f"sqlite+aiosqlite:///{tmp_path / 'r.db'}")
    try:
        assert not await registry.was_message_sent("k")
        await registry.record_message_sent("k", NOW)
        await registry.record_message_sent("k", NOW)
        assert await registry.was_message_sent("k")
    finally:
        await registry.close()


async def test_reopening_keeps_data_and_does_not_reapply_migrations(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'r.db'}"
    first = await SqlPartnerRegistry.open(url)
    await first.save_reseller(_record())
    await first.close()
    second = await SqlPartnerRegistry.open(url)
    try:
        assert await second.migrate() == len(MIGRATIONS)
        assert await second.get_reseller("1234567") == _record()
    finally:
        await second.close()
