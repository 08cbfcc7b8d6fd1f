"""An operator with only the Temporal Web UI (issue 18), in Debian's headless Chromium driven over
the DevTools protocol (tests/chromium_cdp.py) against the embedded default, the dev server with
its Web UI: Request Cancellation, Terminate, Reset and Send a Signal pressed on running reseller
enrollments, found by their visible labels. After each, the registry row, the emails in the sink
and the search attributes (read through the client) tell the truth."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType, WorkflowExecutionStatus
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contract import names
from contract.activities.notifications import SEND_EMAIL
from domain.reconciliation import PipelineClosure, ReconcileSummary
from domain.reseller_enrollment import EnrollmentStage, ResellerStatus
from tests.chromium_cdp import CHROMIUM, Chromium, Page
from tests.conftest import Stack, application
from tests.enrollment_driver import latest_token, start_enrollment, verify
from tests.test_browser import ui_env  # noqa: F401  (the dev server with its Web UI)
from tests.test_callbacks import new_partner
from tests.test_operator_actions_devserver import _at_stage, _eventually

pytestmark = [
    pytest.mark.devserver,
    pytest.mark.timeout(240),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium on PATH: .ci/run installs Debian's package "
        "(apt-get install chromium fonts-ipafont-gothic)",
    ),
]

UNDER_REVIEW = "Your CSP reseller enrollment is under review"
APPROVED = "Your CSP reseller enrollment is approved"
SIGN_MPA = "Action needed: sign the Microsoft Partner Agreement"
CANCELLED = "Your CSP reseller enrollment was cancelled"


@contextlib.asynccontextmanager
async def workflow_page(
    browser: Chromium, ui_port: int, handle: WorkflowHandle[Any, Any]
) -> AsyncIterator[Page]:
    """The workflow's page in the Web UI, its action buttons ready."""
    run_id = (await handle.describe()).run_id
    page = await browser.new_page()
    await page.goto(
        f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{handle.id}/{run_id}/history"
    )
    await page.wait_for_text("Request Cancellation", seconds=60)
    try:
        yield page
    finally:
        await page.send("Page.close")


async def _enrollment_at(
    client: Client, stack: Stack, stage: EnrollmentStage
) -> tuple[str, WorkflowHandle[Any, Any]]:
    """A fresh partner's enrollment, under its business key, waiting at `stage`."""
    partner_id = new_partner(stack, mpa_signed=False)
    workflow_id = names.reseller_enrollment_id(partner_id)
    before = len(stack.sink.messages())
    handle = await start_enrollment(client, workflow_id, application(partner_id=partner_id))
    token = await latest_token(stack.sink, before + 1)
    if stage is EnrollmentStage.REVIEW:
        await verify(client, workflow_id, token)
        await stack.sink.wait_for_messages(before + 2, timeout_seconds=30)
    await _at_stage(handle, stage)
    await _eventually(
        lambda: _registry_status_is(stack, partner_id, ResellerStatus.ENROLLING), "row enrolling"
    )
    return partner_id, handle


async def _registry_status_is(stack: Stack, partner_id: str, status: ResellerStatus) -> bool:
    record = await stack.registry.get_reseller(partner_id)
    return record is not None and record.status is status


def _mail_to(stack: Stack, address: str) -> list[str]:
    return [str(m["Subject"]) for m in stack.sink.messages() if address in str(m["To"])]


async def _closed_as(
    handle: WorkflowHandle[Any, Any], status: WorkflowExecutionStatus.ValueType
) -> None:
    async def closed() -> bool:
        info = (await handle.describe()).raw_description.workflow_execution_info
        return bool(info.status == status)

    await _eventually(closed, f"{handle.id} {status}")


async def test_operator_actions_pressed_in_the_web_ui_leave_true_records(
    ui_env: tuple[WorkflowEnvironment, int],  # noqa: F811
    stack: Stack,
    tmp_path: Path,
) -> None:
    env, ui_port = ui_env
    client = env.client
    async with stack.worker(client), Chromium.open(tmp_path / "chromium") as browser:
        cancelled_id, cancelled = await _enrollment_at(
            client, stack, EnrollmentStage.EMAIL_VERIFICATION
        )
        terminated_id, terminated = await _enrollment_at(
            client, stack, EnrollmentStage.EMAIL_VERIFICATION
        )
        decided_id, decided = await _enrollment_at(client, stack, EnrollmentStage.REVIEW)
        contact = application()["primary_contact"]["email"]

        # ---- Request Cancellation ---------------------------------------------------------
        mails = len(stack.sink.messages())
        async with workflow_page(browser, ui_port, cancelled) as page:
            await page.click("Request Cancellation")
            await page.wait_for_text("Are you sure you want to cancel this workflow?")
            await page.click("Confirm")
            await page.wait_for_text("CANCELED", seconds=60)
            await page.screenshot(tmp_path / "ui-cancelled.png")
        await _closed_as(cancelled, WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_CANCELED)
        record = await stack.registry.get_reseller(cancelled_id)
        assert record is not None and record.status is ResellerStatus.CANCELLED
        assert record.status_reason is not None and "cancel" in record.status_reason
        messages = await stack.sink.wait_for_messages(mails + 1, timeout_seconds=30)
        assert [str(m["Subject"]) for m in messages[mails:]] == [CANCELLED]
        assert contact in str(messages[-1]["To"])
        attributes = (await cancelled.describe()).typed_search_attributes
        assert attributes.get(names.SA_OUTCOME) == "cancelled"
        assert attributes.get(names.SA_STAGE) == "cancelled"
        assert attributes.get(names.SA_NEXT_DEADLINE) is None

        # ---- Terminate ---------------------------------------------------------------------
        mails = len(stack.sink.messages())
        async with workflow_page(browser, ui_port, terminated) as page:
            await page.click("More Actions")
            await page.click("Terminate")
            await page.type("#workflow-termination-reason", "partner asked us to stop (UI test)")
            await page.click("Terminate", scope="#terminate-confirmation-modal")
            await page.wait_for_text("TERMINATED", seconds=60)
        await _closed_as(terminated, WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_TERMINATED)
        described = await terminated.describe()
        # No workflow code ran: the attributes still show the stage it was stopped in...
        assert described.typed_search_attributes.get(names.SA_STAGE) == "email_verification"
        assert described.typed_search_attributes.get(names.SA_OUTCOME) is None
        # ...until the reconciler (its Schedule's action, run here through the client) records
        # the real closure on the registry row and tells operations, not the partner.
        summary = await client.execute_workflow(
            names.PIPELINE_RECONCILER,
            id=f"{names.RECONCILER_WORKFLOW_ID}-ui-{terminated_id}",
            task_queue=names.TASK_QUEUE,
            result_type=ReconcileSummary,
        )
        assert [(c.record.workflow_id, c.closure) for c in summary.reconciled] == [
            (terminated.id, PipelineClosure.TERMINATED)
        ]
        record = await stack.registry.get_reseller(terminated_id)
        assert record is not None and record.status is ResellerStatus.TERMINATED
        assert record.status_reason is not None and "terminated in Temporal" in record.status_reason
        messages = await stack.sink.wait_for_messages(mails + 1, timeout_seconds=30)
        [report] = messages[mails:]
        assert str(report["To"]) == "ops@csp.example"
        assert terminated.id in report.get_body(("plain",)).get_content()  # type: ignore[union-attr]

        # ---- Send a Signal: the review decision, as a backend would signal it --------------
        mails = len(stack.sink.messages())
        decision = {
            "decision": "approve",
            "decided_by": "review-backend",
            "delivery_id": "ui-signal-1",
        }
        async with workflow_page(browser, ui_port, decided) as page:
            await _send_signal(page, names.UPDATE_DECIDE_REVIEW, decision)
        await _at_stage(decided, EnrollmentStage.MPA_SIGNATURE)
        messages = await stack.sink.wait_for_messages(mails + 2, timeout_seconds=30)
        assert [str(m["Subject"]) for m in messages[mails:]] == [APPROVED, SIGN_MPA]
        record = await stack.registry.get_reseller(decided_id)
        assert record is not None and record.status is ResellerStatus.ENROLLING
        attributes = (await decided.describe()).typed_search_attributes
        assert attributes.get(names.SA_STAGE) == "mpa_signature"
        assert attributes.get(names.SA_NEXT_DEADLINE) is not None
        assert attributes.get(names.SA_OUTCOME) is None

        # ---- Reset to the review: decisions replay, emails are not sent again --------------
        sent = _mail_to(stack, contact)
        events = [e async for e in decided.fetch_history_events()]
        child_done = next(
            e.event_id
            for e in events
            if e.event_type == EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED
        )
        target = next(
            e.event_id
            for e in events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
            and e.event_id > child_done
        )
        first_run = (await decided.describe()).run_id
        async with workflow_page(browser, ui_port, decided) as page:
            await page.click("More Actions")
            await page.click("Reset")
            await page.click_selector("[data-testid=workflow-reset-event-id-select-button]")
            await page.click_option_starting(f"{target}")
            # Signals after the reset point are not re-applied: the new run waits for the decision.
            if not await page.holds(_EXCLUDE_SIGNALS_CHECKED, seconds=2):
                await page.click("Exclude Signals that happened after the Reset point.")
            assert await page.holds(_EXCLUDE_SIGNALS_CHECKED)
            await page.type("#reset-reason", "operator reset from the UI (test)")
            await page.click("Confirm")
            await page.screenshot(tmp_path / "ui-reset.png")
        after = client.get_workflow_handle(decided.id)
        await _eventually(lambda: _new_run(after, first_run), "the reset's new run")
        # The new run is back in review; its "under review" email was asked for again and kept
        # back by the outbox.
        await _at_stage(after, EnrollmentStage.REVIEW)
        attributes = (await after.describe()).typed_search_attributes
        assert attributes.get(names.SA_STAGE) == "review"
        assert attributes.get(names.SA_OUTCOME) is None
        record = await stack.registry.get_reseller(decided_id)
        assert record is not None and record.status is ResellerStatus.ENROLLING
        # The backend signals its decision again: the new run replays it, and neither
        # "approved" nor "sign the MPA" reaches the partner a second time.
        async with workflow_page(browser, ui_port, after) as page:
            await _send_signal(
                page, names.UPDATE_DECIDE_REVIEW, {**decision, "delivery_id": "ui-2"}
            )
        await _at_stage(after, EnrollmentStage.MPA_SIGNATURE)
        history = [e async for e in after.fetch_history_events()]
        asked = [
            e
            for e in history
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and e.activity_task_scheduled_event_attributes.activity_type.name == SEND_EMAIL.name
        ]
        assert len(asked) == 3  # under review, approved, sign the MPA: each asked for again
        await asyncio.sleep(1)  # a re-sent email would be in the sink by now
        assert _mail_to(stack, contact) == sent
        attributes = (await after.describe()).typed_search_attributes
        assert attributes.get(names.SA_STAGE) == "mpa_signature"
        await after.terminate("test over")


_EXCLUDE_SIGNALS_CHECKED = (
    "[...document.querySelectorAll('#reset-exclude-signals-checkbox')].some((e) => e.checked)"
)


async def _send_signal(page: Page, name: str, payload: dict[str, Any]) -> None:
    """More Actions > Send a Signal, a custom signal name and its JSON, Submit."""
    await page.click("More Actions")
    await page.click("Send a Signal")
    await page.click_selector("[data-testid=signal-select-button]")
    await page.click("Custom")
    await page.type("#signal-name", name)
    await page.type(".cm-content[aria-label=Data]", json.dumps(payload))
    # Leaving the editor pretty-prints the JSON and resizes the dialog: leave it first, so that
    # Submit is pressed where it then is.
    await page.click_selector("#modal-title-signal-confirmation-modal")
    await page.wait_for_text('"delivery_id": ')
    await asyncio.sleep(0.3)
    await page.click("Submit")
    await page.wait_for_text("Workflow Execution Signaled", seconds=30)


async def _new_run(handle: WorkflowHandle[Any, Any], first_run: str | None) -> bool:
    return (await handle.describe()).run_id != first_run
