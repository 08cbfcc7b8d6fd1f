"""Sending a decision (a `DECISIONS` entry of contract/pipelines.py) to a running pipeline, as a
Temporal update whose id makes a redelivery have one effect. The gateway's signed callbacks and the
`csp decide` command both send through `send_decision` and read its outcomes the same way."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from contract import names
from contract.pipelines import Decision


class DecisionNotDelivered(Exception):
    """The decision did not reach a pipeline, or the pipeline refused it; nothing changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DecisionRefused(DecisionNotDelivered):
    """The pipeline refused the decision with a business error type (e.g. `WrongStage`)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class PipelineMissing(DecisionNotDelivered):
    """No pipeline has this workflow id, or it is another kind of pipeline."""


class PipelineEnded(DecisionNotDelivered):
    """The pipeline has ended; the message gives its closing status and outcome."""


class PipelineSilent(DecisionNotDelivered):
    """The pipeline runs but did not answer in time (no worker?): send again with the same id."""


async def send_decision(
    client: Client,
    decision: Decision,
    workflow_id: str,
    payload: BaseModel,
    *,
    update_id: str,
    answer_within: timedelta,
) -> BaseModel:
    """The pipeline's answer to the decision (its `decision.result` model)."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        answer: BaseModel = await handle.execute_update(
            decision.update,
            payload,
            id=update_id,
            result_type=decision.result,
            rpc_timeout=answer_within,
        )
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        if isinstance(cause, ApplicationError):
            raise DecisionRefused(cause.type or "UpdateRefused", cause.message) from None
        raise
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        raise PipelineSilent(
            f"{workflow_id} did not answer within {int(answer_within.total_seconds())} s; send it "
            "again with the same delivery id"
        ) from None
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        raise await _why_not_running(client, decision, workflow_id) from None
    return answer


async def _why_not_running(
    client: Client, decision: Decision, workflow_id: str
) -> DecisionNotDelivered:
    what = f"{decision.pipeline.name} pipeline {workflow_id}"
    try:
        described = await client.get_workflow_handle(workflow_id).describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return PipelineMissing(f"there is no {what}")
        raise
    if described.workflow_type != decision.pipeline.workflow_type:
        return PipelineMissing(f"{workflow_id} is a {described.workflow_type}, not a {what}")
    if described.status is WorkflowExecutionStatus.RUNNING:
        return PipelineSilent(f"{what} is running but did not take the update; send it again")
    outcome = described.typed_search_attributes.get(names.SA_OUTCOME)
    status = described.status.name.lower() if described.status else "closed"
    ended = f"{status}, outcome {outcome}" if outcome else status
    return PipelineEnded(f"{what} has ended ({ended}); nothing changed")
