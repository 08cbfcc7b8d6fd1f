"""The re-assessment's status change as an activity, on each registry database: one unit of work
that either changes the row or says which partner has none (never retried)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.reassessment import ReassessmentActivities
from adapters.registry.sql import SqlPartnerRegistry
from contract.activities.reassessment import StatusChange, StatusChanged
from domain.direct_bill import DirectBillRecord, DirectBillRegistryStatus

DECIDED = datetime(2026, 11, 2, 0, 5, tzinfo=UTC)


def _change(pga_id: str) -> StatusChange:
    return StatusChange(
        pga_id=pga_id,
        region="JP",
        status=DirectBillRegistryStatus.ACTIVE,
        reason="security_revalidation re-assessment passed in 2026-11",
        updated_at=DECIDED,
    )


async def test_a_pass_changes_the_status_and_a_repeat_is_the_same_change(
    registry: SqlPartnerRegistry,
) -> None:
    before = DirectBillRecord(
        pga_id="5100001",
        region="JP",
        status=DirectBillRegistryStatus.TRANSITIONING,
        workflow_id="direct-bill-5100001-JP",
        pla_id="5100009",
        next_reassessment_due=date(2026, 11, 1),
        updated_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    await registry.save_direct_bill(before)
    change_status = ReassessmentActivities(registry).change_status
    for _ in range(2):
        changed = await ActivityEnvironment().run(change_status, _change("5100001"))
        assert changed == StatusChanged(
            pga_id="5100001", region="JP", status=DirectBillRegistryStatus.ACTIVE
        )
        assert await registry.get_direct_bill("5100001", "JP") == before.model_copy(
            update={
                "status": DirectBillRegistryStatus.ACTIVE,
                "status_reason": "security_revalidation re-assessment passed in 2026-11",
                "updated_at": DECIDED,
            }
        )


async def test_a_partner_without_a_row_fails_without_retry_and_writes_nothing(
    registry: SqlPartnerRegistry,
) -> None:
    change_status = ReassessmentActivities(registry).change_status
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(change_status, _change("5100002"))
    assert raised.value.type == "DirectBillRecordMissing"
    assert raised.value.non_retryable
    assert raised.value.message == "no direct-bill record for PGA 5100002 in JP"
    assert await registry.get_direct_bill("5100002", "JP") is None
