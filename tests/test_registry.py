"""The partner registry on every supported database (SQLite file and PostgreSQL, through the
`registry_url` / `registry` fixtures): migrations, idempotent upserts, the mail outbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.registry.migrate import head_revision
from adapters.registry.sql import SqlPartnerRegistry
from domain.direct_bill import (
    DirectBillRecord,
    DirectBillRegistryStatus,
    SupportPlan,
    SupportPlanKind,
)
from domain.errors import InvalidSourceData
from domain.reconciliation import ClosedPipeline, PipelineClosure, closure_reason
from domain.reseller_enrollment import ResellerRecord, ResellerStatus

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


async def test_save_is_idempotent_and_replaces_the_record(registry: SqlPartnerRegistry) -> None:
    assert await registry.get_reseller("1234567") is None
    await registry.save_reseller(_record())
    await registry.save_reseller(_record())
    active = _record(status=ResellerStatus.ACTIVE, ir_authorized_at=NOW, active_since=NOW)
    await registry.save_reseller(active)
    assert await registry.get_reseller("1234567") == active


async def test_a_repeated_older_write_never_replaces_a_newer_record(
    registry: SqlPartnerRegistry,
) -> None:
    """A pipeline writes its record as a local activity (issue 17, `lean-steps`): an attempt
    that runs again late (its worker stalled) must not put an older stage back."""
    active = _record(status=ResellerStatus.ACTIVE, active_since=NOW, updated_at=NOW)
    await registry.save_reseller(active)
    await registry.save_reseller(_record(updated_at=NOW - timedelta(seconds=1)))
    assert await registry.get_reseller("1234567") == active
    later = _record(status=ResellerStatus.WITHDRAWN, updated_at=NOW + timedelta(days=1))
    await registry.save_reseller(later)
    assert await registry.get_reseller("1234567") == later


def _direct_bill_row(**changes: object) -> DirectBillRecord:
    base = DirectBillRecord(
        pga_id="5100001",
        region="JP",
        status=DirectBillRegistryStatus.ACTIVE,
        workflow_id="direct-bill-5100001-JP",
        pla_id="5100009",
        legal_name="Contoso KK",
        contact_email="ops@contoso.example",
        support_plan_kind="advanced_support_for_partners",
        support_plan_contract_id="ASfP-1",
        support_plan_renewal_date=date(2026, 3, 31),
        renewal_month=3,
        onboarding_anniversary_month=11,
        next_reassessment_due=date(2026, 11, 1),
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


async def test_a_repeated_older_direct_bill_write_never_replaces_a_newer_record(
    registry: SqlPartnerRegistry,
) -> None:
    """A passing re-assessment changes the direct-bill status as a local activity (issue 17,
    `lean-steps`): the same change written twice is one, and an attempt that lands late (its
    worker stalled) with an older `updated_at` leaves the newer row as it is."""
    applying = _direct_bill_row(status=DirectBillRegistryStatus.TRANSITIONING)
    passed = applying.model_copy(
        update={
            "status": DirectBillRegistryStatus.ACTIVE,
            "status_reason": "security_revalidation re-assessment passed in 2026-11",
            "updated_at": NOW + timedelta(seconds=1),
        }
    )
    await registry.save_direct_bill(applying)
    await registry.save_direct_bill(passed)
    await registry.save_direct_bill(passed)
    assert await registry.get_direct_bill("5100001", "JP") == passed
    await registry.save_direct_bill(applying)
    assert await registry.get_direct_bill("5100001", "JP") == passed
    later = passed.model_copy(
        update={
            "status": DirectBillRegistryStatus.INDIRECT_RESELLER,
            "updated_at": NOW + timedelta(days=1),
        }
    )
    await registry.save_direct_bill(later)
    assert await registry.get_direct_bill("5100001", "JP") == later


async def test_a_status_change_updates_only_its_columns_in_place(
    registry: SqlPartnerRegistry,
) -> None:
    """`change_direct_bill_status` (a re-assessment's outcome, issue 17: one UPDATE instead of a
    read and a whole-row write) changes the status, reason and stamp, a pass's next due date and
    renewed plan, and keeps every other column."""
    await registry.save_direct_bill(_direct_bill_row())
    at = NOW + timedelta(minutes=5)
    plan = SupportPlan(
        kind=SupportPlanKind.PREMIER, contract_id="PSfP-7", renewal_date=date(2027, 6, 30)
    )
    found = await registry.change_direct_bill_status(
        "5100001",
        "JP",
        status=DirectBillRegistryStatus.ACTIVE,
        reason="full re-assessment passed in 2026-11",
        updated_at=at.astimezone(timezone(timedelta(hours=9))),  # stored as the same instant
        next_reassessment_due=date(2027, 11, 1),
        renewed_plan=plan,
    )
    assert found
    assert await registry.get_direct_bill("5100001", "JP") == _direct_bill_row(
        status_reason="full re-assessment passed in 2026-11",
        next_reassessment_due=date(2027, 11, 1),
        support_plan_kind="premier_support_for_partners",
        support_plan_contract_id="PSfP-7",
        support_plan_renewal_date=date(2027, 6, 30),
        renewal_month=6,
        updated_at=at,
    )
    other_region = await registry.get_direct_bill("5100001", "US")
    assert other_region is None


async def test_a_late_status_change_keeps_the_newer_row_and_a_missing_row_is_reported(
    registry: SqlPartnerRegistry,
) -> None:
    transitioned = _direct_bill_row(
        status=DirectBillRegistryStatus.INDIRECT_RESELLER, updated_at=NOW + timedelta(days=1)
    )
    await registry.save_direct_bill(transitioned)

    async def passed_at(pga_id: str, at: datetime) -> bool:
        return await registry.change_direct_bill_status(
            pga_id, "JP", status=DirectBillRegistryStatus.ACTIVE, reason="passed", updated_at=at
        )

    assert await passed_at("5100001", NOW)  # the row is there, newer: kept as it is
    assert await registry.get_direct_bill("5100001", "JP") == transitioned
    assert await passed_at("5100001", transitioned.updated_at)  # the same instant: applied
    assert (await registry.get_direct_bill("5100001", "JP")) == transitioned.model_copy(
        update={"status": DirectBillRegistryStatus.ACTIVE, "status_reason": "passed"}
    )
    assert not await passed_at("5100002", NOW)
    assert await registry.get_direct_bill("5100002", "JP") is None


async def test_a_status_change_refuses_a_nul_and_writes_nothing(
    registry: SqlPartnerRegistry,
) -> None:
    await registry.save_direct_bill(_direct_bill_row())
    with pytest.raises(InvalidSourceData, match="registry table direct_bill_partners"):
        await registry.change_direct_bill_status(
            "5100001",
            "JP",
            status=DirectBillRegistryStatus.TRANSITIONING,
            reason="bad\x00reason",
            updated_at=NOW + timedelta(minutes=1),
        )
    assert await registry.get_direct_bill("5100001", "JP") == _direct_bill_row()


async def test_instants_come_back_in_utc_whatever_zone_they_were_written_in(
    registry: SqlPartnerRegistry,
) -> None:
    tokyo = timezone(timedelta(hours=9))
    written = _record(
        ir_authorized_at=datetime(2026, 1, 1, 0, 30, tzinfo=tokyo),  # 2025-12-31 15:30 UTC
        mpa_signed_at=datetime(2026, 1, 2, 9, 0, 0, 123456, tzinfo=UTC),
        updated_at=datetime(2026, 1, 2, 9, 0, tzinfo=UTC),
    )
    await registry.save_reseller(written)
    read = await registry.get_reseller("1234567")
    assert read is not None
    assert read.ir_authorized_at == datetime(2025, 12, 31, 15, 30, tzinfo=UTC)
    assert read.ir_authorized_at is not None and read.ir_authorized_at.utcoffset() == timedelta(0)
    assert read.mpa_signed_at == written.mpa_signed_at  # microseconds survive
    assert read.active_since is None


async def test_outbox_remembers_sent_keys(registry: SqlPartnerRegistry) -> None:
    assert not await registry.was_message_sent("k")
    await registry.record_message_sent("k", NOW)
    await registry.record_message_sent("k", NOW)
    assert await registry.was_message_sent("k")
    assert not await registry.was_message_sent("k2")


async def test_reopening_keeps_data_and_does_not_reapply_migrations(registry_url: str) -> None:
    first = await SqlPartnerRegistry.open(registry_url)
    await first.save_reseller(_record())
    await first.close()
    second = await SqlPartnerRegistry.open(registry_url)
    try:
        assert await second.migrate() == head_revision()
        assert await second.get_reseller("1234567") == _record()
        engine = create_async_engine(registry_url)
        async with engine.connect() as conn:
            versions = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert list(versions.scalars()) == [head_revision()]
        await engine.dispose()
    finally:
        await second.close()


@pytest.mark.parametrize("registry_url", ["postgresql"], indirect=True)
async def test_replicas_opening_at_once_migrate_exactly_once(registry_url: str) -> None:
    """Worker replicas start together at scale (PostgreSQL): each opens the registry on startup.
    The SQLite registry is the embedded default's, opened by its one worker process."""
    opened = await asyncio.gather(*(SqlPartnerRegistry.open(registry_url) for _ in range(4)))
    try:
        await opened[0].save_reseller(_record())
        for replica in opened:
            assert await replica.get_reseller("1234567") == _record()
            assert await replica.migrate() == head_revision()
    finally:
        for replica in opened:
            await replica.close()


async def test_concurrent_writers_wait_for_each_other(registry: SqlPartnerRegistry) -> None:
    """Activities write at once; none may fail on a locked database (a failed outbox write would
    make its activity retry and mail again)."""
    keys = [f"wf-{i}:run:email:step" for i in range(60)]
    await asyncio.gather(
        *(registry.record_message_sent(key, NOW) for key in keys),
        *(registry.save_reseller(_record(partner_id=f"{1000000 + i}")) for i in range(60)),
    )
    assert all([await registry.was_message_sent(key) for key in keys])


async def test_a_closure_is_recorded_only_on_the_row_its_pipeline_left(
    registry: SqlPartnerRegistry,
) -> None:
    """The reconciler (issue 18) never overwrites a row a newer pipeline took over."""
    now = datetime(2026, 5, 1, tzinfo=UTC)
    await registry.save_reseller(
        ResellerRecord(
            partner_id="4512345",
            status=ResellerStatus.ENROLLING,
            country="JP",
            workflow_id="reseller-enrollment-4512345",
            updated_at=now,
        )
    )
    [open_row] = await registry.list_open_pipelines(10)
    assert (open_row.kind, open_row.partner_id, open_row.status) == (
        "reseller_enrollment",
        "4512345",
        "enrolling",
    )
    closed = ClosedPipeline(
        record=open_row,
        closure=PipelineClosure.TERMINATED,
        closed_at=now,
        reason=closure_reason(PipelineClosure.TERMINATED, now),
    )
    taken_over = closed.model_copy(
        update={"record": open_row.model_copy(update={"workflow_id": "another-run"})}
    )
    assert not await registry.record_pipeline_closure(taken_over)
    assert await registry.record_pipeline_closure(closed)
    assert not await registry.record_pipeline_closure(closed)  # already recorded: once
    record = await registry.get_reseller("4512345")
    assert record is not None and record.status is ResellerStatus.TERMINATED
    assert record.status_reason is not None and "terminated" in record.status_reason
    assert await registry.list_open_pipelines(10) == []
