"""The `annual-reassessment` Schedule on the real dev server: ensured idempotently, operators'
pause kept, and a backfill of a past month re-assessing that month's partners (the sweep reads
its scheduled time, not the wall clock)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleBackfill,
    ScheduleHandle,
    ScheduleOverlapPolicy,
)
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.reassessment import SweepSummary
from runtime.schedules import ANNUAL_REASSESSMENT, ensure_schedules
from tests.conftest import Stack
from tests.reassessment_fixtures import Partner, seed


async def test_schedule_is_ensured_twice_and_keeps_an_operators_pause(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    client = dev_env.client
    first = dict(await ensure_schedules(client))
    assert first[names.REASSESSMENT_SCHEDULE_ID] == "created"
    assert dict(await ensure_schedules(client))[names.REASSESSMENT_SCHEDULE_ID] == "updated"

    handle = client.get_schedule_handle(names.REASSESSMENT_SCHEDULE_ID)
    await handle.pause(note="paused by ops during the migration")
    assert dict(await ensure_schedules(client))[names.REASSESSMENT_SCHEDULE_ID] == "updated"
    described = await handle.describe()
    assert described.schedule.state.paused
    assert described.schedule.state.note == "paused by ops during the migration"
    assert described.schedule.policy.overlap is ScheduleOverlapPolicy.ALLOW_ALL
    await handle.unpause(note="resumed by ops after the migration")
    await ensure_schedules(client)
    described = await handle.describe()
    # The operator's word stays; the product's guidance is in the memo and the action's details.
    assert not described.schedule.state.paused
    assert described.schedule.state.note == "resumed by ops after the migration"
    assert await described.memo_value("guidance") == ANNUAL_REASSESSMENT.guidance
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    payloads = client.data_converter.payload_converter
    for shown, expected in [
        (action.static_details, ANNUAL_REASSESSMENT.guidance),
        (action.static_summary, ANNUAL_REASSESSMENT.summary),
    ]:
        assert isinstance(shown, Payload)
        assert payloads.from_payload(shown, str) == expected

    await handle.delete()
    # The reconciler's interval is the operator's setting (hourly by default).
    reconciler = client.get_schedule_handle(names.RECONCILER_SCHEDULE_ID)
    [interval] = (await reconciler.describe()).schedule.spec.intervals
    assert interval.every == timedelta(hours=1)
    await ensure_schedules(
        client, stack.settings.model_copy(update={"reconcile_interval_minutes": 15})
    )
    [interval] = (await reconciler.describe()).schedule.spec.intervals
    assert interval.every == timedelta(minutes=15)
    await reconciler.delete()  # nothing left to fire on the shared dev server
    await client.get_schedule_handle(names.POR_SWEEP_SCHEDULE_ID).delete()


async def _backfilled_sweep(
    client: Client, handle: ScheduleHandle, fired_at: datetime
) -> SweepSummary:
    """Backfill the schedule around `fired_at` and return the summary of the sweep it started
    then (found by its scheduled time: the dev server is shared, other tests run sweeps too)."""
    await handle.backfill(
        ScheduleBackfill(
            start_at=fired_at - timedelta(minutes=1),
            end_at=fired_at + timedelta(minutes=1),
            overlap=ScheduleOverlapPolicy.ALLOW_ALL,
        )
    )
    query = (
        f"WorkflowType = '{names.REASSESSMENT_SWEEP}' AND ExecutionStatus = 'Completed' "
        f"AND TemporalScheduledById = '{names.REASSESSMENT_SCHEDULE_ID}'"
    )
    for _ in range(300):
        async for run in client.list_workflows(query):
            if run.typed_search_attributes.get(names.SA_SCHEDULED_START) == fired_at:
                done = client.get_workflow_handle(run.id, result_type=SweepSummary)
                summary: SweepSummary = await done.result()
                return summary
        await asyncio.sleep(0.1)
    raise AssertionError(f"no sweep scheduled at {fired_at.isoformat()} completed")


async def test_a_backfill_reassesses_only_months_from_october_2025_and_partners_then_direct_bill(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    """RA-01 (seed 004: "2025 年 10 月、Microsoft は、継続的な直接請求承認の条件として、サポート
    プランの更新月中に、既存の直接請求パートナーの年次再評価の要求を開始します。"): a backfill of
    March 2025 re-assesses nobody; one of October 2025 re-assesses only the partners that were
    already direct bill when October began (not one activated in November 2025)."""
    client = dev_env.client
    await ensure_schedules(client)
    handle = client.get_schedule_handle(names.REASSESSMENT_SCHEDULE_ID)
    before = date(2025, 3, 1)
    await seed(stack, before, [Partner("5400009", anniversary_month=3)])
    past = date(2025, 10, 1)
    await seed(stack, past, [Partner("5400001", anniversary_month=10)])  # security-only: no waits
    await seed(stack, past, [Partner("5400002", anniversary_month=4, renewal_month=5)])
    activated_later = datetime(2025, 11, 10, tzinfo=UTC)
    await seed(
        stack, past, [Partner("5400003", anniversary_month=10, activated_at=activated_later)]
    )
    summaries: dict[date, SweepSummary] = {}
    async with stack.worker(client):
        for month in (before, past):
            moment = datetime(month.year, month.month, 1, 2, 0, tzinfo=UTC)
            summaries[month] = await _backfilled_sweep(client, handle, moment)
    await handle.delete()
    assert summaries[before].due == 0 and summaries[before].started == 0
    summary = summaries[past]
    assert summary.month == past
    assert (summary.due, summary.started, summary.passed) == (1, 1, 1)


async def test_the_schedule_fires_in_the_business_time_zone_and_the_sweep_reads_that_month(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    """DB-07 ("treat every date rule ... as calendar dates in one configured business time
    zone"): with Asia/Tokyo, the sweep of November 2025 is scheduled at 02:00 JST on 1 November,
    which is 17:00 UTC on 31 October, and it re-assesses November's partners, not October's."""
    client = dev_env.client
    settings = stack.settings.model_copy(update={"business_time_zone": "Asia/Tokyo"})
    await ensure_schedules(client, settings)
    handle = client.get_schedule_handle(names.REASSESSMENT_SCHEDULE_ID)
    described = await handle.describe()
    assert described.schedule.spec.time_zone_name == "Asia/Tokyo"
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert client.data_converter.payload_converter.from_payload(action.args[0], dict) == {
        "month_zone": "Asia/Tokyo"
    }
    november = date(2025, 11, 1)
    await seed(stack, november, [Partner("5400021", anniversary_month=11)])  # security-only
    fired_at = datetime(2025, 10, 31, 17, 0, tzinfo=UTC)  # 2025-11-01 02:00 JST
    async with stack.worker(client):
        summary = await _backfilled_sweep(client, handle, fired_at)
    for schedule_id in (
        names.REASSESSMENT_SCHEDULE_ID,
        names.RECONCILER_SCHEDULE_ID,
        names.POR_SWEEP_SCHEDULE_ID,
    ):  # nothing left to fire on the shared dev server
        await client.get_schedule_handle(schedule_id).delete()
    assert summary.month == november
    assert (summary.due, summary.started, summary.passed) == (1, 1, 1)
