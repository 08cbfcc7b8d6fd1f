"""The product's Temporal Schedules, ensured (created, or brought up to date) on every start of the
worker and by `csp schedules ensure`. Ensuring never fails because a schedule exists, and never
undoes an operator's pause."""

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
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from contract import names
from domain.reassessment import SweepRequest


@dataclass(frozen=True)
class ScheduleDefinition:
    schedule_id: str
    workflow_type: str
    workflow_id: str
    spec: ScheduleSpec
    overlap: ScheduleOverlapPolicy
    note: str
    args: tuple[Any, ...] = ()
    catchup_window: timedelta = timedelta(days=1)
    task_queue: str = names.TASK_QUEUE

    def schedule(self, state: ScheduleState | None = None) -> Schedule:
        return Schedule(
            action=ScheduleActionStartWorkflow(
                self.workflow_type, args=self.args, id=self.workflow_id, task_queue=self.task_queue
            ),
            spec=self.spec,
            policy=SchedulePolicy(overlap=self.overlap, catchup_window=self.catchup_window),
            state=state or ScheduleState(note=self.note),
        )


ANNUAL_REASSESSMENT = ScheduleDefinition(
    schedule_id=names.REASSESSMENT_SCHEDULE_ID,
    workflow_type=names.REASSESSMENT_SWEEP,
    workflow_id=names.SWEEP_WORKFLOW_ID,
    # The action input the Web UI shows is just `{}`: the sweep's carried state (cursor, summary,
    # outstanding ids) belongs to its continue-as-new runs, not to the schedule (issue 15).
    args=(SweepRequest().model_dump(mode="json", exclude_defaults=True),),
    # 02:00 UTC on the first day of every month.
    spec=ScheduleSpec(
        calendars=[
            ScheduleCalendarSpec(
                second=[ScheduleRange(0)],
                minute=[ScheduleRange(0)],
                hour=[ScheduleRange(2)],
                day_of_month=[ScheduleRange(1)],
            )
        ],
        time_zone_name="UTC",
    ),
    # Months overlap safely: each sweep reads its own scheduled month, and partner ids make a
    # second sweep of the same month start nobody twice.
    overlap=ScheduleOverlapPolicy.ALLOW_ALL,
    catchup_window=timedelta(days=7),
    note=(
        "Monthly direct-bill sweep: re-assesses partners in their support-plan renewal month "
        "(RA-01) and re-validates security in their onboarding-anniversary month (DB-04). "
        "Backfill a past month to re-assess that month's partners."
    ),
)

SCHEDULES: tuple[ScheduleDefinition, ...] = (ANNUAL_REASSESSMENT,)


async def ensure_schedule(client: Client, definition: ScheduleDefinition) -> str:
    """Create the schedule, or update it in place; returns "created" or "updated"."""
    try:
        await client.create_schedule(definition.schedule_id, definition.schedule())
        return "created"
    except ScheduleAlreadyRunningError:
        pass

    def keep_operator_state(current: ScheduleUpdateInput) -> ScheduleUpdate:
        state = current.description.schedule.state
        state.note = definition.note if not state.paused else state.note
        return ScheduleUpdate(schedule=definition.schedule(state))

    await client.get_schedule_handle(definition.schedule_id).update(keep_operator_state)
    return "updated"


async def ensure_schedules(client: Client) -> list[tuple[str, str]]:
    return [(d.schedule_id, await ensure_schedule(client, d)) for d in SCHEDULES]
