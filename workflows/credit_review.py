"""Credit review (DB-09) as a child workflow: Microsoft's credit team reports its decision through
the `decide_credit` update before a deadline; the parent reads the result."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

from domain.calendar import show_instant
from domain.direct_bill import CreditReviewRequest, CreditReviewResult, CreditReviewStatus
from workflows import pipeline

with workflow.unsafe.imports_passed_through():
    from contract import names
    from domain.direct_bill import MicrosoftDecision
    from domain.errors import WrongStage
    from domain.messages import Acknowledgement


@workflow.defn(name=names.CREDIT_REVIEW)
class CreditReviewWorkflow(pipeline.DecisionSignals):
    @pipeline.init_with_input
    def __init__(self, request: CreditReviewRequest) -> None:
        self._request = request
        self._decision: MicrosoftDecision | None = None
        self._decided_at: datetime | None = None

    @workflow.run
    async def run(self, request: CreditReviewRequest) -> CreditReviewResult:
        pipeline.require_business_id(
            names.credit_review_id(names.direct_bill_id(request.pga_id, request.region))
        )
        workflow.upsert_search_attributes(
            [
                names.SA_PARTNER_ID.value_set(request.pga_id),
                names.SA_REGION.value_set(request.region),
                names.SA_STAGE.value_set("credit_review"),
                names.SA_NEXT_DEADLINE.value_set(request.deadline),
            ]
        )
        workflow.set_current_details(
            pipeline.stage_details(
                "credit_review", "the credit decision (decide_credit)", request.deadline
            )
        )
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None,
                timeout=max(request.deadline - workflow.now(), timedelta(seconds=1)),
                timeout_summary="credit review deadline",
            )
        except TimeoutError:
            result = CreditReviewResult(
                outcome="expired", reason=f"no credit decision by {show_instant(request.deadline)}"
            )
        else:
            decision = self._decision
            assert decision is not None
            result = CreditReviewResult(
                outcome="approved" if decision.decision == "approve" else "rejected",
                reason=decision.reason,
                decided_by=decision.decided_by,
                decided_at=self._decided_at,
            )
        workflow.upsert_search_attributes(
            [
                names.SA_STAGE.value_set(f"credit_{result.outcome}"),
                names.SA_OUTCOME.value_set(result.outcome),
                names.SA_NEXT_DEADLINE.value_unset(),
            ]
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    @workflow.update(name=names.UPDATE_DECIDE_CREDIT)
    def decide_credit(self, decision: MicrosoftDecision) -> Acknowledgement:
        self._decision = decision
        self._decided_at = workflow.now()
        return Acknowledgement(stage="credit_review", message=decision.sentence("credit review"))

    @decide_credit.validator
    def _validate_decide_credit(self, decision: MicrosoftDecision) -> None:
        if self._decision is not None:
            raise pipeline.refuse(WrongStage("the credit decision was already reported"))
        if workflow.now() >= self._request.deadline:
            raise pipeline.refuse(
                WrongStage(f"the credit review closed at {show_instant(self._request.deadline)}")
            )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> CreditReviewStatus:
        return CreditReviewStatus(
            decided=self._decision is not None,
            deadline=self._request.deadline,
            signal_refusals=self.signal_refusals(),
        )
