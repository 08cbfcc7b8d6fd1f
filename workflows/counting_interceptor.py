"""Business counters for the pipelines whose workflows do not count themselves (they do not run
through `workflows/pipeline.py`'s `run_pipeline`): a partner's re-assessment, the transition back
to indirect reseller and the monthly sweep. A workflow interceptor counts each run's start (not a
continue-as-new) and its end, by outcome, and a business refusal by its error type, through
`workflows/business_metrics.py` (replay-silent).

The other pipelines count from inside `run_pipeline` (workflows/business_metrics.py); together
every pipeline reports csp_pipelines_started / _completed / _refused."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from contract import names as contract
from workflows.business_metrics import pipeline_ended, pipeline_started

COUNTED_HERE = frozenset(
    {
        contract.PARTNER_REASSESSMENT,
        contract.TRANSITION_TO_INDIRECT,
        contract.REASSESSMENT_SWEEP,
    }
)


def outcome_of(pipeline: str, result: Any) -> tuple[str, str | None]:
    """(outcome, refusal error type) of a pipeline's result."""
    if pipeline == contract.PARTNER_REASSESSMENT:
        if getattr(result, "error", None):
            return "error", str(result.error)
        return ("passed" if result.passed else "failed"), None
    if pipeline == contract.TRANSITION_TO_INDIRECT:
        return "transitioned", None
    if pipeline == contract.REASSESSMENT_SWEEP:
        return "completed", None
    outcome = getattr(result, "outcome", None)
    value = getattr(outcome, "value", outcome)
    return (str(value) if value is not None else "completed"), getattr(result, "error_type", None)


class _CountingInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        info = workflow.info()
        pipeline = info.workflow_type
        if pipeline not in COUNTED_HERE:
            return await super().execute_workflow(input)
        if info.continued_run_id is None:
            pipeline_started(pipeline)
        try:
            result = await super().execute_workflow(input)
        except workflow.ContinueAsNewError:
            raise
        except ApplicationError as err:
            pipeline_ended(pipeline, "refused", err.type or "ApplicationError")
            raise
        except asyncio.CancelledError:
            pipeline_ended(pipeline, "cancelled", None)
            raise
        outcome, error_type = outcome_of(pipeline, result)
        pipeline_ended(pipeline, outcome, error_type)
        return result


class PipelineCounterInterceptor(Interceptor):
    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _CountingInbound
