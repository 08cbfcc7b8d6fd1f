"""Terminate runs no workflow code: the scheduled `PipelineReconciler` finds registry rows whose
pipeline Temporal closed without an outcome, records the real closure and tells operations; a new
start is then judged by the recorded state (issue 18). On the real dev server."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.direct_bill import DirectBillApplication, DirectBillRegistryStatus, DirectBillStage
from domain.provider_operations import SubscriptionResellerStage, SubscriptionResellerStatus
from domain.reconciliation import PipelineClosure, ReconcileSummary
from domain.relationships import (
    CustomerInvitationStage,
    CustomerInvitationStatus,
    OrderStage,
    OrderStatus,
    PartnershipStage,
    PartnershipStatus,
)
from domain.reseller_enrollment import EnrollmentStage, ResellerStatus
from domain.reseller_exit import ResellerExitStage, ResellerExitStatus
from tests.conftest import (
    UNSIGNED_TENANT,
    Stack,
    application,
    new_partner,
)
from tests.direct_bill_driver import db_application, new_pga, wait_stage
from tests.enrollment_driver import latest_token, start_enrollment, status, subjects
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    SUBSCRIPTION,
    UNSIGNED_RESELLER,
    US_RESELLER,
    customer_of_provider,
    eventually,
    invitation_request,
    order_request,
    partnered_in_partner_center,
    partnership_request,
    prepare,
    reseller_exit_request,
    start_invitation,
    start_order,
    start_partnership,
    start_reseller_exit,
    start_subscription_reseller,
    subscription_reseller_request,
    wait_for_stage,
)
from tests.test_operator_actions_devserver import _at_stage
from tests.test_subscription_order_workflow import _customer
from tests.test_subscription_reseller_devserver import ENTERED


async def test_terminated_pipelines_are_reconciled_and_running_ones_left_alone(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    client = dev_env.client
    # The dev server is shared by the session's tests: this test's own business keys.
    unsigned, jp, pga = new_partner(stack, mpa_signed=False), new_partner(stack), new_pga(stack)
    terminated_id = names.reseller_enrollment_id(unsigned)
    db_id = names.direct_bill_id(pga, "JP")
    reconciler_id = f"{names.RECONCILER_WORKFLOW_ID}-test-{uuid.uuid4().hex[:8]}"
    async with stack.worker(client):
        terminated = await start_enrollment(
            client,
            terminated_id,
            application(partner_id=unsigned, tenant_id=str(UNSIGNED_TENANT)),
        )
        await latest_token(stack.sink, 1)
        await _at_stage(terminated, EnrollmentStage.EMAIL_VERIFICATION)
        running = await start_enrollment(
            client, names.reseller_enrollment_id(jp), application(partner_id=jp)
        )
        await latest_token(stack.sink, 2)
        await _at_stage(running, EnrollmentStage.EMAIL_VERIFICATION)
        direct_bill = await client.start_workflow(
            names.DIRECT_BILL_APPLICATION,
            DirectBillApplication.model_validate(db_application(pga_id=pga)),
            id=db_id,
            task_queue=names.TASK_QUEUE,
        )
        await wait_stage(direct_bill, DirectBillStage.INITIAL_REVIEW)
        # The Web UI's Terminate: no workflow code runs, the rows still say in progress.
        await terminated.terminate("operator pressed Terminate")
        await direct_bill.terminate("operator pressed Terminate")
        stale = await stack.registry.get_reseller(unsigned)
        assert stale is not None and stale.status is ResellerStatus.ENROLLING
        mails_before = len(stack.sink.messages())

        summary = await client.execute_workflow(
            names.PIPELINE_RECONCILER,
            id=reconciler_id,
            task_queue=names.TASK_QUEUE,
            result_type=ReconcileSummary,
        )
        assert summary.checked == 3
        assert sorted((c.record.workflow_id, c.closure) for c in summary.reconciled) == [
            (db_id, PipelineClosure.TERMINATED),
            (terminated_id, PipelineClosure.TERMINATED),
        ]
        record = await stack.registry.get_reseller(unsigned)
        assert record is not None and record.status is ResellerStatus.TERMINATED
        assert record.status_reason is not None and "terminated" in record.status_reason
        db_record = await stack.registry.get_direct_bill(pga, "JP")
        assert db_record is not None and db_record.status is DirectBillRegistryStatus.TERMINATED
        # The running pipeline is untouched.
        untouched = await stack.registry.get_reseller(jp)
        assert untouched is not None and untouched.status is ResellerStatus.ENROLLING
        assert (await status(running)).stage is EnrollmentStage.EMAIL_VERIFICATION
        # Operations are told, once.
        messages = await stack.sink.wait_for_messages(mails_before + 1, timeout_seconds=30)
        report = messages[-1]
        assert str(report["To"]) == "ops@csp.example"
        text = report.get_body(("plain",))
        assert text is not None
        assert terminated_id in text.get_content()
        assert db_id in text.get_content()

        # A second pass finds nothing new to record and mails nobody.
        again = await client.execute_workflow(
            names.PIPELINE_RECONCILER,
            id=f"{reconciler_id}-again",
            task_queue=names.TASK_QUEUE,
            result_type=ReconcileSummary,
        )
        assert (again.checked, again.reconciled) == (1, ())
        assert len(subjects(stack.sink)) == mails_before + 1

        # A new start for the partner is judged by the recorded state: allowed.
        restarted = await start_enrollment(
            client,
            terminated_id,
            application(partner_id=unsigned, tenant_id=str(UNSIGNED_TENANT)),
        )
        await _at_stage(restarted, EnrollmentStage.EMAIL_VERIFICATION)
        for handle in (restarted, running):
            await handle.terminate("test over")


async def test_terminated_relationship_pipelines_are_reconciled_and_judge_new_starts(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    """Partnerships, customer invitations and subscription orders: each terminated while it
    waits (the Web UI's Terminate, the same client call), then the reconciler records the real
    closure on its registry row and reports it; a new start reads the recorded state."""
    await prepare(stack, partnerships=(RESELLER,))
    # UNSIGNED_RESELLER signs the MPA here, so it may ask for a partnership (REL-01, MPA-02).
    stack.edit_partner_center(
        lambda data: data["agreements"].update({UNSIGNED_RESELLER: {"isAgreementSigned": True}})
    )
    # The order's customer accepted a joint invitation (through another reseller), not the MCA.
    await _customer(stack, mca=False, reseller=US_RESELLER)
    order = order_request(order_ref=f"PO-RECONCILE-{uuid.uuid4().hex[:6].upper()}")
    client = dev_env.client
    async with stack.worker(client):
        partnership = await start_partnership(
            client, partnership_request(reseller_partner_id=UNSIGNED_RESELLER)
        )
        invitation = await start_invitation(client, invitation_request())
        placing = await start_order(client, order)
        await wait_for_stage(partnership, PartnershipStage.AWAITING_ACCEPTANCE, PartnershipStatus)
        await wait_for_stage(
            invitation, CustomerInvitationStage.AWAITING_ACCEPTANCE, CustomerInvitationStatus
        )
        await wait_for_stage(placing, OrderStage.AWAITING_CUSTOMER_AGREEMENT, OrderStatus)
        await eventually(
            lambda: stack.registry.get_order(PROVIDER, order["order_ref"]),
            lambda r: r is not None and r.status is OrderStage.AWAITING_CUSTOMER_AGREEMENT,
        )
        await eventually(
            lambda: stack.registry.get_customer_relationship(RESELLER, str(CUSTOMER)),
            lambda r: r is not None and r.status is CustomerInvitationStage.AWAITING_ACCEPTANCE,
        )
        await eventually(
            lambda: stack.registry.get_partnership(PROVIDER, UNSIGNED_RESELLER),
            lambda r: r is not None and r.status is PartnershipStage.AWAITING_ACCEPTANCE,
        )
        for handle in (partnership, invitation, placing):
            await handle.terminate("operator pressed Terminate")
        mails_before = len(stack.sink.messages())

        summary = await client.execute_workflow(
            names.PIPELINE_RECONCILER,
            id=f"{names.RECONCILER_WORKFLOW_ID}-relationships-{uuid.uuid4().hex[:6]}",
            task_queue=names.TASK_QUEUE,
            result_type=ReconcileSummary,
        )
        found = {c.record.kind: c for c in summary.reconciled}
        assert sorted(found) == ["customer_invitation", "partnership", "subscription_order"]
        assert all(c.closure is PipelineClosure.TERMINATED for c in found.values())
        assert found["partnership"].record.workflow_id == partnership.id
        assert found["customer_invitation"].record.workflow_id == invitation.id
        assert found["subscription_order"].record.workflow_id == placing.id

        ended = await stack.registry.get_partnership(PROVIDER, UNSIGNED_RESELLER)
        assert ended is not None and ended.status is PartnershipStage.TERMINATED
        assert ended.status_reason is not None
        assert "terminated in Temporal while awaiting_acceptance" in ended.status_reason
        assert ended.ended_at is not None
        invited = await stack.registry.get_customer_relationship(RESELLER, str(CUSTOMER))
        assert invited is not None and invited.status is CustomerInvitationStage.TERMINATED
        ordered = await stack.registry.get_order(PROVIDER, order["order_ref"])
        assert ordered is not None and ordered.status is OrderStage.TERMINATED
        assert ordered.status_reason is not None
        assert "while awaiting_customer_agreement" in ordered.status_reason
        # The active partnership and the accepted relationship the order used are left alone.
        kept = await stack.registry.get_partnership(PROVIDER, RESELLER)
        assert kept is not None and kept.status is PartnershipStage.ACTIVE

        messages = await stack.sink.wait_for_messages(mails_before + 1, timeout_seconds=30)
        [report] = messages[mails_before:]
        assert str(report["To"]) == "ops@csp.example"
        text = report.get_body(("plain",))
        assert text is not None
        content = text.get_content()
        for handle in (partnership, invitation, placing):
            assert handle.id in content
        assert f"partnership {PROVIDER} reseller {UNSIGNED_RESELLER}" in content
        assert f"order {order['order_ref']}" in content

        # New starts read the recorded state. A joint invitation through the terminated
        # partnership is refused, naming the recorded state...
        refused = await start_invitation(
            client, invitation_request(reseller_partner_id=UNSIGNED_RESELLER)
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await refused.result()
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == "PartnershipNotActive"
        assert "its partnership is terminated" in cause.message
        # ...and the partnership may be asked for again under its business key.
        again = await start_partnership(
            client, partnership_request(reseller_partner_id=UNSIGNED_RESELLER)
        )
        await wait_for_stage(again, PartnershipStage.AWAITING_ACCEPTANCE, PartnershipStatus)
        renewed = await eventually(
            lambda: stack.registry.get_partnership(PROVIDER, UNSIGNED_RESELLER),
            lambda r: r is not None and r.status is PartnershipStage.AWAITING_ACCEPTANCE,
        )
        assert renewed is not None and renewed.ended_at is None
        await again.terminate("test over")


async def test_terminated_provider_operations_are_reconciled(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The same for the provider operations that keep a registry row: a subscription's reseller
    waiting for a Partner of Record fix and a reseller's exit waiting for its Support case."""
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    await customer_of_provider(stack)
    client = dev_env.client
    async with stack.worker(client):
        naming = await start_subscription_reseller(
            client, subscription_reseller_request(partner_of_record=ENTERED)
        )
        leaving = await start_reseller_exit(client, reseller_exit_request())
        await wait_for_stage(
            naming, SubscriptionResellerStage.POR_INVALID, SubscriptionResellerStatus
        )
        await wait_for_stage(leaving, ResellerExitStage.AWAITING_SUPPORT_CASE, ResellerExitStatus)
        await eventually(
            lambda: stack.registry.get_subscription_reseller(str(CUSTOMER), SUBSCRIPTION),
            lambda r: r is not None and r.status is SubscriptionResellerStage.POR_INVALID,
        )
        await eventually(
            lambda: stack.registry.get_reseller_exit(RESELLER, PROVIDER),
            lambda r: r is not None and r.status is ResellerExitStage.AWAITING_SUPPORT_CASE,
        )
        for handle in (naming, leaving):
            await handle.terminate("operator pressed Terminate")
        mails_before = len(stack.sink.messages())

        summary = await client.execute_workflow(
            names.PIPELINE_RECONCILER,
            id=f"{names.RECONCILER_WORKFLOW_ID}-operations-{uuid.uuid4().hex[:6]}",
            task_queue=names.TASK_QUEUE,
            result_type=ReconcileSummary,
        )
        assert sorted((c.record.kind, c.record.workflow_id) for c in summary.reconciled) == [
            ("reseller_exit", leaving.id),
            ("subscription_reseller", naming.id),
        ]
        named = await stack.registry.get_subscription_reseller(str(CUSTOMER), SUBSCRIPTION)
        assert named is not None and named.status is SubscriptionResellerStage.TERMINATED
        assert named.status_reason is not None and "while por_invalid" in named.status_reason
        exited = await stack.registry.get_reseller_exit(RESELLER, PROVIDER)
        assert exited is not None and exited.status is ResellerExitStage.TERMINATED
        assert exited.outcome_note is not None
        assert "terminated in Temporal while awaiting_support_case" in exited.outcome_note
        messages = await stack.sink.wait_for_messages(mails_before + 1, timeout_seconds=30)
        [report] = messages[mails_before:]
        assert str(report["To"]) == "ops@csp.example"
        text = report.get_body(("plain",))
        assert text is not None
        assert f"subscription {SUBSCRIPTION}" in text.get_content()
        assert f"reseller_exit {RESELLER} provider {PROVIDER}" in text.get_content()

        # The recorded state lets the reseller ask to leave again.
        again = await start_reseller_exit(client, reseller_exit_request())
        await wait_for_stage(again, ResellerExitStage.AWAITING_SUPPORT_CASE, ResellerExitStatus)
        await eventually(
            lambda: stack.registry.get_reseller_exit(RESELLER, PROVIDER),
            lambda r: r is not None and r.status is ResellerExitStage.AWAITING_SUPPORT_CASE,
        )
        await again.terminate("test over")
