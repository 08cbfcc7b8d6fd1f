"""Gauges of the open pipelines, read from Temporal's visibility store: how many run, by
pipeline and stage; how many have their next deadline within the coming week; how many wait past
it. A worker lists the running pipelines every CSP_PIPELINE_GAUGE_SECONDS and sets:

| gauge | labels |
|---|---|
| `csp_pipelines_running` | `pipeline`, `stage` (search attribute PipelineStage) |
| `csp_deadlines_due_week` | `pipeline`: NextDeadline within 7 days |
| `csp_pipelines_past_deadline` | `pipeline`: NextDeadline already passed, still running |

Every replica reports the same values: dashboards take `max` over instances."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client, WorkflowExecution
from temporalio.common import MetricMeter
from temporalio.runtime import Runtime
from temporalio.service import RPCError

from contract import names as contract

log = structlog.get_logger(__name__)

PIPELINES_RUNNING = "csp_pipelines_running"
DEADLINES_DUE_WEEK = "csp_deadlines_due_week"
PIPELINES_PAST_DEADLINE = "csp_pipelines_past_deadline"
GAUGES = (PIPELINES_RUNNING, DEADLINES_DUE_WEEK, PIPELINES_PAST_DEADLINE)

PIPELINE_TYPES = (
    contract.RESELLER_ENROLLMENT,
    contract.DIRECT_BILL_APPLICATION,
    contract.REASSESSMENT_SWEEP,
    contract.PARTNER_REASSESSMENT,
    contract.TRANSITION_TO_INDIRECT,
    contract.PARTNERSHIP,
    contract.CUSTOMER_INVITATION,
    contract.SUBSCRIPTION_ORDER,
    contract.POR_SWEEP,
)
RUNNING_QUERY = "ExecutionStatus = 'Running' AND WorkflowType IN ({})".format(
    ", ".join(f"'{name}'" for name in PIPELINE_TYPES)
)
WEEK = timedelta(days=7)

Key = tuple[str, ...]


def tally(executions: Iterable[WorkflowExecution], now: datetime) -> dict[str, Counter[Key]]:
    """The gauge values of a listing of running pipelines."""
    counts: dict[str, Counter[Key]] = {name: Counter() for name in GAUGES}
    for execution in executions:
        attributes = execution.typed_search_attributes
        stage = attributes.get(contract.SA_STAGE) or "unknown"
        counts[PIPELINES_RUNNING][(execution.workflow_type, stage)] += 1
        deadline = attributes.get(contract.SA_NEXT_DEADLINE)
        if deadline is None:
            continue
        if deadline < now:
            counts[PIPELINES_PAST_DEADLINE][(execution.workflow_type,)] += 1
        elif deadline < now + WEEK:
            counts[DEADLINES_DUE_WEEK][(execution.workflow_type,)] += 1
    return counts


_LABELS = {
    PIPELINES_RUNNING: ("pipeline", "stage"),
    DEADLINES_DUE_WEEK: ("pipeline",),
    PIPELINES_PAST_DEADLINE: ("pipeline",),
}
_DESCRIPTIONS = {
    PIPELINES_RUNNING: "Running pipelines by stage",
    DEADLINES_DUE_WEEK: "Running pipelines whose next deadline falls within 7 days",
    PIPELINES_PAST_DEADLINE: "Running pipelines waiting past their next deadline",
}


class PipelineGauges:
    def __init__(self, meter: MetricMeter) -> None:
        self._gauges = {name: meter.create_gauge(name, _DESCRIPTIONS[name]) for name in GAUGES}
        self._reported: dict[str, set[Key]] = {name: set() for name in GAUGES}
        # Every pipeline appears at 0 from the first report on, so a rate or max has a series.
        for pipeline in PIPELINE_TYPES:
            self._reported[DEADLINES_DUE_WEEK].add((pipeline,))
            self._reported[PIPELINES_PAST_DEADLINE].add((pipeline,))

    def report(self, counts: dict[str, Counter[Key]]) -> None:
        for name, gauge in self._gauges.items():
            keys = self._reported[name] | set(counts[name])
            for key in keys:
                gauge.set(counts[name].get(key, 0), dict(zip(_LABELS[name], key, strict=True)))
            self._reported[name] = keys

    async def refresh(self, client: Client, now: datetime | None = None) -> None:
        executions = [e async for e in client.list_workflows(RUNNING_QUERY)]
        self.report(tally(executions, now or datetime.now(UTC)))


@contextlib.asynccontextmanager
async def report_pipeline_gauges(client: Client, every_seconds: float) -> AsyncIterator[None]:
    """Refresh the gauges every `every_seconds` while the block runs (0: never)."""
    if every_seconds <= 0:
        yield
        return
    runtime = client.service_client.config.runtime or Runtime.default()
    gauges = PipelineGauges(runtime.metric_meter)

    async def loop() -> None:
        while True:
            try:
                await gauges.refresh(client)
            except RPCError as err:  # visibility unavailable (e.g. the time-skipping server)
                log.warning("pipeline_gauges_not_refreshed", error=str(err))
            await asyncio.sleep(every_seconds)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
