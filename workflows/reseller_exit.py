"""The reseller side of ending a relationship (DOMAIN.md END-03, seed 000 scenario 6; issue 14).

A reseller that wants to end its relationship with an indirect provider, or move to another
provider, contacts Microsoft Support; the orchestrator cannot do it for the reseller, so it
records the request and follows the case:

prechecks (a partnership with the provider exists and is not over) -> awaiting_support_case
(`record_support_case` with the case number; `expired` after `reseller_exit_case_window`) ->
awaiting_outcome (`report_support_outcome`: ended, moved or declined; `expired` after
`reseller_exit_outcome_window`) -> ended | moved | declined. Also `withdrawn`, `refused`.

END-01: nothing here changes customers or their delegated admin privileges; the partnership's
own pipeline and registry record are left to the provider (the outcome is recorded for it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow

from workflows import pipeline
from workflows.pipeline import PipelineEnded, StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names, pipelines
    from contract.activities.policies import LOAD_RELATIONSHIP_POLICY
    from contract.activities.provider_operations import SAVE_RESELLER_EXIT
    from contract.activities.relationships import (
        GET_PARTNERSHIP,
        PartnershipLookupResult,
        PartnershipParties,
    )
    from domain.errors import DecisionInvalid
    from domain.messages import Acknowledgement, Withdrawal
    from domain.relationship_rules import require_partnership_to_leave
    from domain.relationships import RelationshipPolicy
    from domain.reseller_exit import (
        ExitKind,
        ExitOutcome,
        ResellerExitRecord,
        ResellerExitRequest,
        ResellerExitResult,
        ResellerExitStage,
        ResellerExitStatus,
        SupportCaseOpened,
        SupportOutcome,
    )

_OUTCOME_STAGE = {
    ExitOutcome.ENDED: ResellerExitStage.ENDED,
    ExitOutcome.MOVED: ResellerExitStage.MOVED,
    ExitOutcome.DECLINED: ResellerExitStage.DECLINED,
}


@workflow.defn(name=names.RESELLER_EXIT)
class ResellerExitWorkflow:
    @pipeline.init_with_input
    def __init__(self, request: ResellerExitRequest) -> None:
        self._req = request
        self._policy = RelationshipPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._stages = StageTracker(ResellerExitStage.PRECHECKS, "pre-checks")
        self._requested_at: datetime | None = None
        self._case: SupportCaseOpened | None = None
        self._outcome: SupportOutcome | None = None
        self._withdrawal: Withdrawal | None = None
        self._ended: PipelineEnded | None = None

    @workflow.run
    async def run(self, request: ResellerExitRequest) -> ResellerExitResult:
        pipeline.require_business_id(pipelines.RESELLER_EXIT.workflow_id_for(request))
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(request.reseller_partner_id)
        self._policy = await pipeline.load_policy(LOAD_RELATIONSHIP_POLICY, local=self._lean)
        self._requested_at = workflow.now()
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks,
            steps=self._steps,
            refused=ResellerExitStage.REFUSED,
            finish=self._finish,
        )
        return ResellerExitResult(
            reseller_partner_id=request.reseller_partner_id,
            provider_partner_id=request.provider_partner_id,
            outcome=ResellerExitStage(ended.outcome),
            case_reference=self._case.case_reference if self._case else None,
            reason=ended.reason,
            error_type=ended.error_type,
        )

    async def _prechecks(self) -> None:
        self._stages.enter(ResellerExitStage.PRECHECKS, "pre-checks (the partnership)")
        req = self._req
        found: PartnershipLookupResult = await pipeline.lookup(
            GET_PARTNERSHIP,
            PartnershipParties(
                provider_partner_id=req.provider_partner_id,
                reseller_partner_id=req.reseller_partner_id,
            ),
            local=self._lean,
        )
        record = found.record
        if record is not None:
            workflow.upsert_search_attributes([names.SA_REGION.value_set(record.region)])
        pipeline.enforce(
            lambda: require_partnership_to_leave(
                provider_partner_id=req.provider_partner_id,
                reseller_partner_id=req.reseller_partner_id,
                status=record.status.value if record else None,
            )
        )

    async def _steps(self) -> PipelineEnded:
        req = self._req
        what = (
            f"end its relationship with provider {req.provider_partner_id}"
            if req.kind is ExitKind.END
            else f"move from provider {req.provider_partner_id} to {req.new_provider_partner_id}"
        )
        await self._wait(
            ResellerExitStage.AWAITING_SUPPORT_CASE,
            f"the Microsoft Support case the reseller opens to {what} (record_support_case)",
            self._policy.reseller_exit_case_window,
            lambda: self._case is not None,
            "no Microsoft Support case was recorded",
        )
        case = self._case
        assert case is not None
        await self._wait(
            ResellerExitStage.AWAITING_OUTCOME,
            f"Microsoft Support's outcome of case {case.case_reference} (report_support_outcome)",
            self._policy.reseller_exit_outcome_window,
            lambda: self._outcome is not None,
            f"Microsoft Support reported no outcome of case {case.case_reference}",
        )
        outcome = self._outcome
        assert outcome is not None
        note = f": {outcome.note}" if outcome.note else ""
        return PipelineEnded(
            _OUTCOME_STAGE[outcome.outcome],
            f"Microsoft Support case {case.case_reference} {outcome.outcome.value} "
            f"(reported by {outcome.reported_by}){note}; customers and their delegated admin "
            "privileges are unchanged (END-01)",
        )

    async def _wait(
        self,
        stage: ResellerExitStage,
        waiting_for: str,
        window: timedelta,
        arrived: Callable[[], bool],
        missing: str,
    ) -> None:
        deadline = workflow.now() + window
        self._stages.enter(stage, waiting_for, deadline)
        await self._save()
        try:
            await workflow.wait_condition(
                lambda: arrived() or self._withdrawal is not None,
                timeout=deadline - workflow.now(),
                timeout_summary=stage.value,
            )
        except TimeoutError:
            raise PipelineEnded(
                ResellerExitStage.EXPIRED, f"{missing} by {deadline.isoformat()}"
            ) from None
        if self._withdrawal is not None:
            raise pipeline.withdrawn(ResellerExitStage.WITHDRAWN, self._withdrawal)

    async def _save(self) -> None:
        req = self._req
        assert self._requested_at is not None
        await pipeline.execute(
            SAVE_RESELLER_EXIT,
            ResellerExitRecord(
                reseller_partner_id=req.reseller_partner_id,
                provider_partner_id=req.provider_partner_id,
                kind=req.kind,
                new_provider_partner_id=req.new_provider_partner_id,
                status=self._stages.stage,
                case_reference=self._case.case_reference if self._case else None,
                case_opened_at=self._case.opened_at if self._case else None,
                outcome_note=self._ended.reason if self._ended else None,
                workflow_id=workflow.info().workflow_id,
                requested_at=self._requested_at,
                updated_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        self._stages.end(ResellerExitStage(ended.outcome), ended.reason)
        await self._save()

    def _wrong_stage(self, wanted: ResellerExitStage) -> Exception:
        return pipeline.wrong_stage(
            f"the exit request of reseller {self._req.reseller_partner_id} is at stage "
            f"{self._stages.stage.value}, not {wanted.value}",
            self._stages.stage.value,
        )

    # ---- updates and query --------------------------------------------------------------------

    @workflow.update(name=names.UPDATE_RECORD_SUPPORT_CASE)
    def record_support_case(self, case: SupportCaseOpened) -> Acknowledgement:
        self._case = case
        return Acknowledgement(
            stage=self._stages.stage.value,
            message=f"Microsoft Support case {case.case_reference} recorded",
        )

    @record_support_case.validator
    def _validate_case(self, case: SupportCaseOpened) -> None:
        if self._stages.stage is not ResellerExitStage.AWAITING_SUPPORT_CASE or self._case:
            raise self._wrong_stage(ResellerExitStage.AWAITING_SUPPORT_CASE)
        assert self._requested_at is not None
        opened = case.opened_at
        if opened.tzinfo is None or opened > workflow.now():
            raise pipeline.refuse(
                DecisionInvalid(
                    f"opened_at {opened.isoformat()} must carry a time zone and not be after "
                    f"now ({workflow.now().isoformat()})",
                    opened_at=opened,
                )
            )

    @workflow.update(name=names.UPDATE_REPORT_SUPPORT_OUTCOME)
    def report_support_outcome(self, outcome: SupportOutcome) -> Acknowledgement:
        self._outcome = outcome
        return Acknowledgement(
            stage=self._stages.stage.value,
            message=f"Microsoft Support outcome {outcome.outcome.value} recorded",
        )

    @report_support_outcome.validator
    def _validate_outcome(self, outcome: SupportOutcome) -> None:
        if self._stages.stage is not ResellerExitStage.AWAITING_OUTCOME or self._outcome:
            raise self._wrong_stage(ResellerExitStage.AWAITING_OUTCOME)
        if outcome.outcome is ExitOutcome.MOVED and self._req.kind is not ExitKind.MOVE:
            raise pipeline.refuse(
                DecisionInvalid(
                    "the reseller asked to end its relationship, not to move; report ended or "
                    "declined",
                    outcome=outcome.outcome.value,
                )
            )
        if outcome.outcome is ExitOutcome.ENDED and self._req.kind is not ExitKind.END:
            raise pipeline.refuse(
                DecisionInvalid(
                    "the reseller asked to move to another provider; report moved or declined",
                    outcome=outcome.outcome.value,
                )
            )

    @workflow.update(name=names.UPDATE_WITHDRAW)
    def withdraw(self, withdrawal: Withdrawal) -> Acknowledgement:
        self._withdrawal = withdrawal
        return Acknowledgement(stage=self._stages.stage.value, message="exit request withdrawn")

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if (
            self._stages.stage
            not in (ResellerExitStage.AWAITING_SUPPORT_CASE, ResellerExitStage.AWAITING_OUTCOME)
            or self._withdrawal is not None
        ):
            raise self._wrong_stage(ResellerExitStage.AWAITING_SUPPORT_CASE)

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> ResellerExitStatus:
        req = self._req
        return ResellerExitStatus(
            workflow_id=workflow.info().workflow_id,
            reseller_partner_id=req.reseller_partner_id,
            provider_partner_id=req.provider_partner_id,
            kind=req.kind,
            new_provider_partner_id=req.new_provider_partner_id,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            case_reference=self._case.case_reference if self._case else None,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            history=tuple(self._stages.history),
        )
