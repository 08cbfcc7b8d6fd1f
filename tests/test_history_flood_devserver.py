"""Issue 12, item 4: a flood of reports cannot grow a pipeline's history. On the real dev server,
where an update refused by its validator leaves nothing in the history (the time-skipping test
server writes a workflow task for each batch of them, which the real server does not)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.reseller_enrollment import EnrollmentStage, MpaSignatureReport
from tests.conftest import UNSIGNED_TENANT, Stack, application, new_partner
from tests.enrollment_driver import decide, latest_token, start_enrollment, status, verify
from workflows.pipeline import RETRY_ATTEMPTS

FLOOD = 5_000
REPORT_INTERVAL = timedelta(seconds=3)


async def _events(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    return [event async for event in handle.fetch_history_events()]


async def _at_mpa_signature(handle: WorkflowHandle[Any, Any]) -> None:
    for _ in range(600):
        if (await status(handle)).stage is EnrollmentStage.MPA_SIGNATURE:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the enrollment never reached mpa_signature")


async def test_a_flood_of_mpa_reports_keeps_the_history_small_and_the_pipeline_completes(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The issue: 100 replays of one report with fresh delivery ids grew a history from 88 to
    1,244 events (about 4,400 would end the workflow at the history limit). Here 5,000 reports:
    the validator refuses all but about one per interval (no history), and the pipeline still
    completes when the signature is real."""
    client = dev_env.client
    partner = new_partner(stack, mpa_signed=False)
    workflow_id = names.reseller_enrollment_id(partner)
    seconds = REPORT_INTERVAL.total_seconds()
    stack.settings = stack.settings.model_copy(update={"mpa_report_interval_seconds": seconds})
    async with stack.worker(client):
        app = application(partner_id=partner, tenant_id=str(UNSIGNED_TENANT))
        handle = await start_enrollment(client, workflow_id, app)
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "approve")
        await _at_mpa_signature(handle)
        await stack.sink.wait_for_messages(4, timeout_seconds=30)  # approved, sign the MPA
        before = len(await _events(handle))

        gate = asyncio.Semaphore(8)  # the server takes 10 in-flight updates per workflow
        outcomes: Counter[str] = Counter()

        async def report(n: int) -> None:
            async with gate:
                try:
                    await handle.execute_update(
                        names.UPDATE_REPORT_MPA_SIGNED,
                        MpaSignatureReport(reported_by=f"pc-webhook-delivery-{n}"),
                    )
                    outcomes["accepted"] += 1
                except WorkflowUpdateFailedError as err:
                    assert isinstance(err.cause, ApplicationError), err
                    outcomes[err.cause.type or "?"] += 1

        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(report(n) for n in range(FLOOD)))
        elapsed = asyncio.get_running_loop().time() - started
        assert sum(outcomes.values()) == FLOOD
        assert set(outcomes) <= {"accepted", "RepeatedReport"}, outcomes
        # About one accepted per interval (each re-checks Partner Center); never the flood.
        assert 1 <= outcomes["accepted"] <= elapsed / seconds + 2, (outcomes, elapsed)
        flooded = await _events(handle)
        added = Counter(EventType.Name(e.event_type) for e in flooded[before:])
        assert len(flooded) - before <= 20 * outcomes["accepted"], added

        # The real signature, reported after the interval, completes the same enrollment.
        stack.edit_partner_center(
            lambda d: d["agreements"].update({partner: {"isAgreementSigned": True}})
        )
        # The interval doubles with each accepted report: retry until it has passed.
        for _ in range(60):
            await asyncio.sleep(seconds / 2)
            try:
                await handle.execute_update(
                    names.UPDATE_REPORT_MPA_SIGNED, MpaSignatureReport(reported_by="pc-webhook")
                )
                break
            except WorkflowUpdateFailedError as err:
                assert isinstance(err.cause, ApplicationError)
                assert err.cause.type == "RepeatedReport", err.cause
        assert (await handle.result()).outcome is EnrollmentStage.ACTIVE
    events = await _events(handle)
    assert len(events) < 400, len(events)  # the history limit is 51,200 events
    # Every activity the pipeline ran had a bounded retry policy or a deadline.
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled
    for attributes in scheduled:
        bounded = 0 < attributes.retry_policy.maximum_attempts <= RETRY_ATTEMPTS
        assert bounded or attributes.schedule_to_close_timeout.ToTimedelta() > timedelta(0)
