"""The benchmarks' enrollment skeleton keeps production's shape (bench/skeleton_enrollment.py).

`bench.pipeline_throughput` and `bench.update_latency` read production against a no-op skeleton
of the same shape; a skeleton that drifts (production's reads became local activities, its
upserts were merged) makes their ratios compare different work. One active enrollment of each,
with its email verification child, on the time-skipping server: the events that the workflow's
own commands produce are counted per event type and must match exactly (activities scheduled,
markers of the patch and the local activities, upserts, the child, updates), with two exceptions
that depend on the drivers, not on the workflows:

- the workflow tasks (and their scheduled/started events): how many there are depends on when the
  updates and the activities' completions reach the server;
- the review wait's timer (one TimerStarted and its TimerCanceled): production's driver decides
  once the "under review" email arrived, so production usually waits on its reminder timer first;
  the skeleton's driver (bench/enrollments.py) decides right after `verify_email`, and its
  decision is usually in before the wait starts, so no timer is started. The child's deadline
  timer likewise: a link verified before the child's first wait starts no timer (a timer started
  and cancelled in the same workflow task never reaches the history). Each side may have one
  timer pair fewer than the other, in either workflow.
"""

from __future__ import annotations

from collections import Counter

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench import skeletons
from bench.enrollments import Partner, review_skeleton, start_skeleton, verify_skeleton
from bench.enrollments import skeleton_id as bench_skeleton_id
from bench.harness import SKELETON_QUEUE
from bench.limits import pipeline_steps
from bench.skeleton_email_verification import SkeletonEmailVerification
from bench.skeleton_enrollment import SkeletonEnrollment
from bench.worker_process import skeleton_runner
from contract import names
from domain.reseller_enrollment import EnrollmentStage
from runtime.log_context import LogContextInterceptor
from tests.conftest import JP_PARTNER, Stack, application
from tests.enrollment_driver import decide, latest_token, start_enrollment, verify
from worker import WORKFLOW_FAILURE_EXCEPTION_TYPES

WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
}
"""The events of a workflow task itself, not of the commands it completed with."""

WORKFLOW_TASK_TOLERANCE = 2
"""How many workflow tasks (per workflow, each one up to 3 events) the skeleton may take more or
fewer than production: an update or an activity completion that reaches the server while a
workflow task runs adds a task, or one that arrives with another saves one. The commands' events
are compared exactly."""

WAIT_TIMER = (
    EventType.Name(EventType.EVENT_TYPE_TIMER_STARTED),
    EventType.Name(EventType.EVENT_TYPE_TIMER_CANCELED),
)
"""The timer events of a wait that a driver may answer before it starts (see above)."""


def _bench_worker(client: Client) -> Worker:
    """The skeletons as bench/worker_process.py registers them, with `build_worker`'s options."""
    return Worker(
        client,
        task_queue=SKELETON_QUEUE,
        workflows=[SkeletonEnrollment, SkeletonEmailVerification],
        activities=[skeletons.noop],
        workflow_failure_exception_types=WORKFLOW_FAILURE_EXCEPTION_TYPES,
        interceptors=[LogContextInterceptor()],
        workflow_runner=skeleton_runner(),
    )


async def _shape(client: Client, workflow_id: str) -> dict[str, Counter[str]]:
    """Event types and their counts, of the parent and of its email verification child."""
    shape: dict[str, Counter[str]] = {}
    for role, wid in (("parent", workflow_id), ("child", names.email_verification_id(workflow_id))):
        history = await client.get_workflow_handle(wid).fetch_history()
        shape[role] = Counter(EventType.Name(e.event_type) for e in history.events)
    return shape


def _split(counts: Counter[str]) -> tuple[Counter[str], int]:
    """(the commands' events per type, workflow tasks completed)."""
    task_names = {EventType.Name(t) for t in WORKFLOW_TASK_EVENTS}
    commands = Counter({k: v for k, v in counts.items() if k not in task_names})
    return commands, counts[EventType.Name(EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)]


async def test_the_enrollment_skeleton_has_the_production_shape(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "approve")
        result = await handle.result()
        production = await _shape(client, workflow_id)
        production_steps = await pipeline_steps(
            client, workflow_id, first_run_id=handle.first_execution_run_id
        )
    assert result.outcome is EnrollmentStage.ACTIVE

    partner = Partner(JP_PARTNER)
    skeleton_id = bench_skeleton_id(partner)
    async with _bench_worker(client):
        skeleton = await start_skeleton(client, partner)
        await verify_skeleton(client, partner)
        await review_skeleton(client, partner)
        assert (await skeleton.result()).outcome == "active"
        shape = await _shape(client, skeleton_id)
        skeleton_steps = await pipeline_steps(
            client, skeleton_id, first_run_id=skeleton.first_execution_run_id
        )

    report = (
        f"production {production_steps[0]} events, {production_steps[1]} workflow tasks "
        f"{dict(production)}; skeleton {skeleton_steps[0]} events, {skeleton_steps[1]} "
        f"workflow tasks {dict(shape)}"
    )
    print(report)
    for role in ("parent", "child"):
        production_commands, production_tasks = _split(production[role])
        skeleton_commands, skeleton_tasks = _split(shape[role])
        for timer_event in WAIT_TIMER:
            difference = production_commands[timer_event] - skeleton_commands[timer_event]
            assert difference in (-1, 0, 1), f"{role} {timer_event}: {report}"
            skeleton_commands[timer_event] = production_commands[timer_event]
        assert skeleton_commands == production_commands, f"{role}: {report}"
        assert abs(skeleton_tasks - production_tasks) <= WORKFLOW_TASK_TOLERANCE, (
            f"{role}: {report}"
        )
