"""The pipeline reconciler (issue 18), run by the `pipeline-reconciler` Schedule (hourly by
default): registry rows whose pipeline Temporal closed without the pipeline recording an outcome
(terminated, timed out, failed before its finish) get the real closure recorded, and operations
are told. A new start for the partner is then judged by the recorded state."""

from __future__ import annotations

from temporalio import workflow

from workflows import pipeline

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities.policies import LOAD_ENROLLMENT_POLICY
    from contract.activities.reconciler import (
        DESCRIBE_CLOSURE,
        LIST_OPEN_RECORDS,
        RECORD_CLOSURE,
        ClosureLookup,
        OpenRecordsRequest,
    )
    from domain.notifications import EmailFacts, EmailKind
    from domain.reconciliation import ClosedPipeline, ReconcileSummary, closure_reason


@workflow.defn(name=names.PIPELINE_RECONCILER)
class PipelineReconcilerWorkflow:
    @workflow.run
    async def run(self) -> ReconcileSummary:
        pipeline.require_business_id(names.RECONCILER_WORKFLOW_ID, suffix=pipeline.any_suffix)
        policy = await pipeline.load_policy(LOAD_ENROLLMENT_POLICY)
        found = await pipeline.execute(
            LIST_OPEN_RECORDS, OpenRecordsRequest(), start_to_close=pipeline.LOOKUP_TIMEOUT
        )
        reconciled: list[ClosedPipeline] = []
        for record in found.records:
            described = await pipeline.execute(
                DESCRIBE_CLOSURE,
                ClosureLookup(workflow_id=record.workflow_id),
                start_to_close=pipeline.LOOKUP_TIMEOUT,
            )
            if described.closure is None:
                continue
            closed = ClosedPipeline(
                record=record,
                closure=described.closure,
                closed_at=described.closed_at,
                reason=closure_reason(described.closure, described.closed_at, record),
            )
            recorded = await pipeline.execute(
                RECORD_CLOSURE, closed, start_to_close=pipeline.LOOKUP_TIMEOUT
            )
            if recorded.recorded:
                reconciled.append(closed)
        summary = ReconcileSummary(checked=len(found.records), reconciled=tuple(reconciled))
        workflow.set_current_details(
            f"checked {summary.checked} in-progress record(s), reconciled {len(reconciled)}"
        )
        if reconciled:
            lines = "\n".join(
                f"- {c.record.describe()} ({c.record.workflow_id}): {c.closure.value}"
                f" while {c.record.status}"
                for c in reconciled
            )
            await pipeline.send_email(
                EmailFacts(
                    kind=EmailKind.PIPELINES_RECONCILED,
                    to=policy.operations_email,
                    partner_id="-",
                    recipient_name="CSP operations",
                    legal_name="-",
                    reason=lines,
                ),
                "reconciled",
            )
        return summary
