"""What the bench-only workflows share: their names, messages, the `bench_noop` activity and the
steps the skeletons take. The workflows themselves (no-op skeletons of exactly the production
shapes, the trivial per-partner re-assessment the sweep benchmark uses as its baseline, the empty
workflow of the ceiling) live one per module, as production's do: `bench/skeleton_enrollment.py`,
`bench/skeleton_email_verification.py`, `bench/skeleton_reassessment.py`,
`bench/trivial_reassessment.py`, `bench/empty_workflow.py`.

The workflow modules import this one through the sandbox (`imports_passed_through`), as production
imports `domain`, `contract` and `workflows.pipeline`. The sandbox runs a workflow's own module
again for every instance: when the skeletons, their pydantic models and these helpers shared one
module, every skeleton instance paid for all of it, more than a production instance pays for its
own module, and the comparison flattered production.

They run only on the bench task queues (bench/harness.py), beside the production worker. A
skeleton issues the same commands to the server in the same order as its pipeline (the
lean patch marker, activities and local activities, search-attribute upserts, child workflow,
updates, timers) but each activity, local or not, is `bench_noop` and there is no business
logic, no SMTP, no registry, no Partner Center. Where the pipeline reads through
`pipeline.lookup` or writes its own record through `pipeline.record` as a local activity, the
skeleton runs `bench_noop` as a local activity with the same timeout and retry policy; its other
writes stay normal activities. tests/test_bench_skeleton_shape.py holds the enrollment skeleton
to production's history shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from contract import names
    from domain.reassessment import ReassessmentOutcome, ReassessmentRequest
    from workflows.pipeline import (
        LEAN_LOOKUPS_PATCH,
        LOCAL_RETRY_THRESHOLD,
        LOOKUP_TIMEOUT,
        RETRY,
    )

SKELETON_ENROLLMENT = "BenchSkeletonEnrollment"
SKELETON_EMAIL_VERIFICATION = "BenchSkeletonEmailVerification"
EMPTY_WORKFLOW = "BenchEmptyWorkflow"

_STEP = timedelta(minutes=2)
WAIT = timedelta(days=30)


class NoopStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: str


class NoopDone(BaseModel):
    step: str


class SkeletonStatus(BaseModel):
    stage: str


@activity.defn(name="bench_noop")
async def noop(step: NoopStep) -> NoopDone:
    return NoopDone(step=step.step)


async def write(step: str) -> None:
    """A write: a normal activity (its own scheduled/started/completed events)."""
    await workflow.execute_activity(noop, NoopStep(step=step), start_to_close_timeout=_STEP)


async def lookup(step: str, start_to_close: timedelta = LOOKUP_TIMEOUT) -> None:
    """A read as `pipeline.lookup` runs it in a lean run: a local activity (one marker), with the
    read's timeout, the bounded `RETRY` and the same local retry threshold."""
    await workflow.execute_local_activity(
        noop,
        NoopStep(step=step),
        start_to_close_timeout=start_to_close,
        retry_policy=RETRY,
        local_retry_threshold=LOCAL_RETRY_THRESHOLD,
    )


def lean(patch: str = LEAN_LOOKUPS_PATCH) -> None:
    """The lean patch the pipeline takes, checked once at the start of `run` as production does
    (its marker). The skeleton has only the lean shape, so the answer is not used."""
    workflow.patched(patch)


def partner_attributes(partner_id: str, region: str) -> list[SearchAttributeUpdate[Any]]:
    return [names.SA_PARTNER_ID.value_set(partner_id), names.SA_REGION.value_set(region)]


def enter(stage: str, also: Sequence[SearchAttributeUpdate[Any]] = ()) -> None:
    """The stage's upsert; `also`: more search attributes in the same upsert (one event)."""
    workflow.upsert_search_attributes(
        [names.SA_STAGE.value_set(stage), names.SA_NEXT_DEADLINE.value_unset(), *also]
    )
    workflow.set_current_details(f"**{stage}**")


def passed_outcome(request: ReassessmentRequest) -> ReassessmentOutcome:
    return ReassessmentOutcome(
        workflow_id=workflow.info().workflow_id,
        pga_id=request.pga_id,
        region=request.region,
        passed=True,
    )


async def report_to_sweep(request: ReassessmentRequest, outcome: ReassessmentOutcome) -> None:
    assert request.sweep_workflow_id is not None
    await workflow.get_external_workflow_handle(request.sweep_workflow_id).signal(
        names.SIGNAL_REASSESSMENT_OUTCOME, outcome
    )


class SkeletonResult(BaseModel):
    partner_id: str
    outcome: str
