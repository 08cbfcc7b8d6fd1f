"""The sweep benchmark's skeleton keeps production's shape (bench.skeleton_reassessment).

`bench.reassessment_sweep` reads production's rate against `SkeletonPartnerReassessment`; a
skeleton that drifts from the passing security-only `PartnerReassessment` (a step made local in
one and not the other, an upsert merged in one only) compares different work. Both run on the
time-skipping server and the events their commands produce must come in the same order, with the
same markers and the same search attributes per upsert; only the workflow tasks may differ by
`WORKFLOW_TASK_TOLERANCE` (when an activity's completion reaches the server is not theirs to
decide).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench import skeletons
from bench.skeleton_reassessment import SkeletonPartnerReassessment
from contract import names
from domain.reassessment import (
    DueKind,
    ReassessmentOutcome,
    ReassessmentRequest,
)
from domain.reassessment_rules import month_of
from tests.conftest import Stack
from tests.reassessment_fixtures import Partner, seed, start_sweep
from tests.test_bench_skeleton_shape import WORKFLOW_TASK_EVENTS, WORKFLOW_TASK_TOLERANCE

_QUEUE = "bench-reassessment-skeleton-shape"


@workflow.defn(name="BenchReassessmentOutcomeReceiver")
class OutcomeReceiver:
    """Stands in for the sweep: waits for one partner's outcome."""

    def __init__(self) -> None:
        self._outcome: ReassessmentOutcome | None = None

    @workflow.run
    async def run(self) -> bool:
        await workflow.wait_condition(lambda: self._outcome is not None)
        assert self._outcome is not None
        return self._outcome.passed

    @workflow.signal(name=names.SIGNAL_REASSESSMENT_OUTCOME)
    def reassessment_outcome(self, outcome: ReassessmentOutcome) -> None:
        self._outcome = outcome


def _command(event: HistoryEvent) -> str:
    """An event a command produced, with what makes it that command: the marker's name, the
    search attributes an upsert sets, the activity's kind."""
    name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
    if event.HasField("marker_recorded_event_attributes"):
        return f"{name} {event.marker_recorded_event_attributes.marker_name}"
    if event.HasField("upsert_workflow_search_attributes_event_attributes"):
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        return f"{name} {sorted(fields.indexed_fields)}"
    return name


async def _shape(client: Client, workflow_id: str) -> tuple[list[str], int]:
    """(the commands' events in order, workflow tasks completed)."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    commands = [_command(e) for e in history.events if e.event_type not in WORKFLOW_TASK_EVENTS]
    tasks = sum(
        e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events
    )
    return commands, tasks


async def test_the_reassessment_skeleton_has_the_production_shape(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    pga_id = "5700002"  # its own PGA
    await seed(stack, month, [Partner(pga_id, anniversary_month=month.month)])
    async with stack.worker(client):
        sweep = await start_sweep(client, month, f"{names.SWEEP_WORKFLOW_ID}-skeleton-shape")
        assert (await sweep.result()).passed == 1
    production_id = names.reassessment_id(pga_id, "JP", month.year, security_only=True)
    production, production_tasks = await _shape(client, production_id)

    skeleton_id = f"bench-skeleton-reassessment-{pga_id}"
    async with Worker(
        client,
        task_queue=_QUEUE,
        workflows=[SkeletonPartnerReassessment, OutcomeReceiver],
        activities=[skeletons.noop],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        receiver = await client.start_workflow(
            OutcomeReceiver.run, id=f"{skeleton_id}-receiver", task_queue=_QUEUE
        )
        await client.execute_workflow(
            names.PARTNER_REASSESSMENT,
            ReassessmentRequest(
                pga_id=pga_id,
                region="JP",
                pla_id=f"{pga_id[:-1]}9",
                kind=DueKind.SECURITY,
                month=month,
                sweep_workflow_id=receiver.id,
            ),
            id=skeleton_id,
            task_queue=_QUEUE,
            result_type=ReassessmentOutcome,
            # as the sweep's start activity starts production's (and, in the bench, this one)
            search_attributes=names.partner_search_attributes(pga_id, "JP"),
            memo={names.MEMO_LEAN_STEPS: True},
        )
        assert await receiver.result() is True
    skeleton, skeleton_tasks = await _shape(client, skeleton_id)

    report = (
        f"production {production_tasks} tasks {production}; skeleton {skeleton_tasks} {skeleton}"
    )
    assert skeleton == production, report
    assert abs(skeleton_tasks - production_tasks) <= WORKFLOW_TASK_TOLERANCE, report
