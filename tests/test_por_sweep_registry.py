"""REL-07's registry on SQLite and PostgreSQL: active partnerships paged in key order, each
sweep's checks recorded idempotently, and the latest report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.registry.sql import SqlPartnerRegistry
from domain.por_sweep import PorCheck, PorReport
from domain.relationships import PartnershipRecord, PartnershipStage

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def _partnership(provider: str, reseller: str, stage: PartnershipStage) -> PartnershipRecord:
    return PartnershipRecord(
        provider_partner_id=provider,
        reseller_partner_id=reseller,
        status=stage,
        region="JP",
        provider_tenant_id="5b7c8d1e-2f3a-4b5c-9d6e-7f8a9b0c1d2e",
        workflow_id=f"partnership-{provider}-{reseller}",
        requested_at=NOW,
        updated_at=NOW,
    )


def _check(sweep: str, reseller: str, code: str | None) -> PorCheck:
    return PorCheck(
        sweep_id=sweep,
        provider_partner_id="3100001",
        reseller_partner_id=reseller,
        valid=code is None,
        error_code=code,
        reason=None if code is None else f"refused {code}",
        checked_at=NOW,
    )


async def test_active_partnerships_are_paged_in_key_order(registry: SqlPartnerRegistry) -> None:
    for provider, reseller, stage in [
        ("3100002", "4600001", PartnershipStage.ACTIVE),
        ("3100001", "4600003", PartnershipStage.ACTIVE),
        ("3100001", "4600002", PartnershipStage.REMOVED),
        ("3100001", "4600001", PartnershipStage.ACTIVE),
        ("3100002", "4600000", PartnershipStage.AWAITING_ACCEPTANCE),
    ]:
        await registry.save_partnership(_partnership(provider, reseller, stage))
    first = await registry.list_active_partnerships(None, 2)
    keys = [(p.provider_partner_id, p.reseller_partner_id) for p in first]
    assert keys == [("3100001", "4600001"), ("3100001", "4600003")]
    rest = await registry.list_active_partnerships(keys[-1], 2)
    assert [(p.provider_partner_id, p.reseller_partner_id) for p in rest] == [
        ("3100002", "4600001")
    ]
    assert rest[0].requested_at == NOW
    assert await registry.list_active_partnerships(("3100002", "4600001"), 2) == []


async def test_checks_are_recorded_once_per_sweep_and_the_latest_report_is_read(
    registry: SqlPartnerRegistry,
) -> None:
    assert await registry.latest_por_report() is None
    checks = [_check("sweep-a", "4600001", None), _check("sweep-a", "4600002", "800039")]
    await registry.record_por_checks(checks)
    await registry.record_por_checks(checks)  # a retried batch
    await registry.record_por_checks([_check("sweep-b", "4600001", "800016")])
    assert await registry.count_por_checks("sweep-a") == (1, 1)
    assert await registry.count_por_checks("sweep-b") == (0, 1)
    [invalid] = await registry.list_invalid_por_checks("sweep-a")
    assert invalid == checks[1]
    older = PorReport(
        sweep_id="sweep-a",
        started_at=NOW,
        finished_at=NOW + timedelta(minutes=5),
        checked=2,
        valid=1,
        invalid=1,
        unchecked=0,
    )
    newer = older.model_copy(
        update={
            "sweep_id": "sweep-b",
            "finished_at": NOW + timedelta(days=7),
            "unchecked": 100,
            "failures": ("100 partnership(s) from 3100001/4600100: refused",),
        }
    )
    await registry.save_por_report(newer)
    await registry.save_por_report(older)
    assert await registry.latest_por_report() == newer
