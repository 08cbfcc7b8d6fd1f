"""Records the replay histories in `tests/histories/` from real runs on the Temporal dev server.

    .venv/bin/python -m tests.record_histories              # every scenario
    .venv/bin/python -m tests.record_histories withdrawn    # only the ones named

Each scenario runs the production worker (`worker.open_dependencies` + `build_worker`) on a fresh
dev server with a real SMTP sink, a SQLite registry and a local Partner Center file, drives one
pipeline the way its callers do (verification link, backend updates, timers), and writes the
history of every workflow of that run (the pipeline and its children) as
`WorkflowHistory.to_json()` to `tests/histories/<workflow type>.<scenario>.json`.
`tests/test_replay.py` replays every file of the folder with the production data converter and
sandbox on every test run.

A history records a released version of a workflow: when a change makes an existing history fail
to replay, running pipelines would fail the same way. Keep the history and guard the change with
`workflow.patched(...)`; record again only for a change that never ran in production. A new
pipeline adds its scenarios to `SCENARIOS` below, with a setup in `SETUPS` when it needs Partner
Center data or registry records the enrollment data lacks (or saves histories its own way: any file
that `WorkflowHistory.from_json` reads, such as a history downloaded from the Web UI, is replayed).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import SmtpSink
from adapters.partner_center.local import LocalPartnerCenter
from adapters.registry.sql import SqlPartnerRegistry
from contract import names
from domain.direct_bill import DirectBillStage
from domain.gdap_restoration import GdapRestorationStatus
from domain.messages import Acknowledgement, Withdrawal
from domain.por_sweep import PorSweepRequest, PorSweepSummary
from domain.provider_operations import (
    OperationStage,
    SubscriptionResellerStage,
    SubscriptionResellerStatus,
)
from domain.reassessment import (
    ReassessmentStage,
    ReassessmentStatus,
    SweepRequest,
    SweepSummary,
)
from domain.reconciliation import ReconcileSummary
from domain.relationships import (
    CustomerInvitationStage,
    CustomerInvitationStatus,
    OrderStage,
    PartnershipStage,
    PartnershipStatus,
)
from domain.reseller_enrollment import EnrollmentResult, EnrollmentStage
from domain.reseller_exit import ResellerExitStage, ResellerExitStatus
from runtime.binaries import temporal_cli
from runtime.settings import Settings
from runtime.temporal_client import DATA_CONVERTER
from tests.conftest import (
    DB_PGA,
    JP_PARTNER,
    TOKEN_SECRET,
    Stack,
    application,
    free_port,
    partner_center_data,
    partner_programs_data,
)
from tests.direct_bill_driver import (
    db_application,
    start_direct_bill,
    through_activation,
)
from tests.enrollment_driver import decide, latest_token, start_enrollment, status, verify
from tests.reassessment_fixtures import renewal_payload
from tests.relationship_driver import (
    CUSTOMER,
    NOT_ENROLLED,
    RESELLER,
    agreement,
    attestations,
    customer_of_provider,
    invitation_request,
    order_request,
    partnered_in_partner_center,
    partnership_request,
    prepare,
    reseller_customer_request,
    reseller_exit_request,
    start_invitation,
    start_order,
    start_partnership,
    start_reseller_customer,
    start_reseller_exit,
    start_subscription_reseller,
    start_support_contact,
    subscription_reseller_request,
    support_contact_request,
    update,
    wait_for_stage,
)
from tests.test_direct_bill_rules import questionnaire
from worker import build_worker, open_dependencies

HISTORIES = Path(__file__).resolve().parent / "histories"
PASSING_SCORE = {"passed": True, "decided_by": "microsoft-partner-assessment", "score": "82/100"}

# Short review timers so the abandoned run ends in seconds: reminders every 2 s, deadline 5 s.
REVIEW_REMINDER_DAYS = 2 / 86400
REVIEW_DEADLINE_DAYS = 5 / 86400

Scenario = Callable[[Client, SmtpSink], Awaitable[list[str]]]
"""Drives one run to its end; returns the ids of the workflows whose histories to keep."""

Setup = Callable[[Stack], Awaitable[None]]
"""Puts a scenario's Partner Center data and registry records in place before the worker starts
(on top of `partner_center_data()` and an empty registry)."""


async def _wait_stage(client: Client, workflow_id: str, stage: EnrollmentStage) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(300):
        if (await status(handle)).stage is stage:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{workflow_id} never reached {stage.value}")


async def _expect(client: Client, workflow_id: str, outcome: EnrollmentStage) -> None:
    result = await client.get_workflow_handle(workflow_id, result_type=EnrollmentResult).result()
    if result.outcome is not outcome:
        raise AssertionError(f"{workflow_id} ended {result.outcome.value}, not {outcome.value}")


async def active(client: Client, sink: SmtpSink) -> list[str]:
    """The full pipeline: link opened, review approved, Admin agent set up, MPA signed."""
    workflow_id = names.reseller_enrollment_id(JP_PARTNER)
    handle = await start_enrollment(client, workflow_id, application())
    await verify(client, workflow_id, await latest_token(sink, 1))
    await _wait_stage(client, workflow_id, EnrollmentStage.REVIEW)
    await decide(handle, "approve")
    await _expect(client, workflow_id, EnrollmentStage.ACTIVE)
    return [workflow_id, names.email_verification_id(workflow_id)]


async def abandoned(client: Client, sink: SmtpSink) -> list[str]:
    """Verified, then no review decision before the review deadline (reminders on the way)."""
    workflow_id = names.reseller_enrollment_id(JP_PARTNER)
    await start_enrollment(client, workflow_id, application())
    await verify(client, workflow_id, await latest_token(sink, 1))
    await _expect(client, workflow_id, EnrollmentStage.ABANDONED)
    return [workflow_id, names.email_verification_id(workflow_id)]


async def withdrawn(client: Client, sink: SmtpSink) -> list[str]:
    """Withdrawn while the link is unopened: the verification child is cancelled."""
    workflow_id = names.reseller_enrollment_id(JP_PARTNER)
    handle = await start_enrollment(client, workflow_id, application())
    await latest_token(sink, 1)
    await handle.execute_update(
        names.UPDATE_WITHDRAW,
        Withdrawal(reason="applied by mistake", requested_by="ops@csp"),
    )
    await _expect(client, workflow_id, EnrollmentStage.WITHDRAWN)
    return [workflow_id, names.email_verification_id(workflow_id)]


async def _direct_bill_to_active(client: Client) -> str:
    workflow_id = names.direct_bill_id(DB_PGA, "JP")
    handle = await start_direct_bill(client, workflow_id, db_application())
    await through_activation(client, handle)
    result = await handle.result()
    if result.outcome is not DirectBillStage.ACTIVE:
        raise AssertionError(f"{workflow_id} ended {result.outcome.value}")
    return workflow_id


async def direct_bill_active(client: Client, sink: SmtpSink) -> list[str]:
    """A direct-bill application driven by every backend update to an activated tenant."""
    workflow_id = await _direct_bill_to_active(client)
    return [workflow_id, names.credit_review_id(workflow_id)]


async def _start_sweep(client: Client, month: date) -> WorkflowHandle[Any, SweepSummary]:
    return await client.start_workflow(
        names.REASSESSMENT_SWEEP,
        SweepRequest(month=month),
        id=f"{names.SWEEP_WORKFLOW_ID}-{month:%Y-%m}",
        task_queue=names.TASK_QUEUE,
        result_type=SweepSummary,
    )


async def security_revalidation(client: Client, sink: SmtpSink) -> list[str]:
    """The partner activated above is due for its security re-validation in its onboarding
    anniversary month (January): a sweep for that month re-validates it without human input."""
    await _direct_bill_to_active(client)
    month = date(2027, 1, 1)
    sweep = await _start_sweep(client, month)
    summary = await sweep.result()
    if (summary.started, summary.passed) != (1, 1):
        raise AssertionError(f"unexpected sweep summary {summary}")
    partner = names.reassessment_id(DB_PGA, "JP", month.year, security_only=True)
    return [sweep.id, partner]


async def _reassessment_stage(client: Client, workflow_id: str, stage: ReassessmentStage) -> None:
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(300):
        try:
            current = await handle.query(names.QUERY_STATUS, result_type=ReassessmentStatus)
        except RPCError:  # not started yet
            current = None
        if current is not None and current.stage is stage:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{workflow_id} never reached {stage.value}")


async def reassessment_passed(client: Client, sink: SmtpSink) -> list[str]:
    """The partner activated above is due in its support-plan renewal month (June): the
    questionnaire is answered, Microsoft's passing-score notice and the renewed plan reported."""
    await _direct_bill_to_active(client)
    month = date(2027, 6, 1)
    sweep = await _start_sweep(client, month)
    partner = names.reassessment_id(DB_PGA, "JP", month.year)
    handle = client.get_workflow_handle(partner)
    steps = [
        (ReassessmentStage.QUESTIONNAIRE, names.UPDATE_SUBMIT_REASSESSMENT, questionnaire()),
        (ReassessmentStage.SCORE_NOTICE, names.UPDATE_REPORT_PASSING_SCORE, PASSING_SCORE),
        (ReassessmentStage.PLAN_RENEWAL, names.UPDATE_REPORT_PLAN_RENEWAL, renewal_payload(month)),
    ]
    for stage, update_name, payload in steps:
        await _reassessment_stage(client, partner, stage)
        await handle.execute_update(update_name, payload)
    summary = await sweep.result()
    if (summary.started, summary.passed) != (1, 1):
        raise AssertionError(f"unexpected sweep summary {summary}")
    return [sweep.id, partner]


async def partnership_removed(client: Client, sink: SmtpSink) -> list[str]:
    """Requested by the provider's Admin agent, accepted by the reseller, then removed by an Admin
    agent with the four attestations (an active partnership stays open until it ends)."""
    handle = await start_partnership(client, partnership_request())
    await wait_for_stage(handle, PartnershipStage.AWAITING_ACCEPTANCE, PartnershipStatus)
    await update(
        handle,
        names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
        {"reported_by": "reseller-success-team"},
        Acknowledgement,
    )
    await wait_for_stage(handle, PartnershipStage.ACTIVE, PartnershipStatus)
    await update(
        handle,
        names.UPDATE_REMOVE_PARTNERSHIP,
        {
            "requested_by": {"user": "admin@tokyo-cloud.example", "role": "admin_agent"},
            "reason": "end of the pilot",
            "attestations": attestations(),
        },
        Acknowledgement,
    )
    result = await handle.result()
    if result.outcome is not PartnershipStage.REMOVED:
        raise AssertionError(f"{handle.id} ended {result.outcome.value}")
    return [handle.id]


async def _invitation_to_active(client: Client) -> str:
    handle = await start_invitation(client, invitation_request())
    await wait_for_stage(
        handle, CustomerInvitationStage.AWAITING_ACCEPTANCE, CustomerInvitationStatus
    )
    await update(
        handle,
        names.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED,
        {"customer_tenant_id": str(CUSTOMER), "reported_by": "pc-webhook"},
        Acknowledgement,
    )
    await wait_for_stage(
        handle, CustomerInvitationStage.AWAITING_CUSTOMER_AGREEMENT, CustomerInvitationStatus
    )
    await update(handle, names.UPDATE_ATTEST_CUSTOMER_AGREEMENT, agreement(), Acknowledgement)
    result = await handle.result()
    if result.outcome is not CustomerInvitationStage.ACTIVE:
        raise AssertionError(f"{handle.id} ended {result.outcome.value}")
    return handle.id


async def customer_invitation_active(client: Client, sink: SmtpSink) -> list[str]:
    """A joint invitation within an active partnership: the customer accepts (the webhook's
    update), then its Microsoft Customer Agreement acceptance is attested."""
    return [await _invitation_to_active(client)]


async def order_placed(client: Client, sink: SmtpSink) -> list[str]:
    """The customer invited above is ordered for by the provider with a valid Partner of Record."""
    await _invitation_to_active(client)
    handle = await start_order(client, order_request())
    result = await handle.result()
    if result.outcome is not OrderStage.PLACED or result.partner_of_record != RESELLER:
        raise AssertionError(f"{handle.id} ended {result.outcome.value}")
    return [handle.id]


async def cancelled(client: Client, sink: SmtpSink) -> list[str]:
    """Verified, then Request Cancellation (the Web UI's button) in review (issue 18)."""
    workflow_id = names.reseller_enrollment_id(JP_PARTNER)
    handle = await start_enrollment(client, workflow_id, application())
    await verify(client, workflow_id, await latest_token(sink, 1))
    await _wait_stage(client, workflow_id, EnrollmentStage.REVIEW)
    await handle.cancel()
    for _ in range(300):
        if (await handle.describe()).status is WorkflowExecutionStatus.CANCELED:
            return [workflow_id, names.email_verification_id(workflow_id)]
        await asyncio.sleep(0.1)
    raise TimeoutError(f"{workflow_id} was never cancelled")


async def decided_by_signal(client: Client, sink: SmtpSink) -> list[str]:
    """The review decision sent as a signal (a refused one first), then active (issue 18)."""
    workflow_id = names.reseller_enrollment_id(JP_PARTNER)
    handle = await start_enrollment(client, workflow_id, application())
    await verify(client, workflow_id, await latest_token(sink, 1))
    await _wait_stage(client, workflow_id, EnrollmentStage.REVIEW)
    decision = {"decision": "approve", "decided_by": "review-backend"}
    await handle.signal(names.UPDATE_DECIDE_REVIEW, decision)  # no delivery id: refused
    await handle.signal(names.UPDATE_DECIDE_REVIEW, {**decision, "delivery_id": "review-1"})
    await _expect(client, workflow_id, EnrollmentStage.ACTIVE)
    return [workflow_id]


async def _partnership_active(stack: Stack) -> None:
    await prepare(stack, partnerships=(RESELLER,))


# ---- issue 14: provider operations, subscription reseller, reseller exit, GDAP restoration ----


async def _provider_operations_ready(stack: Stack) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    await customer_of_provider(stack)


async def _reseller_customers(stack: Stack) -> None:
    await prepare(stack)
    await customer_of_provider(stack)


async def provider_operations_done(client: Client, sink: SmtpSink) -> list[str]:
    """A customer added for the partnered reseller, then the reseller made the support contact
    of the existing customer's subscription."""
    created = await start_reseller_customer(client, reseller_customer_request())
    contact = await start_support_contact(client, support_contact_request())
    for handle in (created, contact):
        result = await handle.result()
        if result.outcome is not OperationStage.DONE:
            raise AssertionError(f"{handle.id} ended {result.outcome.value}")
    return [created.id, contact.id]


async def subscription_reseller_fixed(client: Client, sink: SmtpSink) -> list[str]:
    """A typed-in PartnerID Partner Center does not know blocks; the right one is set."""
    handle = await start_subscription_reseller(
        client, subscription_reseller_request(partner_of_record="9876543")
    )
    await wait_for_stage(handle, SubscriptionResellerStage.POR_INVALID, SubscriptionResellerStatus)
    await update(
        handle,
        names.UPDATE_FIX_PARTNER_OF_RECORD,
        {"partner_of_record": RESELLER, "fixed_by": {"user": "sales", "role": "sales_agent"}},
        Acknowledgement,
    )
    result = await handle.result()
    if result.outcome is not SubscriptionResellerStage.UPDATED:
        raise AssertionError(f"{handle.id} ended {result.outcome.value}")
    return [handle.id]


async def reseller_exit_ended(client: Client, sink: SmtpSink) -> list[str]:
    """The reseller asks Support to end the relationship; the case and its outcome arrive."""
    handle = await start_reseller_exit(client, reseller_exit_request())
    await wait_for_stage(handle, ResellerExitStage.AWAITING_SUPPORT_CASE, ResellerExitStatus)
    await update(
        handle,
        names.UPDATE_RECORD_SUPPORT_CASE,
        {
            "case_reference": "2611300010001234",
            "opened_at": "2026-01-10T02:00:00Z",
            "reported_by": "reseller-success",
        },
        Acknowledgement,
    )
    await wait_for_stage(handle, ResellerExitStage.AWAITING_OUTCOME, ResellerExitStatus)
    await update(
        handle,
        names.UPDATE_REPORT_SUPPORT_OUTCOME,
        {"outcome": "ended", "reported_by": "reseller-success"},
        Acknowledgement,
    )
    result = await handle.result()
    if result.outcome is not ResellerExitStage.ENDED:
        raise AssertionError(f"{handle.id} ended {result.outcome.value}")
    return [handle.id]


async def gdap_restored(client: Client, sink: SmtpSink) -> list[str]:
    """A partnership whose reseller is suspended then reinstated (which starts GdapRestoration);
    the customer's delegated admin is reported re-granted; the partnership is then removed."""
    partnership = await start_partnership(client, partnership_request())
    await wait_for_stage(partnership, PartnershipStage.AWAITING_ACCEPTANCE, PartnershipStatus)
    await update(
        partnership,
        names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
        {"reported_by": "reseller-success-team"},
        Acknowledgement,
    )
    await wait_for_stage(partnership, PartnershipStage.ACTIVE, PartnershipStatus)
    await update(
        partnership,
        names.UPDATE_REPORT_RESELLER_SUSPENDED,
        {"reported_by": "pc-webhook", "reason": "non-payment"},
        Acknowledgement,
    )
    await update(
        partnership,
        names.UPDATE_REPORT_RESELLER_REINSTATED,
        {"reported_by": "pc-webhook", "reason": "paid", "at": "2026-03-01T09:00:00Z"},
        Acknowledgement,
    )
    restoration = client.get_workflow_handle(names.gdap_restoration_id(RESELLER, "20260301090000"))
    for _ in range(200):
        try:
            status = await restoration.query(names.QUERY_STATUS, result_type=GdapRestorationStatus)
            if status.deadline is not None:
                break
        except Exception:  # not started yet
            pass
        await asyncio.sleep(0.05)
    await update(
        restoration,
        names.UPDATE_REPORT_GDAP_REGRANTED,
        {"customer_tenant_id": str(CUSTOMER), "reported_by": "ops"},
        Acknowledgement,
    )
    await restoration.result()
    await update(
        partnership,
        names.UPDATE_REMOVE_PARTNERSHIP,
        {
            "requested_by": {"user": "admin@tokyo-cloud.example", "role": "admin_agent"},
            "reason": "end of the pilot",
            "attestations": attestations(),
        },
        Acknowledgement,
    )
    await partnership.result()
    return [partnership.id, restoration.id]


async def partnership_reinstated(client: Client, sink: SmtpSink) -> list[str]:
    """Suspended, reinstated, removed. Recorded with the partnership workflow as released before
    issue 14 (main 192c5dd), so its replay proves the `por04-gdap-restoration` guard: a run
    recorded without the GdapRestoration child still replays. Re-recorded with today's code it
    would include the child start."""
    partnership = await start_partnership(client, partnership_request())
    await wait_for_stage(partnership, PartnershipStage.AWAITING_ACCEPTANCE, PartnershipStatus)
    await update(
        partnership,
        names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
        {"reported_by": "reseller-success-team"},
        Acknowledgement,
    )
    await wait_for_stage(partnership, PartnershipStage.ACTIVE, PartnershipStatus)
    await update(
        partnership,
        names.UPDATE_REPORT_RESELLER_SUSPENDED,
        {"reported_by": "pc-webhook", "reason": "non-payment"},
        Acknowledgement,
    )
    await update(
        partnership,
        names.UPDATE_REPORT_RESELLER_REINSTATED,
        {"reported_by": "pc-webhook", "reason": "paid", "at": "2026-03-01T09:00:00Z"},
        Acknowledgement,
    )
    await update(
        partnership,
        names.UPDATE_REMOVE_PARTNERSHIP,
        {
            "requested_by": {"user": "admin@tokyo-cloud.example", "role": "admin_agent"},
            "reason": "end of the pilot",
            "attestations": attestations(),
        },
        Acknowledgement,
    )
    await partnership.result()
    return [partnership.id]


async def _two_partnerships(stack: Stack) -> None:
    """A valid reseller and one Partner Center knows only as a profile (800016)."""
    await prepare(stack, partnerships=(RESELLER, NOT_ENROLLED))


async def por_sweep_reported(client: Client, sink: SmtpSink) -> list[str]:
    """REL-07: the POR sweep as its Schedule starts it (`{}`) checks both partnerships' resellers
    and reports the invalid one to operations."""
    sweep = await client.start_workflow(
        names.POR_SWEEP,
        PorSweepRequest().model_dump(mode="json", exclude_defaults=True),
        id=names.POR_SWEEP_WORKFLOW_ID,
        task_queue=names.TASK_QUEUE,
        result_type=PorSweepSummary,
    )
    summary = await sweep.result()
    if (summary.checked, summary.invalid) != (2, 1):
        raise AssertionError(f"unexpected POR sweep summary {summary}")
    return [sweep.id]


async def pipelines_reconciled(client: Client, sink: SmtpSink) -> list[str]:
    """Issue 18: an enrollment terminated in the Web UI while its link is unopened (no workflow
    code runs, the registry row still says enrolling); the reconciler records the closure and
    tells operations."""
    workflow_id = names.reseller_enrollment_id(JP_PARTNER)
    handle = await start_enrollment(client, workflow_id, application())
    await latest_token(sink, 1)
    await handle.terminate("operator pressed Terminate")
    summary = await client.execute_workflow(
        names.PIPELINE_RECONCILER,
        id=names.RECONCILER_WORKFLOW_ID,
        task_queue=names.TASK_QUEUE,
        result_type=ReconcileSummary,
    )
    if [c.record.workflow_id for c in summary.reconciled] != [workflow_id]:
        raise AssertionError(f"unexpected reconciler summary {summary}")
    return [names.RECONCILER_WORKFLOW_ID]


SCENARIOS: dict[str, Scenario] = {
    "active": active,
    "abandoned": abandoned,
    "withdrawn": withdrawn,
    "cancelled": cancelled,
    "decided-by-signal": decided_by_signal,
    "direct-bill-active": direct_bill_active,
    "security-revalidation": security_revalidation,
    "partnership-removed": partnership_removed,
    "customer-invitation-active": customer_invitation_active,
    "order-placed": order_placed,
    "provider-operations-done": provider_operations_done,
    "subscription-reseller-fixed": subscription_reseller_fixed,
    "reseller-exit-ended": reseller_exit_ended,
    "gdap-restored": gdap_restored,
    "partnership-reinstated": partnership_reinstated,
    "por-sweep-reported": por_sweep_reported,
    "pipelines-reconciled": pipelines_reconciled,
    # RA-01 in the renewal month: questionnaire, score notice, plan renewal. Recorded with the
    # release before the questionnaire's month end counted in the business time zone (no patch
    # marker: it replays with the UTC month end), and after it (the patch's marker).
    "reassessment-passed": reassessment_passed,
    "zone-month-end-reassessment-passed": reassessment_passed,
    # Issue 17: the same runs recorded after the `lean-lookups` patch (reads as local activities),
    # beside the histories recorded before it, which keep replaying the old shape.
    "lean-lookups-active": active,
    "lean-lookups-direct-bill-active": direct_bill_active,
    # After `lean-steps` (the registry record as a local activity, the approval mailed alongside
    # the Admin agent step).
    "lean-steps-active": active,
    # The passing security re-validation after `lean-steps` (the status change as a local
    # activity, the partner and the outcome shown in one upsert); the sweep's history with it.
    "lean-steps-security-revalidation": security_revalidation,
    # The same, started lean by the sweep (the `lean_steps` memo): no patch marker.
    "started-lean-security-revalidation": security_revalidation,
}

SETUPS: dict[str, Setup] = {
    # The provider, its indirect resellers and the customer (`tests.relationship_driver`).
    "partnership-removed": prepare,
    # The same, with the provider's partnership with the reseller already active.
    "customer-invitation-active": _partnership_active,
    "order-placed": _partnership_active,
    "provider-operations-done": _provider_operations_ready,
    "subscription-reseller-fixed": _provider_operations_ready,
    "reseller-exit-ended": _partnership_active,
    "gdap-restored": _reseller_customers,
    "partnership-reinstated": _reseller_customers,
    "por-sweep-reported": _two_partnerships,
}
"""The scenarios that need more than the enrollment data; the others start from it alone."""


async def _record(name: str, scenario: Scenario, folder: Path) -> list[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        data_file = state / "partner-center.json"
        data_file.write_text(json.dumps(partner_center_data()))
        programs_file = state / "partner-programs.json"
        programs_file.write_text(json.dumps(partner_programs_data()))
        env = await WorkflowEnvironment.start_local(
            data_converter=DATA_CONVERTER,
            dev_server_existing_path=temporal_cli(),
            ip="127.0.0.1",
            port=free_port(),
            search_attributes=names.SEARCH_ATTRIBUTES,
            dev_server_log_level="error",
        )
        try:
            async with SmtpSink(state / "mail", host="127.0.0.1", port=0) as sink:
                settings = Settings(
                    state_dir=state,
                    smtp_host="127.0.0.1",
                    smtp_port=sink.port,
                    token_secrets=TOKEN_SECRET,
                    partner_center_data=data_file,
                    partner_programs_data=programs_file,
                    operations_email="ops@csp.example",
                    review_reminder_days=REVIEW_REMINDER_DAYS,
                    review_deadline_days=REVIEW_DEADLINE_DAYS,
                )
                setup = SETUPS.get(name)
                if setup is not None:
                    registry = await SqlPartnerRegistry.open(settings.registry_database_url)
                    try:
                        await setup(
                            Stack(
                                settings,
                                sink,
                                registry,
                                LocalPartnerCenter(data_file),
                                data_file,
                                programs_file,
                            )
                        )
                    finally:
                        await registry.close()
                async with (
                    open_dependencies(settings) as deps,
                    build_worker(env.client, deps, settings),
                ):
                    workflow_ids = await asyncio.wait_for(scenario(env.client, sink), 120)
            written = []
            for workflow_id in workflow_ids:
                handle = env.client.get_workflow_handle(workflow_id)
                described = await handle.describe()
                if described.status is WorkflowExecutionStatus.RUNNING:
                    raise AssertionError(f"{workflow_id} is still running: record closed runs")
                history = await handle.fetch_history()
                path = folder / f"{described.workflow_type}.{name}.json"
                path.write_text(history.to_json() + "\n")
                written.append(path)
            return written
        finally:
            await env.shutdown()


async def _main(names: list[str]) -> None:
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise SystemExit(f"unknown scenario(s) {sorted(unknown)}; known: {sorted(SCENARIOS)}")
    HISTORIES.mkdir(exist_ok=True)
    for name in names or list(SCENARIOS):
        for path in await _record(name, SCENARIOS[name], HISTORIES):
            print(f"recorded {path.relative_to(HISTORIES.parent.parent)}")


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1:]))
