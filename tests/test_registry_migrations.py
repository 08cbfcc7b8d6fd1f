"""The registry's Alembic migrations, on SQLite and PostgreSQL: a database written by the earlier
hand-written runner (versions in `schema_migrations`) is upgraded with every row kept, the
revisions build exactly the tables the code uses, replicas upgrading at once migrate once, and
`python -m adapters.registry.migrate` does it from the command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.registry.migrate import (
    head_revision,
    registry_revision,
    upgrade_registry,
)
from adapters.registry.schema import (
    cooldowns,
    direct_bill_partners,
    metadata,
    resellers,
    sent_messages,
)
from adapters.registry.sql import SqlPartnerRegistry
from domain.direct_bill import Cooldown, DirectBillRecord
from domain.reseller_enrollment import ResellerRecord, ResellerStatus
from tests.test_cli import csp

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

# The hand-written runner's bookkeeping table, as it created it.
_legacy = sa.MetaData()
legacy_schema_migrations = sa.Table(
    "schema_migrations",
    _legacy,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


def _legacy_v2(connection: sa.Connection) -> None:
    """A registry as the old runner left it after its migrations 1 and 2, with data."""
    legacy_schema_migrations.create(connection)
    for table in (resellers, sent_messages, direct_bill_partners, cooldowns):
        table.create(connection)
    connection.execute(
        legacy_schema_migrations.insert(),
        [{"version": v, "applied_at": NOW} for v in (1, 2)],
    )
    connection.execute(
        resellers.insert(),
        [
            {
                "partner_id": f"{1000000 + i}",
                "status": "active",
                "country": "JP",
                "tenant_id": None,
                "workflow_id": f"reseller-enrollment-{1000000 + i}",
                "status_reason": "approved" if i % 2 else None,
                "active_since": NOW,
                "updated_at": NOW,
            }
            for i in range(50)
        ],
    )
    connection.execute(
        sent_messages.insert(),
        [{"idempotency_key": f"wf-{i}:run:email:x", "sent_at": NOW} for i in range(50)],
    )
    connection.execute(
        direct_bill_partners.insert(),
        {
            "pga_id": "4500001",
            "region": "JP",
            "status": "active",
            "workflow_id": "direct-bill-4500001-JP",
            "pla_id": "1234567",
            "legal_name": "Contoso K.K.",
            "support_plan_renewal_date": date(2026, 9, 1),
            "renewal_month": 9,
            "activated_at": NOW,
            "next_reassessment_due": date(2027, 3, 1),
            "updated_at": NOW,
        },
    )
    connection.execute(
        cooldowns.insert(),
        {"pga_id": "4500002", "until": NOW, "reason": "failed gate", "started_at": NOW},
    )


async def _snapshot(url: str) -> dict[str, list[tuple[object, ...]]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            snapshot = {}
            for table in (resellers, sent_messages, direct_bill_partners, cooldowns):
                rows = await conn.execute(sa.select(table).order_by(*table.primary_key.columns))
                snapshot[table.name] = [tuple(row) for row in rows]
            return snapshot
    finally:
        await engine.dispose()


async def test_an_old_database_is_upgraded_with_every_row_kept(registry_url: str) -> None:
    engine = create_async_engine(registry_url)
    async with engine.begin() as conn:
        await conn.run_sync(_legacy_v2)
    await engine.dispose()
    before = await _snapshot(registry_url)
    assert len(before["resellers"]) == 50

    assert await upgrade_registry(registry_url) == head_revision()

    assert await _snapshot(registry_url) == before
    assert await registry_revision(registry_url) == head_revision()
    # The tables of the later revision exist and work; the old ones read as before.
    registry = await SqlPartnerRegistry.open(registry_url)
    try:
        record = await registry.get_reseller("1000001")
        assert record == ResellerRecord(
            partner_id="1000001",
            status=ResellerStatus.ACTIVE,
            country="JP",
            workflow_id="reseller-enrollment-1000001",
            status_reason="approved",
            active_since=NOW,
            updated_at=NOW,
        )
        assert await registry.was_message_sent("wf-49:run:email:x")
        direct_bill = await registry.get_direct_bill("4500001", "JP")
        assert isinstance(direct_bill, DirectBillRecord) and direct_bill.renewal_month == 9
        cooldown = await registry.get_cooldown("4500002")
        assert isinstance(cooldown, Cooldown) and cooldown.reason == "failed gate"
        assert await registry.get_partnership("1111111", "2222222") is None
    finally:
        await registry.close()
    # Upgrading again changes nothing.
    assert await upgrade_registry(registry_url) == head_revision()
    assert await _snapshot(registry_url) == before


async def test_the_revisions_build_exactly_the_tables_the_code_uses(registry_url: str) -> None:
    await upgrade_registry(registry_url)
    engine = create_async_engine(registry_url)
    try:
        async with engine.connect() as conn:

            def differences(connection: sa.Connection) -> list[object]:
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "compare_server_default": True}
                )
                found = compare_metadata(context, metadata)
                return [d for d in found if "alembic_version" not in str(d)]

            assert await conn.run_sync(differences) == []
    finally:
        await engine.dispose()


@pytest.mark.parametrize("registry_url", ["postgresql"], indirect=True)
async def test_replicas_upgrading_at_once_migrate_once(registry_url: str) -> None:
    revisions = await asyncio.gather(*(upgrade_registry(registry_url) for _ in range(5)))
    assert revisions == [head_revision()] * 5
    engine = create_async_engine(registry_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert list(rows.scalars()) == [head_revision()]
    finally:
        await engine.dispose()


def test_the_command_line_upgrades_the_configured_registry(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSP_", "TEMPORAL_"))}
    env["CSP_STATE_DIR"] = str(tmp_path)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "adapters.registry.migrate", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run("current") == "none"
    assert run("upgrade") == head_revision()
    assert run("current") == head_revision()
    assert (tmp_path / "registry.db").exists()


async def test_csp_db_upgrade_migrates_an_old_registry(registry_url: str, tmp_path: Path) -> None:
    """`csp db upgrade` / `csp db current`, as an operator runs them, on CSP_REGISTRY_URL."""
    engine = create_async_engine(registry_url)
    async with engine.begin() as conn:
        await conn.run_sync(_legacy_v2)
    await engine.dispose()
    before = await _snapshot(registry_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSP_", "TEMPORAL_"))}
    env.update(CSP_STATE_DIR=str(tmp_path), CSP_REGISTRY_URL=registry_url)
    current = await csp(env, "db", "current")
    assert current.code == 0, current.err
    assert current.out.strip().endswith(f": none (newest: {head_revision()})")
    upgraded = await csp(env, "db", "upgrade")
    assert upgraded.code == 0, upgraded.err
    assert f": {head_revision()} (newest: {head_revision()})" in upgraded.out
    assert await _snapshot(registry_url) == before
    assert (
        (await csp(env, "db", "current"))
        .out.strip()
        .endswith(f": {head_revision()} (newest: {head_revision()})")
    )
