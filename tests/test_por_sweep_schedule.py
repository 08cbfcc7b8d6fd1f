"""REL-07's `por-validation-sweep` Schedule on the real dev server: ensured at every start without
touching an operator's pause or note, its interval the operator's setting (weekly by default),
and a triggered sweep checking the registry's partnerships and reporting once."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from temporalio.client import ScheduleOverlapPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import text_of
from bench.partnered_resellers import insert_partnerships, population
from contract import names
from domain.por_sweep import PorSweepSummary
from runtime.schedules import ensure_schedules, por_validation_sweep
from tests.conftest import Stack


async def test_the_schedule_keeps_the_operators_pause_and_a_trigger_sweeps_and_reports(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    client = dev_env.client
    handle = client.get_schedule_handle(names.POR_SWEEP_SCHEDULE_ID)
    with contextlib.suppress(RPCError):  # left by another test on the shared dev server
        await handle.delete()
    try:
        assert dict(await ensure_schedules(client))[names.POR_SWEEP_SCHEDULE_ID] == "created"
        described = await handle.describe()
        [interval] = described.schedule.spec.intervals
        assert interval.every == timedelta(days=7)
        assert described.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        assert await described.memo_value("guidance") == por_validation_sweep().guidance

        await handle.pause(note="paused by ops: Partner Center maintenance")
        settings = stack.settings.model_copy(update={"por_sweep_interval_days": 14})
        assert dict(await ensure_schedules(client, settings))[names.POR_SWEEP_SCHEDULE_ID] == (
            "updated"
        )
        described = await handle.describe()
        assert described.schedule.state.paused
        assert described.schedule.state.note == "paused by ops: Partner Center maintenance"
        [interval] = described.schedule.spec.intervals
        assert interval.every == timedelta(days=14)

        people = population(30, inactive=4)
        await insert_partnerships(stack.settings.registry_database_url, people.rows)

        def add(data: dict[str, Any]) -> None:
            data["profiles"].update(people.partner_center["profiles"])
            data.setdefault("indirectResellers", {}).update(
                people.partner_center["indirectResellers"]
            )

        stack.edit_partner_center(add)
        async with stack.worker(client):
            await handle.trigger()  # a paused schedule still starts on an operator's trigger
            query = (
                f"WorkflowType = '{names.POR_SWEEP}' AND ExecutionStatus = 'Completed' "
                f"AND TemporalScheduledById = '{names.POR_SWEEP_SCHEDULE_ID}'"
            )
            summaries: list[PorSweepSummary] = []
            for _ in range(300):
                async for run in client.list_workflows(query):
                    done = client.get_workflow_handle(run.id, result_type=PorSweepSummary)
                    summaries.append(await done.result())
                if summaries:
                    break
                await asyncio.sleep(0.1)
            [email] = await stack.sink.wait_for_messages(1, timeout_seconds=30)
    finally:
        for schedule_id in (
            names.POR_SWEEP_SCHEDULE_ID,
            names.REASSESSMENT_SCHEDULE_ID,
            names.RECONCILER_SCHEDULE_ID,
        ):
            with contextlib.suppress(RPCError):
                await client.get_schedule_handle(schedule_id).delete()
    [summary] = summaries
    assert summary.sweep_id.startswith(names.POR_SWEEP_WORKFLOW_ID)
    assert (summary.checked, summary.invalid) == (30, len(people.invalid))
    report = await stack.registry.latest_por_report()
    assert report is not None and report.sweep_id == summary.sweep_id
    assert "Checked 30 partnership(s): 29 valid, 1 invalid" in " ".join(text_of(email).split())
