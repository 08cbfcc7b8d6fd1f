"""The product's Temporal Schedules, ensured (created, or brought up to date) on every start of the
worker and by `csp schedules ensure`. Ensuring never fails because a schedule exists.

The schedule's state (paused or not, and its note) is the operator's word: ensuring never
changes it (issue 18). The product's guidance lives where it is not replaced: the schedule's
memo (`guidance`, set when created) and each started workflow's summary and details, which the
Web UI shows on the workflow's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from contract import names
from domain.por_sweep import PorSweepRequest
from domain.reassessment import SweepRequest
from runtime.settings import Settings


@dataclass(frozen=True)
class ScheduleDefinition:
    schedule_id: str
    workflow_type: str
    workflow_id: str
    spec: ScheduleSpec
    overlap: ScheduleOverlapPolicy
    guidance: str
    """What the schedule does and how to operate it (memo and the started workflow's details)."""
    summary: str
    """One line: the started workflow's summary in the Web UI."""
    args: tuple[Any, ...] = ()
    catchup_window: timedelta = timedelta(days=1)
    task_queue: str = names.TASK_QUEUE

    def schedule(self, state: ScheduleState | None = None) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                self.workflow_type,
                args=self.args,
                id=self.workflow_id,
                task_queue=self.task_queue,
                static_summary=self.summary,
                static_details=self.guidance,
            ),
            spec=self.spec,
            policy=SchedulePolicy(overlap=self.overlap, catchup_window=self.catchup_window),
            state=state or ScheduleState(),
        )


def annual_reassessment(zone_name: str = "UTC") -> ScheduleDefinition:
    """The monthly sweep at 02:00 on the first day of every month in the business time zone
    (DB-07: date rules count calendar dates there), which the sweep reads its month in."""
    return ScheduleDefinition(
        schedule_id=names.REASSESSMENT_SCHEDULE_ID,
        workflow_type=names.REASSESSMENT_SWEEP,
        workflow_id=names.SWEEP_WORKFLOW_ID,
        # The action input the Web UI shows is `{}` (in UTC) or just the zone: the sweep's
        # carried state (cursor, summary, outstanding ids) belongs to its continue-as-new runs,
        # not to the schedule (issue 15).
        args=(
            SweepRequest(month_zone=None if zone_name == "UTC" else zone_name).model_dump(
                mode="json", exclude_defaults=True
            ),
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(0)],
                    hour=[ScheduleRange(2)],
                    day_of_month=[ScheduleRange(1)],
                )
            ],
            time_zone_name=zone_name,
        ),
        # Months overlap safely: each sweep reads its own scheduled month, and partner ids make a
        # second sweep of the same month start nobody twice.
        overlap=ScheduleOverlapPolicy.ALLOW_ALL,
        catchup_window=timedelta(days=7),
        summary="Monthly direct-bill re-assessment sweep",
        guidance=(
            "Monthly direct-bill sweep: re-assesses partners in their support-plan renewal month "
            "(RA-01) and re-validates security in their onboarding-anniversary month (DB-04). "
            "Backfill a past month to re-assess that month's partners. Pause it with a note "
            "saying why; the product never changes a pause or its note."
        ),
    )


ANNUAL_REASSESSMENT = annual_reassessment()


def pipeline_reconciler(every: timedelta = timedelta(hours=1)) -> ScheduleDefinition:
    """The reconciler of pipelines closed without an outcome (issue 18), every `every`."""
    return ScheduleDefinition(
        schedule_id=names.RECONCILER_SCHEDULE_ID,
        workflow_type=names.PIPELINE_RECONCILER,
        workflow_id=names.RECONCILER_WORKFLOW_ID,
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        overlap=ScheduleOverlapPolicy.SKIP,
        catchup_window=every,
        summary="Reconcile pipelines closed without an outcome",
        guidance=(
            "Finds registry rows (reseller enrollments `enrolling`, direct-bill applications "
            "`applying`) whose pipeline Temporal closed without recording an outcome "
            "(terminated, timed out, failed), records the real closure and emails operations. "
            "Trigger it after terminating a pipeline to record it at once."
        ),
    )


def por_validation_sweep(every: timedelta = timedelta(days=7)) -> ScheduleDefinition:
    """REL-07: every active partnership's reseller checked with `validateresellers`, every
    `every` (weekly by default)."""
    return ScheduleDefinition(
        schedule_id=names.POR_SWEEP_SCHEDULE_ID,
        workflow_type=names.POR_SWEEP,
        workflow_id=names.POR_SWEEP_WORKFLOW_ID,
        # `{}`: the cursor and tally belong to the sweep's continue-as-new runs.
        args=(PorSweepRequest().model_dump(mode="json", exclude_defaults=True),),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        # One sweep at a time: a sweep still running when the next is due makes it skip.
        overlap=ScheduleOverlapPolicy.SKIP,
        catchup_window=timedelta(days=1),
        summary="Check every partnered reseller's Partner of Record validity",
        guidance=(
            "Checks the reseller of every active partnership with Partner Center's "
            "validateresellers, records each result with its reason in the registry and emails "
            "operations one report (counts, each invalid reseller with its reason and what to "
            "do). `csp por-report` shows the latest report. Trigger it to check now; pause it "
            "with a note saying why; the product never changes a pause or its note."
        ),
    )


SCHEDULES: tuple[ScheduleDefinition, ...] = (
    ANNUAL_REASSESSMENT,
    pipeline_reconciler(),
    por_validation_sweep(),
)


def schedules_for(settings: Settings | None) -> tuple[ScheduleDefinition, ...]:
    """The schedules with the operator's settings (the reconciler's and POR sweep's intervals)."""
    if settings is None:
        return SCHEDULES
    every = timedelta(minutes=settings.reconcile_interval_minutes)
    return (
        annual_reassessment(settings.business_time_zone),
        pipeline_reconciler(every),
        por_validation_sweep(timedelta(days=settings.por_sweep_interval_days)),
    )


async def ensure_schedule(client: Client, definition: ScheduleDefinition) -> str:
    """Create the schedule, or update it in place; returns "created" or "updated"."""
    try:
        await client.create_schedule(
            definition.schedule_id,
            definition.schedule(),
            memo={"guidance": definition.guidance},
        )
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def keep_operator_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
        # The state as the operator left it: paused or not, note, remaining actions.
        return ScheduleUpdate(schedule=definition.schedule(current.description.schedule.state))

    await client.get_schedule_handle(definition.schedule_id).update(keep_operator_state)
    return "updated"


async def ensure_schedules(
    client: Client, settings: Settings | None = None
) -> list[tuple[str, str]]:
    return [(d.schedule_id, await ensure_schedule(client, d)) for d in schedules_for(settings)]
