"""Terminate runs no workflow code: the scheduled `PipelineReconciler` finds registry rows whose
pipeline Temporal closed without an outcome, records the real closure and tells operations; a new
start is then judged by the recorded state (issue 18). On the real dev server."""

from __future__ import annotations

import uuid

from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.direct_bill import DirectBillApplication, DirectBillRegistryStatus, DirectBillStage
from domain.reconciliation import PipelineClosure, ReconcileSummary
from domain.reseller_enrollment import EnrollmentStage, ResellerStatus
from tests.conftest import UNSIGNED_TENANT, Stack, application, new_partner
from tests.direct_bill_driver import db_application, new_pga, wait_stage
from tests.enrollment_driver import latest_token, start_enrollment, status, subjects
from tests.test_operator_actions_devserver import _at_stage


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
