"""What shows how close a benchmark is to the server's limit, measured in the same run: the durable
steps a pipeline takes (history events and workflow tasks, children and continued runs included),
the CPU the worker and the dev server spend per pipeline, and the rate of empty workflows on that
same server (the ceiling: a workflow that completes in its first workflow task).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.harness import SKELETON_QUEUE, Server, bounded, cpu_seconds, median
from bench.skeletons import EMPTY_WORKFLOW

_empty_ids = itertools.count(1)


@dataclass(frozen=True)
class HistoryShape:
    """Mean history events and workflow tasks (WorkflowTaskCompleted events) per pipeline over a
    sample of finished pipelines."""

    sampled: int
    events: float
    workflow_tasks: float

    def describe(self) -> str:
        return (
            f"{self.events:.0f} history events, {self.workflow_tasks:.0f} workflow tasks per "
            f"pipeline (children included; {self.sampled} sampled)"
        )


async def pipeline_steps(
    client: Client, workflow_id: str, *, first_run_id: str | None = None
) -> tuple[int, int]:
    """(history events, workflow tasks) of the pipeline `workflow_id`: every run of it and of
    every child it started, followed through the histories. `first_run_id` (the start's run id)
    saves looking it up (the time-skipping test server cannot describe every workflow)."""
    events = tasks = 0
    pending: list[tuple[str, str | None]] = [(workflow_id, first_run_id)]
    seen: set[tuple[str, str | None]] = set()
    first = first_run_id is None
    while pending:
        wid, run_id = pending.pop()
        if (wid, run_id) in seen:
            continue
        seen.add((wid, run_id))
        handle = client.get_workflow_handle(wid, run_id=run_id)
        if first:
            # Start from the first run: the latest one's history does not lead back to it.
            info = (await handle.describe()).raw_description.workflow_execution_info
            handle = client.get_workflow_handle(wid, run_id=info.first_run_id or None)
            first = False
        async for event in handle.fetch_history_events():
            events += 1
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                tasks += 1
            if event.HasField("child_workflow_execution_started_event_attributes"):
                child = event.child_workflow_execution_started_event_attributes.workflow_execution
                pending.append((child.workflow_id, child.run_id))
            if event.HasField("workflow_execution_continued_as_new_event_attributes"):
                attributes = event.workflow_execution_continued_as_new_event_attributes
                pending.append((wid, attributes.new_execution_run_id))
    return events, tasks


async def history_shape(client: Client, workflow_ids: Sequence[str]) -> HistoryShape:
    counted = [await pipeline_steps(client, wid) for wid in workflow_ids]
    if not counted:
        raise ValueError("no finished pipeline to sample")
    return HistoryShape(
        sampled=len(counted),
        events=sum(e for e, _ in counted) / len(counted),
        workflow_tasks=sum(t for _, t in counted) / len(counted),
    )


def sample(ids: Iterable[str], size: int = 5) -> list[str]:
    """Up to `size` ids spread over the batch (first, last and between)."""
    listed = list(ids)
    if len(listed) <= size:
        return listed
    step = (len(listed) - 1) / (size - 1)
    return [listed[round(i * step)] for i in range(size)]


async def finished_sample(
    client: Client, workflow_type: str, task_queue: str, size: int = 5
) -> list[str]:
    """Ids of up to `size` completed workflows of `workflow_type` on `task_queue` (visibility)."""
    query = (
        f'WorkflowType = "{workflow_type}" AND TaskQueue = "{task_queue}" '
        f'AND ExecutionStatus = "Completed"'
    )
    return [execution.id async for execution in client.list_workflows(query, limit=size)]


@dataclass(frozen=True)
class CpuUse:
    """CPU per item (ms) of the worker processes (all together, and each) and the dev server over
    one batch."""

    worker_ms: float
    server_ms: float
    workers_ms: tuple[float, ...] = ()

    def describe_workers(self) -> str:
        """`worker 150 ms`, or with several processes `workers 150 ms (80 + 70)`."""
        if len(self.workers_ms) <= 1:
            return f"worker {self.worker_ms:.0f} ms"
        each = " + ".join(f"{ms:.0f}" for ms in self.workers_ms)
        return f"workers {self.worker_ms:.0f} ms ({each})"


def _pids(worker_pids: int | Sequence[int]) -> tuple[int, ...]:
    return (worker_pids,) if isinstance(worker_pids, int) else tuple(worker_pids)


class CpuMeter:
    """CPU the worker processes and the dev server use between `start` and `per(items)`, read
    from /proc/<pid>/stat (user + system, children not included)."""

    def __init__(self, server: Server, worker_pids: int | Sequence[int]) -> None:
        self._server_pid = server.pid
        self._worker_pids = _pids(worker_pids)
        self._start: tuple[float, ...] = ()

    def _now(self) -> tuple[float, ...]:
        return (cpu_seconds(self._server_pid), *(cpu_seconds(p) for p in self._worker_pids))

    def start(self) -> None:
        self._start = self._now()

    def per(self, items: int) -> CpuUse:
        used = [
            1000 * (after - before) / items
            for before, after in zip(self._start, self._now(), strict=True)
        ]
        server, workers = used[0], tuple(used[1:])
        return CpuUse(worker_ms=sum(workers), server_ms=server, workers_ms=workers)


@dataclass(frozen=True)
class Ceiling:
    """Empty workflows started and completed per second on the server, and the CPU per workflow."""

    rate: float
    cpu: CpuUse


async def empty_workflows(server: Server, count: int, worker_pids: int | Sequence[int]) -> Ceiling:
    """Run `count` empty workflows at once (as many in flight as a pipeline batch) on the skeleton
    task queue of the bench worker(s) and time them from the first start to the last result."""
    meter = CpuMeter(server, worker_pids)
    batch = next(_empty_ids)

    async def one(index: int) -> None:
        await server.client.execute_workflow(
            EMPTY_WORKFLOW, id=f"bench-empty-{batch}-{index}", task_queue=SKELETON_QUEUE
        )

    meter.start()
    started = time.perf_counter()
    await bounded(range(count), 1000, one)
    seconds = time.perf_counter() - started
    return Ceiling(rate=count / seconds, cpu=meter.per(count))


def describe_ceiling(ceilings: Sequence[Ceiling]) -> str:
    rate = median([c.rate for c in ceilings])
    server_ms = median([c.cpu.server_ms for c in ceilings])
    worker_ms = median([c.cpu.worker_ms for c in ceilings])
    processes = max(len(c.cpu.workers_ms) for c in ceilings)
    workers = "worker" if processes <= 1 else f"{processes} workers together"
    return (
        f"empty workflows (the server's ceiling): median {rate:.1f} workflows/s; CPU per "
        f"workflow: dev server {server_ms:.0f} ms, {workers} {worker_ms:.0f} ms "
        f"({len(ceilings)} batches)"
    )
