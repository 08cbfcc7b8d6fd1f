"""What the Web UI's operator buttons do, through the same client API the UI calls, on the real
dev server (issue 18): Request Cancellation at each waiting stage, Reset to an earlier workflow
task. After each: the registry row, the emails sent and the search attributes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, ResetReapplyType, WorkflowExecutionStatus
from temporalio.api.failure.v1 import Failure
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import WorkflowEnvironment

from contract import names
from contract.activities.notifications import SEND_EMAIL
from domain.reseller_enrollment import EnrollmentStage, EnrollmentStatus, ResellerStatus
from tests.conftest import (
    UNSIGNED_TENANT,
    Stack,
    application,
    new_partner,
)
from tests.enrollment_driver import decide, latest_token, start_enrollment, status, subjects, verify


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(150):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def _at_stage(handle: WorkflowHandle[Any, Any], stage: EnrollmentStage) -> None:
    async def there() -> bool:
        return (await status(handle)).stage is stage

    await _eventually(there, f"stage {stage.value}")


async def _cancelled(handle: WorkflowHandle[Any, Any]) -> None:
    """Request Cancellation, as the UI's button does, and wait for the workflow to close."""
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    assert (await handle.describe()).status is not None
    assert (await handle.describe()).raw_description.workflow_execution_info.status == (
        WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED
    )


@pytest.fixture
def workflow_id(stack: Stack) -> str:
    """A PartnerID of this test's own (MPA not signed): the dev server is shared by the session's
    tests and pipelines run only under their business id."""
    return names.reseller_enrollment_id(new_partner(stack, mpa_signed=False))


def _partner(workflow_id: str) -> str:
    return workflow_id.removeprefix(names.reseller_enrollment_id(""))


def _unsigned(workflow_id: str) -> dict[str, Any]:
    return application(partner_id=_partner(workflow_id), tenant_id=str(UNSIGNED_TENANT))


async def _to_email_verification(client: Client, stack: Stack, workflow_id: str) -> Any:
    handle = await start_enrollment(client, workflow_id, _unsigned(workflow_id))
    await latest_token(stack.sink, 1)
    await _at_stage(handle, EnrollmentStage.EMAIL_VERIFICATION)
    return handle


async def _to_review(client: Client, stack: Stack, workflow_id: str) -> Any:
    handle = await start_enrollment(client, workflow_id, _unsigned(workflow_id))
    await verify(client, workflow_id, await latest_token(stack.sink, 1))
    await stack.sink.wait_for_messages(2, timeout_seconds=30)
    await _at_stage(handle, EnrollmentStage.REVIEW)
    return handle


async def _to_mpa(client: Client, stack: Stack, workflow_id: str) -> Any:
    handle = await _to_review(client, stack, workflow_id)
    await decide(handle, "approve")
    await stack.sink.wait_for_messages(4, timeout_seconds=30)  # approved, sign the MPA
    await _at_stage(handle, EnrollmentStage.MPA_SIGNATURE)
    return handle


@pytest.mark.parametrize(
    ("reach", "emails_before"),
    [(_to_email_verification, 1), (_to_review, 2), (_to_mpa, 4)],
    ids=["email_verification", "review", "mpa_signature"],
)
async def test_request_cancellation_at_each_enrollment_wait_completes_the_record(
    dev_env: WorkflowEnvironment,
    stack: Stack,
    workflow_id: str,
    reach: Callable[[Client, Stack, str], Awaitable[WorkflowHandle[Any, Any]]],
    emails_before: int,
) -> None:
    client = dev_env.client
    async with stack.worker(client):
        handle = await reach(client, stack, workflow_id)
        before = await stack.registry.get_reseller(_partner(workflow_id))
        assert before is not None and before.status is ResellerStatus.ENROLLING
        await _cancelled(handle)
        await stack.sink.wait_for_messages(emails_before + 1, timeout_seconds=30)

        # The registry: cancelled, with the reason.
        record = await stack.registry.get_reseller(_partner(workflow_id))
        assert record is not None
        assert record.status is ResellerStatus.CANCELLED
        assert record.status_reason is not None and "cancel" in record.status_reason
        # The contact is told once.
        assert subjects(stack.sink)[emails_before:] == [
            "Your CSP reseller enrollment was cancelled"
        ]
        # Search attributes: outcome set, stage final, no deadline.
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(names.SA_OUTCOME) == "cancelled"
        assert attributes.get(names.SA_STAGE) == "cancelled"
        assert attributes.get(names.SA_NEXT_DEADLINE) is None
        # The status query (still answered by a closed workflow) waits for nothing.
        final: EnrollmentStatus = await handle.query(
            names.QUERY_STATUS, result_type=EnrollmentStatus
        )
        assert final.stage is EnrollmentStage.CANCELLED
        assert final.waiting_for is None and final.deadline is None
        assert final.error_type == "PipelineCancelled"
        # The email-verification child does not outlive its parent.
        child = client.get_workflow_handle(names.email_verification_id(workflow_id))
        child_status = (await child.describe()).raw_description.workflow_execution_info.status
        assert child_status != WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING

    # A new start for that partner is allowed by the recorded state.
    async with stack.worker(client):
        again = await start_enrollment(client, workflow_id, _unsigned(workflow_id))
        await _at_stage(again, EnrollmentStage.EMAIL_VERIFICATION)
        await again.terminate("test over")


async def _reset_after_verification(
    client: Client, handle: WorkflowHandle[Any, Any], run_id: str
) -> str:
    """The UI's Reset to the first workflow task completed after the email-verification child
    finished: the review stage, its email and the decision run again in a new run."""
    events = [e async for e in handle.fetch_history_events()]
    [child_done] = [
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED
    ]
    target = next(
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED and e.event_id > child_done
    )
    response = await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=run_id),
            reason="operator reset from the UI (test)",
            workflow_task_finish_event_id=target,
            request_id=f"reset-{handle.id}",
            reset_reapply_type=ResetReapplyType.RESET_REAPPLY_TYPE_NONE,
        )
    )
    return response.run_id


async def test_reset_replays_decisions_without_resending_emails(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = dev_env.client
    async with stack.worker(client):
        handle = await _to_mpa(client, stack, workflow_id)
        sent = subjects(stack.sink)
        assert sent == [
            "Confirm your email address for your CSP reseller enrollment",
            "Your CSP reseller enrollment is under review",
            "Your CSP reseller enrollment is approved",
            "Action needed: sign the Microsoft Partner Agreement",
        ]
        first_run = (await handle.describe()).run_id
        assert first_run is not None
        new_run = await _reset_after_verification(client, handle, first_run)
        assert new_run != first_run
        reset_handle = client.get_workflow_handle(workflow_id, run_id=new_run)
        # The new run is back in review: "under review" is not mailed again.
        await _at_stage(reset_handle, EnrollmentStage.REVIEW)
        await decide(reset_handle, "approve")
        await _at_stage(reset_handle, EnrollmentStage.MPA_SIGNATURE)

        # The same emails were sent again by the new run; the registry outbox kept each once.
        # The stage shows before the agreement check that precedes the "sign the MPA" email.
        async def emails_asked_for() -> int:
            scheduled = [
                e.activity_task_scheduled_event_attributes.activity_type.name
                async for e in reset_handle.fetch_history_events()
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            ]
            return scheduled.count(SEND_EMAIL.name)

        async def three_asked_for() -> bool:
            return await emails_asked_for() >= 3

        await _eventually(three_asked_for, "the new run's emails asked for")
        assert await emails_asked_for() == 3  # under review, approved, sign the MPA: each again
        await asyncio.sleep(1)  # a duplicate would be in the sink by now
        assert subjects(stack.sink) == sent
        record = await stack.registry.get_reseller(_partner(workflow_id))
        assert record is not None and record.status is ResellerStatus.ENROLLING
        await reset_handle.terminate("test over")


async def test_decisions_sent_as_signals_are_validated_applied_once_and_refusals_recorded(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = dev_env.client
    async with stack.worker(client):
        handle = await _to_review(client, stack, workflow_id)
        # The Web UI's "Send a Signal" with the documented JSON, but no delivery id: refused.
        decision = {"decision": "approve", "decided_by": "review-backend"}
        await handle.signal(names.UPDATE_DECIDE_REVIEW, decision)
        # The wrong decision for the stage: the update's own validator refuses it.
        await handle.signal(
            names.UPDATE_REPORT_MPA_SIGNED, {"reported_by": "pc-webhook", "delivery_id": "d-0"}
        )
        # A payload the update's model refuses (unknown field).
        await handle.signal(
            names.UPDATE_DECIDE_REVIEW, {**decision, "approved": True, "delivery_id": "d-1"}
        )
        # A name that is no decision of this pipeline.
        await handle.signal("decide_reveiw", {**decision, "delivery_id": "d-2"})

        async def four_refusals() -> bool:
            return len((await status(handle)).signal_refusals) == 4

        await _eventually(four_refusals, "four refusals recorded")
        current = await status(handle)
        assert current.stage is EnrollmentStage.REVIEW  # nothing was applied
        assert [(r.name, r.delivery_id, r.error_type) for r in current.signal_refusals] == [
            (names.UPDATE_DECIDE_REVIEW, None, "DeliveryIdMissing"),
            (names.UPDATE_REPORT_MPA_SIGNED, "d-0", "WrongStage"),
            (names.UPDATE_DECIDE_REVIEW, "d-1", "InvalidPayload"),
            ("decide_reveiw", "d-2", "UnknownDecision"),
        ]
        assert "not awaiting the MPA signature" in current.signal_refusals[1].message
        assert "approved" in current.signal_refusals[2].message
        assert names.UPDATE_DECIDE_REVIEW in current.signal_refusals[3].message

        # The right decision, delivered twice by a retrying backend: applied once.
        await handle.signal(names.UPDATE_DECIDE_REVIEW, {**decision, "delivery_id": "d-3"})
        await handle.signal(names.UPDATE_DECIDE_REVIEW, {**decision, "delivery_id": "d-3"})
        await _at_stage(handle, EnrollmentStage.MPA_SIGNATURE)
        await stack.sink.wait_for_messages(4, timeout_seconds=30)
        # A second, different delivery after the decision is refused by the validator.
        await handle.signal(names.UPDATE_DECIDE_REVIEW, {**decision, "delivery_id": "d-4"})

        async def five_refusals() -> bool:
            return len((await status(handle)).signal_refusals) == 5

        await _eventually(five_refusals, "the late decision refused")
        late = (await status(handle)).signal_refusals[-1]
        assert (late.delivery_id, late.error_type) == ("d-4", "WrongStage")
        assert subjects(stack.sink).count("Your CSP reseller enrollment is approved") == 1
        await handle.terminate("test over")


def _no_code_locations(failure: Failure) -> None:
    """What the Web UI shows of a failure: type and message, no stack trace, no file paths."""
    level: Failure | None = failure
    while level is not None:
        assert level.stack_trace == ""
        assert ".py" not in level.message and 'File "' not in level.message
        level = level.cause if level.HasField("cause") else None
    assert b".py" not in failure.SerializeToString()


async def test_refusals_reach_the_caller_as_type_and_message_without_stack_traces(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = dev_env.client
    async with stack.worker(client):
        handle = await _to_email_verification(client, stack, workflow_id)
        # A refused update (the validator's WrongStage), as the UI's "Send an Update" sees it.
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await decide(handle, "approve")
        cause = refused.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "WrongStage"
        assert "not awaiting a review decision" in cause.message
        assert cause.failure is not None
        _no_code_locations(cause.failure)
        await handle.terminate("test over")

        # A pre-check refusal fails the workflow: its recorded failure carries no trace either.
        stack.edit_partner_center(lambda d: d["profiles"].pop(_partner(workflow_id)))
        failed = await start_enrollment(client, workflow_id, _unsigned(workflow_id))
        with pytest.raises(WorkflowFailureError):
            await failed.result()
        [closed] = [
            e
            async for e in failed.fetch_history_events()
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
        ]
        recorded = closed.workflow_execution_failed_event_attributes.failure
        assert recorded.application_failure_info.type == "PartnerIdNotFound"
        _no_code_locations(recorded)
