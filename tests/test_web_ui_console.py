"""What an operator reads in the Temporal Web UI, checked on the real dev server: the static
summary and details a started pipeline carries (type, key, region; no personal data), activity
and timer summaries, current details whose first line says in words what the pipeline waits for,
and the schedule's action input without internal state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, ScheduleActionStartWorkflow, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contract import names
from contract.display import display_time, set_display_time_zone
from contract.pipelines import DIRECT_BILL, RESELLER_ENROLLMENT
from domain.direct_bill import DirectBillApplication
from domain.reseller_enrollment import EnrollmentStage, ResellerEnrollmentApplication
from runtime.schedules import ensure_schedules
from tests.conftest import Stack, application
from tests.direct_bill_driver import db_application
from tests.test_callbacks import new_partner, wait_for_stage
from tests.test_cli import _env, csp
from workflows.pipeline import stage_details

PERSONAL = ("Hanako", "Yamada", "hanako.yamada", "@contoso.example", "+81")


def test_start_summary_and_details_name_type_key_and_region_only() -> None:
    app = ResellerEnrollmentApplication.model_validate(application(partner_id="1234567"))
    assert RESELLER_ENROLLMENT.start_summary(app) == "ResellerEnrollment: partner_id 1234567 in JP"
    details = RESELLER_ENROLLMENT.start_details(app)
    assert "**partner_id**: 1234567" in details and "**Region**: JP" in details
    db = DirectBillApplication.model_validate(db_application())
    # The region is part of the key: said once.
    assert DIRECT_BILL.start_summary(db) == f"DirectBillApplication: pga_id {db.pga_id}, region JP"
    for text in (RESELLER_ENROLLMENT.start_summary(app), details, DIRECT_BILL.start_details(db)):
        assert not any(p in text for p in PERSONAL), text


def test_current_details_first_line_in_words_in_the_display_zone() -> None:
    deadline = datetime(2027, 1, 15, 9, 0, 30, 123456, tzinfo=UTC)
    try:
        set_display_time_zone("Asia/Tokyo")
        text = stage_details("review", "Microsoft's review decision", deadline)
        first = text.splitlines()[0]
        assert first == (
            "Waiting for Microsoft's review decision until Friday, 15 January 2027, 18:00 JST"
        )
        assert "123456" not in text and ":30" not in text  # no seconds, no microseconds
        assert display_time(deadline).endswith("18:00 JST")
    finally:
        set_display_time_zone("UTC")
    assert stage_details("active", None, None, ended=True).startswith("Ended: active")
    assert stage_details("checks", None, None).startswith("Working: checks")
    no_deadline = stage_details("x", "a report", None)
    assert no_deadline.startswith("Waiting for a report (no deadline)")


async def test_pipeline_started_by_the_cli_reads_well_in_the_ui(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    client = dev_env.client
    env = _env(client.service_client.config.target_host, tmp_path)
    partner_id = new_partner(stack, mpa_signed=False)
    workflow_id = names.reseller_enrollment_id(partner_id)
    source = tmp_path / "enrollment.yaml"
    source.write_text(yaml.safe_dump(application(partner_id=partner_id)))
    async with stack.worker(client):
        started = await csp(env, "start", "reseller-enrollment", str(source))
        assert started.code == 0, started.err
        handle = client.get_workflow_handle(workflow_id)
        try:
            await wait_for_stage(handle, EnrollmentStage.EMAIL_VERIFICATION)
            described = await handle.describe()
            summary = await described.static_summary()
            details = await described.static_details()
            assert summary == f"ResellerEnrollment: partner_id {partner_id} in JP"
            assert details is not None and "**Region**: JP" in details
            assert not any(p in f"{summary}{details}" for p in PERSONAL)

            child = client.get_workflow_handle(names.email_verification_id(workflow_id))
            child_summary = await (await child.describe()).static_summary()
            assert child_summary == f"Email verification for PartnerID {partner_id}"

            child_timers: list[str] = []
            for _ in range(200):  # the child starts its timer once the link is mailed
                child_timers = await _timer_summaries(client, child)
                if child_timers:
                    break
                await asyncio.sleep(0.05)
            assert child_timers == ["email verification deadline"]

            # Activities and local activities (the lean reads and the record, one marker each)
            # of the pipeline and its child so far (the child's link is mailed: its timer runs).
            activity_summaries: list[str] = []
            for run in (handle, child):
                async for event in run.fetch_history_events():
                    local = (
                        event.event_type is EventType.EVENT_TYPE_MARKER_RECORDED
                        and event.marker_recorded_event_attributes.marker_name
                        == "core_local_activity"
                    )
                    if local or event.event_type is EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                        payload = event.user_metadata.summary
                        text = await client.data_converter.decode([payload], [str])
                        activity_summaries.append(text[0])
            assert len(activity_summaries) >= 6, "every activity call carries a summary"
            assert all(s and not s.startswith("{") for s in activity_summaries)
            assert not any(p in s for s in activity_summaries for p in PERSONAL)

            metadata = await handle.query("__temporal_workflow_metadata")
            first_line = metadata.current_details.splitlines()[0]
            assert first_line.startswith("Waiting for the primary contact to open the verification")
            assert " until " in first_line and first_line.endswith(" UTC")
        finally:
            await handle.terminate("test finished")


async def _timer_summaries(client: Client, handle: WorkflowHandle[Any, Any]) -> list[str]:
    found: list[str] = []
    async for event in handle.fetch_history_events():
        if event.event_type is EventType.EVENT_TYPE_TIMER_STARTED:
            [text] = await client.data_converter.decode([event.user_metadata.summary], [str])
            found.append(text)
    return found


async def test_schedule_action_input_carries_no_sweep_state(dev_env: WorkflowEnvironment) -> None:
    client = dev_env.client
    await ensure_schedules(client)
    described = await client.get_schedule_handle(names.REASSESSMENT_SCHEDULE_ID).describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    [raw] = action.args
    [value] = await client.data_converter.decode([raw], [dict])
    assert value == {}
