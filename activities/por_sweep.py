"""The POR sweep's side effects (REL-07): a page of active partnerships, one `validateresellers`
call for a batch of their resellers with each result recorded, and the finished sweep's report.

Every write is keyed by the sweep (its workflow id) and the partnership, so a retried activity
or a re-run batch records the same rows again and changes nothing else."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.relationships import partner_center_answers
from adapters.partner_center import PartnerCenter
from adapters.registry import PartnerRegistry
from contract.activities.por_sweep import (
    FINISH_POR_SWEEP,
    LIST_ACTIVE_PARTNERSHIPS,
    VALIDATE_POR_BATCH,
    PartneredReseller,
    PartnershipPage,
    PartnershipPageRequest,
    PorBatch,
    PorBatchResult,
    PorSweepFinish,
    PorSweepReport,
)
from domain.por_sweep import PorCheck, PorReport, report_text


class PorSweepActivities:
    def __init__(self, partner_center: PartnerCenter, registry: PartnerRegistry) -> None:
        self._pc = partner_center
        self._registry = registry

    @activity.defn(name=LIST_ACTIVE_PARTNERSHIPS.name)
    async def list_active_partnerships(self, request: PartnershipPageRequest) -> PartnershipPage:
        records = await self._registry.list_active_partnerships(request.after, request.limit)
        last = records[-1] if len(records) == request.limit else None
        return PartnershipPage(
            partnerships=tuple(
                PartneredReseller(
                    provider_partner_id=r.provider_partner_id,
                    reseller_partner_id=r.reseller_partner_id,
                )
                for r in records
            ),
            next_after=(last.provider_partner_id, last.reseller_partner_id) if last else None,
        )

    @activity.defn(name=VALIDATE_POR_BATCH.name)
    async def validate_por_batch(self, batch: PorBatch) -> PorBatchResult:
        """One `validateresellers` call for the batch's resellers; each partnership's result is
        recorded with Partner Center's reason."""
        partner_ids = sorted({p.reseller_partner_id for p in batch.partnerships})
        with partner_center_answers():
            answers = await self._pc.validate_resellers(partner_ids)
        by_id = {answer.partner_id: answer for answer in answers}
        missing = [pid for pid in partner_ids if pid not in by_id]
        if missing:
            raise ApplicationError(
                "Partner Center's validateresellers answer has no validationResults item whose "
                f"partnerId is {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""),
                type="PartnerCenterUnexpectedAnswer",
                non_retryable=True,
            )
        checked_at = datetime.now(UTC)
        checks = [
            PorCheck(
                sweep_id=batch.sweep_id,
                provider_partner_id=p.provider_partner_id,
                reseller_partner_id=p.reseller_partner_id,
                valid=(answer := by_id[p.reseller_partner_id]).is_valid_partner_id_on_record,
                error_code=None if answer.is_valid_partner_id_on_record else answer.error_code,
                reason=None if answer.is_valid_partner_id_on_record else answer.error_description,
                checked_at=checked_at,
            )
            for p in batch.partnerships
        ]
        await self._registry.record_por_checks(checks)
        valid = sum(1 for check in checks if check.valid)
        return PorBatchResult(valid=valid, invalid=len(checks) - valid)

    @activity.defn(name=FINISH_POR_SWEEP.name)
    async def finish_por_sweep(self, finish: PorSweepFinish) -> PorSweepReport:
        """The report from what the registry recorded for the sweep (not the workflow's tally),
        saved as the sweep's report."""
        summary = finish.summary
        valid, invalid = await self._registry.count_por_checks(summary.sweep_id)
        report = PorReport(
            sweep_id=summary.sweep_id,
            started_at=summary.started_at,
            finished_at=finish.finished_at,
            checked=valid + invalid,
            valid=valid,
            invalid=invalid,
            unchecked=summary.unchecked,
            failures=summary.failures,
        )
        await self._registry.save_por_report(report)
        listed = await self._registry.list_invalid_por_checks(
            summary.sweep_id, limit=finish.listed_at_most
        )
        return PorSweepReport(
            report=report, text=report_text(report, listed, finish.listed_at_most)
        )
