"""The reconciler's side effects: the registry's in-progress rows, how Temporal closed their
pipelines (describe through the worker's own client), and the closure recorded."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from adapters.registry import PartnerRegistry
from contract.activities.reconciler import (
    DESCRIBE_CLOSURE,
    LIST_OPEN_RECORDS,
    RECORD_CLOSURE,
    ClosureFound,
    ClosureLookup,
    ClosureRecorded,
    OpenRecords,
    OpenRecordsRequest,
)
from domain.reconciliation import ClosedPipeline, PipelineClosure

_CLOSURES = {
    WorkflowExecutionStatus.TERMINATED: PipelineClosure.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT: PipelineClosure.TIMED_OUT,
    WorkflowExecutionStatus.FAILED: PipelineClosure.FAILED,
}


class ReconcilerActivities:
    def __init__(self, registry: PartnerRegistry) -> None:
        self._registry = registry

    @activity.defn(name=LIST_OPEN_RECORDS.name)
    async def list_open_pipeline_records(self, request: OpenRecordsRequest) -> OpenRecords:
        return OpenRecords(records=tuple(await self._registry.list_open_pipelines(request.limit)))

    @activity.defn(name=DESCRIBE_CLOSURE.name)
    async def describe_pipeline_closure(self, lookup: ClosureLookup) -> ClosureFound:
        handle = activity.client().get_workflow_handle(lookup.workflow_id)
        try:
            described = await handle.describe()
        except RPCError as err:
            if err.status == RPCStatusCode.NOT_FOUND:
                activity.logger.warning("pipeline %s is unknown to Temporal", lookup.workflow_id)
                return ClosureFound(closure=None)
            raise
        closure = _CLOSURES.get(described.status) if described.status else None
        return ClosureFound(closure=closure, closed_at=described.close_time)

    @activity.defn(name=RECORD_CLOSURE.name)
    async def record_pipeline_closure(self, closed: ClosedPipeline) -> ClosureRecorded:
        return ClosureRecorded(recorded=await self._registry.record_pipeline_closure(closed))
