"""Direct-bill partners in the registry and the program file, due in a chosen month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from temporalio.client import Client, WorkflowHandle

from adapters.partner_programs.local import ttm_revenue_entry
from contract import names
from domain.direct_bill import DirectBillRecord, DirectBillRegistryStatus
from domain.reassessment import SweepRequest, SweepSummary
from tests.conftest import Stack


@dataclass(frozen=True)
class Partner:
    pga_id: str
    revenue_usd: str = "1000000.00"
    renewal_month: int | None = None
    anniversary_month: int | None = None
    admins_without_mfa: int = 0
    revenue_as_of: date | None = None
    """The date the TTM revenue figure is stated as of (default: today, UTC)."""
    activated_at: datetime | None = None
    """Direct bill since (default: two years before the month)."""


async def seed(stack: Stack, month: date, partners: list[Partner]) -> None:
    def add(data: dict[str, Any]) -> None:
        for p in partners:
            data["partners"][p.pga_id] = {
                "membershipActive": True,
                "designations": ["Solutions Partner for Security"],
                "securityRequirements": {
                    "adminsRequiredNotUsingMfaCount": p.admins_without_mfa,
                    "securityContactProvided": True,
                    "securityAlertsPromptlyResolved": True,
                },
                "ttmRevenue": ttm_revenue_entry(
                    [{"tenantId": "t", "cloudUsd": p.revenue_usd, "perpetualSoftwareUsd": "0"}],
                    p.revenue_as_of or datetime.now(UTC).date(),
                ),
                "locations": {},
            }

    stack.edit_partner_programs(add)
    for p in partners:
        renewal = p.renewal_month or (month.month % 12) + 1
        await stack.registry.save_direct_bill(
            DirectBillRecord(
                pga_id=p.pga_id,
                region="JP",
                status=DirectBillRegistryStatus.ACTIVE,
                workflow_id=f"direct-bill-{p.pga_id}-JP",
                pla_id=f"{p.pga_id[:-1]}9",
                legal_name=f"Partner {p.pga_id} K.K.",
                contact_name="Taro Suzuki",
                contact_email=f"contact-{p.pga_id}@partner.example",
                support_plan_kind="premier_support_for_partners",
                support_plan_contract_id=f"PSfP-{p.pga_id}",
                support_plan_renewal_date=date(month.year, renewal, 28),
                renewal_month=renewal,
                onboarding_anniversary_month=p.anniversary_month or (renewal % 12) + 1,
                activated_at=p.activated_at or datetime(month.year - 2, 1, 1, tzinfo=UTC),
                updated_at=datetime(month.year - 1, 1, 1, tzinfo=UTC),
            )
        )


def renewal_payload(month: date) -> dict[str, Any]:
    return {
        "plan": {
            "kind": "premier_support_for_partners",
            "contract_id": "PSfP-renewed",
            "renewal_date": date(month.year + 1, month.month, 28).isoformat(),
        },
        "reported_by": "billing-backend",
    }


async def start_sweep(
    client: Client, month: date, workflow_id: str
) -> WorkflowHandle[Any, SweepSummary]:
    """A manual `ReassessmentSweep` of `month` on the production task queue."""
    return await client.start_workflow(
        names.REASSESSMENT_SWEEP,
        SweepRequest(month=month),
        id=workflow_id,
        task_queue=names.TASK_QUEUE,
        result_type=SweepSummary,
    )
