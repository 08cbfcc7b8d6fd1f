"""The plumbing every pipeline shares, called only from workflow code.

- `execute` / `check` / `load_policy`: call an activity through its reference in
  contract/activities/ (the only way workflows call activities), with the step's timeout and
  retry policy; `check` turns a lookup's business refusal into the pipeline's own refusal.
- `enforce`: apply a domain rule; its violation becomes the pipeline's non-retryable refusal.
- `StageTracker`: the stage a pipeline is in, what it waits for and until when, its history, and
  the same facts in the search attributes and the UI's current details.
- `PipelineEnded` and `run_pipeline`: jump to an outcome from anywhere; finish it exactly once.
- `send_email` and `step_key`: an effect once per run and step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities import ActivityRef
    from contract.activities.notifications import SEND_EMAIL, EmailRequest
    from contract.activities.policies import PolicyRequest
    from contract.display import display_time
    from contract.errors import business_rejection, to_application_error
    from domain.errors import BusinessRuleViolation, WrongStage
    from domain.messages import StageChange, Withdrawal
    from domain.notifications import EmailFacts
    from workflows.business_metrics import pipeline_ended, pipeline_started

LOOKUP_TIMEOUT = timedelta(seconds=30)
STEP_TIMEOUT = timedelta(minutes=2)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))

_In = TypeVar("_In")
_Out = TypeVar("_Out")
_Stage = TypeVar("_Stage", bound=StrEnum)


# ---- activities ---------------------------------------------------------------------------------


async def execute(
    activity: ActivityRef[_In, _Out],
    arg: _In,
    *,
    start_to_close: timedelta = STEP_TIMEOUT,
    schedule_to_close: timedelta | None = None,
    retry: RetryPolicy | None = RETRY,
    summary: str | None = None,
) -> _Out:
    """Run one activity and return its typed result. `summary` (default: the reference's) is the
    short text the Web UI shows for the call; never personal data."""
    result: _Out = await workflow.execute_activity(
        activity.name,
        arg,
        result_type=activity.output,
        start_to_close_timeout=start_to_close,
        schedule_to_close_timeout=schedule_to_close,
        retry_policy=retry,
        summary=summary or activity.summary,
    )
    return result


async def check(activity: ActivityRef[_In, _Out], arg: _In) -> _Out:
    """Run a lookup; its business refusal is re-raised as the pipeline's own ApplicationError."""
    try:
        return await execute(activity, arg, start_to_close=LOOKUP_TIMEOUT)
    except Exception as err:
        rejection = business_rejection(err)
        if rejection is None:
            raise
        raise ApplicationError(
            rejection.message, *rejection.details, type=rejection.type, non_retryable=True
        ) from err


async def load_policy(activity: ActivityRef[PolicyRequest, _Out]) -> _Out:
    """The operator settings this pipeline runs by, recorded in its history when it starts."""
    return await execute(
        activity,
        PolicyRequest(pipeline=workflow.info().workflow_type),
        start_to_close=LOOKUP_TIMEOUT,
        retry=None,
    )


def enforce(rule: Callable[..., _Out], *args: Any, **kwargs: Any) -> _Out:
    """Apply a domain rule; its violation becomes the pipeline's non-retryable ApplicationError."""
    try:
        return rule(*args, **kwargs)
    except BusinessRuleViolation as violation:
        raise to_application_error(violation) from violation


def refuse(violation: BusinessRuleViolation) -> ApplicationError:
    """An update validator's refusal: the caller reads the rule's type and message."""
    return to_application_error(violation)


def wrong_stage(message: str, stage: str | None = None) -> ApplicationError:
    return refuse(WrongStage(message, stage=stage) if stage else WrongStage(message))


# ---- effects ------------------------------------------------------------------------------------


def step_key(step: str) -> str:
    """The idempotency key of one side effect of this run."""
    info = workflow.info()
    return f"{info.workflow_id}:{info.run_id}:{step}"


async def send_email(facts: EmailFacts, step: str) -> None:
    """Mail once per run and step; a mailbox that refuses mail must not block the pipeline."""
    try:
        await execute(
            SEND_EMAIL,
            EmailRequest(idempotency_key=step_key(f"email:{step}"), facts=facts),
            summary=f"Email '{facts.kind.value}' ({step})",
        )
    except Exception as err:
        rejection = business_rejection(err)
        if rejection is None:
            raise
        workflow.logger.warning("email %s not delivered: %s", step, rejection.message)


# ---- stages and outcomes ------------------------------------------------------------------------


def show_partner(partner_id: str, region: str | None = None) -> None:
    """The search attributes that find this pipeline: the partner, and its region when known."""
    attributes = [names.SA_PARTNER_ID.value_set(partner_id)]
    if region is not None:
        attributes.append(names.SA_REGION.value_set(region))
    workflow.upsert_search_attributes(attributes)


def stage_details(
    stage: str, waiting_for: str | None, deadline: datetime | None, *, ended: bool = False
) -> str:
    """The UI's current details: a first line in words (what the pipeline waits for and until
    when, in the display time zone, to the minute), then the stage."""
    if ended:
        first = f"Ended: {stage}"
    elif waiting_for is None:
        first = f"Working: {stage}"
    else:
        until = f" until {display_time(deadline)}" if deadline else " (no deadline)"
        first = f"Waiting for {waiting_for}{until}"
    return f"{first}\n\nStage: **{stage}**"


def show_stage(
    stage: str, waiting_for: str | None, deadline: datetime | None, *, ended: bool = False
) -> None:
    """Search attributes and the UI's current details for the stage just entered."""
    workflow.upsert_search_attributes(
        [
            names.SA_STAGE.value_set(stage),
            names.SA_NEXT_DEADLINE.value_set(deadline)
            if deadline
            else names.SA_NEXT_DEADLINE.value_unset(),
        ]
    )
    workflow.set_current_details(stage_details(stage, waiting_for, deadline, ended=ended))


class StageTracker(Generic[_Stage]):
    """Where a pipeline is: its stage, what it waits for and until when, and its history.

    Entering a stage also shows it: the `PipelineStage` and `NextDeadline` search attributes (the
    stage value behind `prefix`) and the UI's current details.
    """

    def __init__(
        self,
        first: _Stage,
        waiting_for: str | None = None,
        *,
        prefix: str = "",
        history: tuple[StageChange, ...] = (),
    ) -> None:
        self.stage = first
        self.waiting_for = waiting_for
        self.deadline: datetime | None = None
        self.history: list[StageChange] = list(history)
        self._prefix = prefix

    def enter(
        self,
        stage: _Stage,
        waiting_for: str | None,
        deadline: datetime | None = None,
        *,
        note: str | None = None,
        ended: bool = False,
    ) -> None:
        self.stage = stage
        self.waiting_for = waiting_for
        self.deadline = deadline
        self.history.append(
            StageChange(stage=stage.value, at=workflow.now(), note=note or waiting_for or "")
        )
        show_stage(f"{self._prefix}{stage.value}", waiting_for, deadline, ended=ended)

    def end(self, outcome: _Stage, note: str | None = None) -> None:
        """The final stage; the `Outcome` search attribute says how the pipeline ended."""
        self.enter(outcome, None, note=note, ended=True)
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set(outcome.value)])


class PipelineEnded(Exception):
    """Raised anywhere inside a pipeline to jump to its outcome."""

    def __init__(self, outcome: StrEnum, reason: str, error_type: str | None = None) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.error_type = error_type


def withdrawn(outcome: StrEnum, withdrawal: Withdrawal) -> PipelineEnded:
    return PipelineEnded(outcome, f"withdrawn by {withdrawal.requested_by}: {withdrawal.reason}")


async def run_pipeline(
    *,
    prechecks: Callable[[], Awaitable[None]],
    steps: Callable[[], Awaitable[PipelineEnded]],
    refused: StrEnum,
    finish: Callable[[PipelineEnded], Awaitable[None]],
    first_run: bool = True,
) -> PipelineEnded:
    """Run a pipeline to exactly one outcome and finish it (`finish` records and tells).

    A pre-check refusal is finished as `refused` and re-raised, so the workflow fails with the
    rule's stable error type. Any `PipelineEnded` raised by the steps is their outcome. The
    business counters count the start (of the first run, not of a continuation) and the outcome.
    The pipeline returns only once every update handler has answered.
    """
    pipeline = workflow.info().workflow_type
    if first_run:
        pipeline_started(pipeline)

    async def finish_counted(ended: PipelineEnded) -> None:
        pipeline_ended(pipeline, ended.outcome.value, ended.error_type)
        await finish(ended)

    try:
        try:
            await prechecks()
        except ApplicationError as refusal:
            await finish_counted(PipelineEnded(refused, refusal.message, refusal.type))
            raise
        ended = await steps()
    except PipelineEnded as outcome:
        ended = outcome
    await finish_counted(ended)
    await workflow.wait_condition(workflow.all_handlers_finished)
    return ended
