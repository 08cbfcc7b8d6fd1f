"""Request Cancellation (the Web UI's button; the same client call) at each waiting stage of the
direct-bill, partnership, customer-invitation and subscription-order pipelines on the real dev
server: the registry row, the emails and the search attributes after each (issue 18)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from contract import names
from contract.pipelines import PIPELINES
from domain.direct_bill import (
    DirectBillApplication,
    DirectBillRegistryStatus,
    DirectBillStage,
    DirectBillStatus,
)
from domain.messages import Acknowledgement
from domain.reassessment import ReassessmentStage, ReassessmentStatus, SweepRequest, SweepSummary
from domain.reassessment_rules import month_of
from domain.relationships import (
    CustomerInvitationRequest,
    CustomerInvitationStage,
    CustomerInvitationStatus,
    OrderStage,
    OrderStatus,
    PartnershipRequest,
    PartnershipStage,
    PartnershipStatus,
    SubscriptionOrderRequest,
)
from tests.conftest import DB_PGA, Stack
from tests.direct_bill_driver import (
    APPROVE,
    db_application,
    send,
    through_decision,
    wait_stage,
    wait_until_running,
)
from tests.reassessment_fixtures import Partner, seed
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    US_RESELLER,
    invitation_request,
    order_request,
    partnership_request,
    prepare,
    subjects,
    update,
    wait_for_stage,
)
from tests.test_subscription_order_workflow import _customer


async def _cancel(handle: WorkflowHandle[Any, Any]) -> None:
    await handle.cancel()
    with pytest.raises(WorkflowFailureError) as failure:
        await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    info = (await handle.describe()).raw_description.workflow_execution_info
    assert info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED


async def _outcome_shown(handle: WorkflowHandle[Any, Any]) -> None:
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(names.SA_OUTCOME) == "cancelled"
    assert attributes.get(names.SA_STAGE) == "cancelled"
    assert attributes.get(names.SA_NEXT_DEADLINE) is None
    assert attributes.get(names.SA_ATTENTION) is None  # a cancellation needs no operator


async def _start(client: Client, workflow: str, arg: Any) -> WorkflowHandle[Any, Any]:
    """Start under the pipeline's business-key id (the only id it runs under). The dev server is
    shared by the session's tests: a pipeline another test left running under the same business
    key is terminated (this test owns the key now)."""
    [pipeline] = [p for p in PIPELINES if p.workflow_type == workflow]
    return await client.start_workflow(
        workflow,
        arg,
        id=pipeline.workflow_id_for(arg),
        task_queue=names.TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.TERMINATE_EXISTING,
    )


@pytest.fixture
def workflow_id() -> str:
    """A manual sweep's id: the sweep's business id and a suffix of this test's own."""
    return f"{names.SWEEP_WORKFLOW_ID}-test-{uuid.uuid4().hex[:8]}"


# ---- direct bill --------------------------------------------------------------------------------


async def _db_initial_review(client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)


async def _db_assessment(client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
    await send(handle, names.UPDATE_REPORT_INITIAL_REVIEW, APPROVE)
    await wait_stage(handle, DirectBillStage.ASSESSMENT)


async def _db_credit_review(client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    await through_decision(handle)
    await wait_stage(handle, DirectBillStage.ENROLLMENT_FORM)
    await send(
        handle,
        names.UPDATE_SUBMIT_ENROLLMENT_FORM,
        {"submission_id": "PC-ENR-1", "submitted_by": "applicant"},
    )
    await wait_until_running(client, names.credit_review_id(handle.id))
    await wait_stage(handle, DirectBillStage.CREDIT_REVIEW)


@pytest.mark.parametrize(
    "reach",
    [_db_initial_review, _db_assessment, _db_credit_review],
    ids=["initial_review", "assessment", "credit_review"],
)
async def test_direct_bill_cancelled_at_each_wait(
    dev_env: WorkflowEnvironment,
    stack: Stack,
    reach: Callable[[Client, WorkflowHandle[Any, Any]], Awaitable[None]],
) -> None:
    client = dev_env.client
    async with stack.worker(client):
        handle = await _start(
            client,
            names.DIRECT_BILL_APPLICATION,
            DirectBillApplication.model_validate(db_application()),
        )
        await reach(client, handle)
        sent = len(stack.sink.messages())
        await _cancel(handle)
        await stack.sink.wait_for_messages(sent + 1, timeout_seconds=30)
        record = await stack.registry.get_direct_bill(DB_PGA, "JP")
        assert record is not None and record.status is DirectBillRegistryStatus.CANCELLED
        assert record.status_reason is not None and "cancel" in record.status_reason
        assert subjects(stack.sink)[sent:] == ["Direct-bill application for JP cancelled"]
        await _outcome_shown(handle)
        final: DirectBillStatus = await handle.query(
            names.QUERY_STATUS, result_type=DirectBillStatus
        )
        assert final.stage is DirectBillStage.CANCELLED
        child = client.get_workflow_handle(names.credit_review_id(handle.id))
        if reach is _db_credit_review:
            child_info = (await child.describe()).raw_description.workflow_execution_info
            assert child_info.status == WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED
        # The recorded state allows a new application at once.
        again = await _start(
            client,
            names.DIRECT_BILL_APPLICATION,
            DirectBillApplication.model_validate(db_application()),
        )
        await wait_stage(again, DirectBillStage.INITIAL_REVIEW)
        await again.terminate("test over")


# ---- partnership --------------------------------------------------------------------------------


@pytest.mark.parametrize("accepted", [False, True], ids=["awaiting_acceptance", "active"])
async def test_partnership_cancelled_at_each_wait(
    dev_env: WorkflowEnvironment, stack: Stack, accepted: bool
) -> None:
    await prepare(stack)
    client = dev_env.client
    async with stack.worker(client):
        handle = await _start(
            client, names.PARTNERSHIP, PartnershipRequest.model_validate(partnership_request())
        )
        await wait_for_stage(handle, PartnershipStage.AWAITING_ACCEPTANCE, PartnershipStatus)
        if accepted:
            await update(
                handle,
                names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
                {"reported_by": "reseller-success-team"},
                Acknowledgement,
            )
            await wait_for_stage(handle, PartnershipStage.ACTIVE, PartnershipStatus)
        await stack.sink.wait_for_messages(2 if accepted else 1, timeout_seconds=30)
        sent = subjects(stack.sink)
        await _cancel(handle)
        record = await stack.registry.get_partnership(PROVIDER, RESELLER)
        assert record is not None and record.status is PartnershipStage.CANCELLED
        assert record.status_reason is not None and "cancel" in record.status_reason
        assert record.ended_at is not None
        if accepted:  # the registry does not pretend Partner Center changed
            assert "not removed in Partner Center" in record.status_reason
        await _outcome_shown(handle)
        assert subjects(stack.sink) == sent  # nobody is mailed for an operator's cancellation


# ---- customer invitation ------------------------------------------------------------------------


async def test_customer_invitation_cancelled_while_awaiting_acceptance(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    client = dev_env.client
    async with stack.worker(client):
        handle = await _start(
            client,
            names.CUSTOMER_INVITATION,
            CustomerInvitationRequest.model_validate(invitation_request()),
        )
        await wait_for_stage(
            handle, CustomerInvitationStage.AWAITING_ACCEPTANCE, CustomerInvitationStatus
        )
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        await _cancel(handle)
        record = await stack.registry.get_customer_relationship(RESELLER, str(CUSTOMER))
        assert record is not None and record.status is CustomerInvitationStage.CANCELLED
        await _outcome_shown(handle)


# ---- subscription order -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mca", "por", "stage"),
    [
        (False, RESELLER, OrderStage.AWAITING_CUSTOMER_AGREEMENT),
        (True, US_RESELLER, OrderStage.POR_INVALID),
    ],
    ids=["awaiting_customer_agreement", "por_invalid"],
)
async def test_order_cancelled_at_each_wait(
    dev_env: WorkflowEnvironment, stack: Stack, mca: bool, por: str, stage: OrderStage
) -> None:
    await prepare(stack, partnerships=(RESELLER, US_RESELLER))
    await _customer(stack, mca=mca)
    client = dev_env.client
    async with stack.worker(client):
        request = order_request(partner_of_record=por)
        handle = await _start(
            client, names.SUBSCRIPTION_ORDER, SubscriptionOrderRequest.model_validate(request)
        )
        await wait_for_stage(handle, stage, OrderStatus)
        await _cancel(handle)
        record = await stack.registry.get_order(PROVIDER, request["order_ref"])
        assert record is not None and record.status is OrderStage.CANCELLED
        assert record.error_type == "PipelineCancelled"
        await _outcome_shown(handle)
        final: OrderStatus = await handle.query(names.QUERY_STATUS, result_type=OrderStatus)
        assert final.stage is OrderStage.CANCELLED and final.deadline is None


# ---- annual re-assessment -----------------------------------------------------------------------


async def test_reassessment_cancelled_in_its_questionnaire_is_reported_to_the_sweep(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = dev_env.client
    month = month_of(datetime.now(UTC))
    partner = Partner(f"57{uuid.uuid4().int % 100000:05d}", renewal_month=month.month)
    await seed(stack, month, [partner])
    async with stack.worker(client):
        sweep = await client.start_workflow(
            names.REASSESSMENT_SWEEP,
            SweepRequest(month=month),
            id=workflow_id,
            task_queue=names.TASK_QUEUE,
            result_type=SweepSummary,
        )
        child_id = names.reassessment_id(partner.pga_id, "JP", month.year)
        await wait_until_running(client, child_id)
        handle = client.get_workflow_handle(child_id)
        await wait_for_stage(handle, ReassessmentStage.QUESTIONNAIRE, ReassessmentStatus)
        await _cancel(handle)
        summary = await sweep.result()
    assert (summary.due, summary.started, summary.errors, summary.passed) == (1, 1, 1, 0)
    attributes = (await handle.describe()).typed_search_attributes
    assert attributes.get(names.SA_OUTCOME) == "cancelled"
    assert attributes.get(names.SA_STAGE) == "reassessment_cancelled"
    assert attributes.get(names.SA_NEXT_DEADLINE) is None
    # Nothing was decided: the partner stays as it was, no transition, no cooldown.
    record = await stack.registry.get_direct_bill(partner.pga_id, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.ACTIVE
    assert await stack.registry.get_cooldown(partner.pga_id) is None
