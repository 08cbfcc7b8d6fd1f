"""The durable steps one enrollment and one re-assessment take (issue 17): history events and
workflow tasks.

Counted, never timed: the numbers are what the server stores and schedules for one pipeline, so
they do not depend on the machine. A change that makes a read a normal activity again, or adds a
workflow task or events to the happy path, fails here and has to argue for the new budget.
"""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from bench.limits import pipeline_steps
from contract import names
from domain.direct_bill import DirectBillRegistryStatus
from domain.reassessment import DueKind, ReassessmentOutcome, ReassessmentRequest
from domain.reassessment_rules import month_of
from domain.reseller_enrollment import EnrollmentStage
from tests.conftest import Stack, application
from tests.enrollment_driver import decide, latest_token, start_enrollment, verify
from tests.reassessment_fixtures import Partner, seed, start_sweep
from tests.test_bench_skeleton_shape import WORKFLOW_TASK_EVENTS
from tests.test_replay import replayer

PATCH_MARKER_NAME = "core_patch"
"""The marker name core records for `workflow.patched`."""

ENROLLMENT_EVENTS = 77
"""History events of one reseller enrollment that ends `active`, its email verification child
included (the full path: prechecks, link, review, Admin agent, MPA), as this test drives it on
the time-skipping server. 114 before the `lean-lookups` patch (issue 17), 88 with it; 77 with
`lean-steps` (the registry record as a local activity, the approval mailed alongside the Admin
agent step, no upsert for an MPA stage left in the same workflow task)."""

ENROLLMENT_WORKFLOW_TASKS = 11
"""Workflow tasks (WorkflowTaskCompleted events) of the same run, parent and child: 18 before the
patches, 13 with `lean-lookups`, 11 with `lean-steps`."""


async def test_an_active_enrollment_stays_within_its_history_budget(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """Guards issue 17's budget: the pre-check reads (policy, registry record, PartnerID, tenant
    admin) and the agreement check run as local activities (one marker each, no workflow task of
    their own), so an enrollment with its email verification child stays at or below
    `ENROLLMENT_EVENTS` history events and `ENROLLMENT_WORKFLOW_TASKS` workflow tasks."""
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "approve")
        result = await handle.result()
        histories = [
            await client.get_workflow_handle(wid).fetch_history()
            for wid in (workflow_id, names.email_verification_id(workflow_id))
        ]
        events, workflow_tasks = await pipeline_steps(
            client, workflow_id, first_run_id=handle.first_execution_run_id
        )

    assert result.outcome is EnrollmentStage.ACTIVE
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in histories[0].events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    # Only the emails and the Partner Center write are normal activities (the reads and the
    # registry record left markers in the workflow tasks); the approval is mailed alongside
    # the Admin agent step.
    assert sorted(scheduled[1:3]) == ["ensure_admin_agent", "send_email"]
    assert scheduled == ["send_email", *scheduled[1:3], "send_email"]
    counted = f"{events} events, {workflow_tasks} workflow tasks"
    assert events <= ENROLLMENT_EVENTS, counted
    assert workflow_tasks <= ENROLLMENT_WORKFLOW_TASKS, counted
    # The lean shape replays as the production worker would (deterministic, patch included).
    for history in histories:
        replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, (
            f"{history.workflow_id}: {replayed.replay_failure!r}"
        )


REASSESSMENT_EVENTS = 21
"""History events of one passing security-only re-assessment (DB-04, what a sweep starts in the
partner's onboarding anniversary month), as this test drives it on the time-skipping server. 44
before the lean patches (issue 17); 23 with `lean-steps`: the reads and the status change as
local activities (one marker each), the partner, the passed stage and `Outcome` in one upsert;
21 since the sweep starts it lean (the `lean_steps` memo): no patch marker, and so no
`TemporalChangeVersion` upsert from core. The passed email is a normal activity, and the
sweep hears of the pass only after it (a mail that fails for good fails the run, which the
sweep counts as an error, never as passed): one workflow task for the email's result, one for
the signal's."""

REASSESSMENT_WORKFLOW_TASKS = 3
"""Workflow tasks (WorkflowTaskCompleted events) of the same run: 9 before the lean patches."""


async def test_a_passing_security_revalidation_stays_within_its_history_budget(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """Guards issue 17's budget for the re-assessment: a passing security-only re-validation
    stays at or below `REASSESSMENT_EVENTS` history events and `REASSESSMENT_WORKFLOW_TASKS`
    workflow tasks; only the passed email is a normal activity."""
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    pga_id = "5700001"  # its own PGA: the time-skipping server is shared
    await seed(stack, month, [Partner(pga_id, anniversary_month=month.month)])
    async with stack.worker(client):
        sweep = await start_sweep(client, month, f"{names.SWEEP_WORKFLOW_ID}-budget")
        summary = await sweep.result()
        workflow_id = names.reassessment_id(pga_id, "JP", month.year, security_only=True)
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        events, workflow_tasks = await pipeline_steps(
            client, workflow_id, first_run_id=started.first_execution_run_id
        )

    assert (summary.started, summary.passed, summary.errors) == (1, 1, 0)
    record = await stack.registry.get_direct_bill(pga_id, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.ACTIVE
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["send_email"]  # the reads and the status change left markers
    upserts = sum(
        e.HasField("upsert_workflow_search_attributes_event_attributes") for e in history.events
    )
    assert upserts == 1  # the partner, the stage and Outcome
    assert _patch_markers(history) == []  # started lean by the sweep (its memo)
    counted = f"{events} events, {workflow_tasks} workflow tasks"
    assert events <= REASSESSMENT_EVENTS, counted
    assert workflow_tasks <= REASSESSMENT_WORKFLOW_TASKS, counted
    replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, f"{workflow_id}: {replayed.replay_failure!r}"


def _patch_markers(history: WorkflowHistory) -> list[HistoryEvent]:
    return [
        e
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == PATCH_MARKER_NAME
    ]


def _commands(history: WorkflowHistory) -> list[str]:
    """The events the workflow's commands produced, without the patch marker and core's
    `TemporalChangeVersion` upsert that comes with it."""
    markers = {e.event_id for e in _patch_markers(history)}
    commands = []
    for event in history.events:
        if event.event_id in markers or event.event_type in WORKFLOW_TASK_EVENTS:
            continue
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            if "TemporalChangeVersion" in fields.indexed_fields:
                continue
        commands.append(EventType.Name(event.event_type))
    return commands


async def test_a_reassessment_started_without_the_lean_memo_takes_the_same_steps_behind_the_marker(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """A re-assessment started without the `lean_steps` memo (a history recorded before it, a
    start typed in the Web UI) decides by the `lean-steps` marker: the same steps as the sweep's
    lean start, plus the marker and core's upsert; so does one whose memo is not `true` (typed by
    hand), rather than failing. The histories replay, and so does the marked
    one with the memo added: a worker of an older release that ran the first workflow task of a
    sweep's start ignored the memo and recorded the marker."""
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    pga_ids = ("5700011", "5700012", "5700013")
    memos: tuple[dict[str, Any], ...] = (
        {names.MEMO_LEAN_STEPS: True},
        {},
        {names.MEMO_LEAN_STEPS: "maybe"},  # typed by hand: not `true`, so decided by the marker
    )
    await seed(stack, month, [Partner(p, anniversary_month=month.month) for p in pga_ids])
    histories: list[WorkflowHistory] = []
    async with stack.worker(client):
        for pga_id, memo in zip(pga_ids, memos, strict=True):
            request = ReassessmentRequest(
                pga_id=pga_id,
                region="JP",
                pla_id=f"{pga_id[:-1]}9",
                kind=DueKind.SECURITY,
                month=month,
            )
            handle = await client.start_workflow(
                names.PARTNER_REASSESSMENT,
                request,
                id=names.reassessment_id(pga_id, "JP", month.year, security_only=True),
                task_queue=names.TASK_QUEUE,
                result_type=ReassessmentOutcome,
                memo=memo,
            )
            assert (await handle.result()).passed
            histories.append(await handle.fetch_history())

    lean, marked, typed = histories
    assert _commands(typed) == _commands(marked)
    assert len(_patch_markers(typed)) == 1
    assert _patch_markers(lean) == []
    assert len(_patch_markers(marked)) == 1
    assert len(marked.events) == len(lean.events) + 2  # the marker and core's upsert
    assert _commands(marked) == _commands(lean)
    older_worker = WorkflowHistory.from_json(marked.workflow_id, marked.to_json())
    started = older_worker.events[0].workflow_execution_started_event_attributes
    started.memo.fields[names.MEMO_LEAN_STEPS].CopyFrom(
        client.data_converter.payload_converter.to_payloads([True])[0]
    )
    for history in (*histories, older_worker):
        replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, (
            f"{history.workflow_id}: {replayed.replay_failure!r}"
        )
