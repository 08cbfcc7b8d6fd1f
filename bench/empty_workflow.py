"""The ceiling's workflow (bench/limits.py): it does nothing, in a module of its own."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.skeletons import EMPTY_WORKFLOW


@workflow.defn(name=EMPTY_WORKFLOW)
class EmptyWorkflow:
    """Starts and completes in its first workflow task: what a server does per workflow at the
    least (its rate is the ceiling a pipeline's rate is read against, bench/limits.py)."""

    @workflow.run
    async def run(self) -> None:
        return None
