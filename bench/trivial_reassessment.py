"""The sweep benchmark's baseline `PartnerReassessment` (bench/reassessment_sweep.py)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.skeletons import passed_outcome, report_to_sweep
    from contract import names
    from domain.reassessment import ReassessmentOutcome, ReassessmentRequest


@workflow.defn(name=names.PARTNER_REASSESSMENT)
class TrivialPartnerReassessment:
    """The sweep benchmark's baseline: report "passed" to the sweep, nothing else."""

    @workflow.run
    async def run(self, request: ReassessmentRequest) -> ReassessmentOutcome:
        outcome = passed_outcome(request)
        await report_to_sweep(request, outcome)
        return outcome
