"""Transition of a direct-bill partner back to the indirect-reseller model (RA-02, RA-03).

The registry moves through `transitioning` to `indirect_reseller`, the one-year cooldown is
recorded with its earliest re-application date (the direct-bill gate then refuses before it), and
the partner is told which requirements failed. Every step is idempotent, so a retry or a replay
repeats nothing.
"""

from __future__ import annotations

from temporalio import workflow

from workflows import pipeline

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities.direct_bill import START_DIRECT_BILL_COOLDOWN
    from contract.activities.reassessment import (
        CHANGE_DIRECT_BILL_STATUS,
        GET_DIRECT_BILL_RECORD,
        RecordLookup,
        StatusChange,
    )
    from domain import direct_bill_rules
    from domain.calendar import show_instant
    from domain.direct_bill import Cooldown, DirectBillRegistryStatus
    from domain.notifications import EmailFacts, EmailKind
    from domain.reassessment import TransitionRequest, TransitionResult


@workflow.defn(name=names.TRANSITION_TO_INDIRECT)
class TransitionToIndirectResellerWorkflow:
    @workflow.run
    async def run(self, request: TransitionRequest) -> TransitionResult:
        pipeline.require_business_id(
            names.transition_id_stem(request.pga_id, request.region), suffix=pipeline.year_suffix
        )
        workflow.upsert_search_attributes(
            [
                names.SA_PARTNER_ID.value_set(request.pga_id),
                names.SA_REGION.value_set(request.region),
                names.SA_STAGE.value_set("transitioning"),
            ]
        )
        reasons = "; ".join(request.reasons)
        workflow.set_current_details(f"**transitioning** to indirect reseller: {reasons}")
        record = await pipeline.execute(
            GET_DIRECT_BILL_RECORD, RecordLookup(pga_id=request.pga_id, region=request.region)
        )
        await self._status(request, DirectBillRegistryStatus.TRANSITIONING, reasons)
        now = workflow.now()
        cooldown = await pipeline.execute(
            START_DIRECT_BILL_COOLDOWN,
            Cooldown(
                pga_id=request.pga_id,
                until=direct_bill_rules.cooldown_end(now, request.business_time_zone),
                reason=f"transition to indirect reseller in {request.region}: {reasons}",
                started_at=now,
            ),
        )
        await pipeline.send_email(
            EmailFacts(
                kind=EmailKind.RA_TRANSITION,
                to=record.contact_email or "csp-operations@example.com",
                partner_id=request.pga_id,
                recipient_name=record.contact_name or "partner",
                legal_name=record.legal_name or f"PGA {request.pga_id}",
                reason="\n".join(f"- {r}" for r in request.reasons),
                deadline=cooldown.until,
                region=request.region,
            ),
            "transition",
        )
        await self._status(request, DirectBillRegistryStatus.INDIRECT_RESELLER, reasons)
        workflow.upsert_search_attributes(
            [
                names.SA_STAGE.value_set("indirect_reseller"),
                names.SA_OUTCOME.value_set("transitioned"),
            ]
        )
        workflow.set_current_details(
            f"**indirect_reseller**: may apply for direct bill again from "
            f"{show_instant(cooldown.until)}"
        )
        return TransitionResult(
            pga_id=request.pga_id, region=request.region, cooldown_until=cooldown.until
        )

    async def _status(
        self, request: TransitionRequest, status: DirectBillRegistryStatus, reason: str
    ) -> None:
        await pipeline.execute(
            CHANGE_DIRECT_BILL_STATUS,
            StatusChange(
                pga_id=request.pga_id, region=request.region, status=status, reason=reason
            ),
        )
