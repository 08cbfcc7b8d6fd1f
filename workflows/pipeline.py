"""The plumbing every pipeline shares, called only from workflow code.

- `execute` / `lookup` / `check` / `load_policy`: call an activity through its reference in
  contract/activities/ (the only way workflows call activities), with the step's timeout and
  retry policy; `lookup` runs a read as a local activity once the run took `lean_lookups()`;
  `check` turns a lookup's business refusal into the pipeline's own refusal.
- `enforce`: apply a domain rule; its violation becomes the pipeline's non-retryable refusal.
- `StageTracker`: the stage a pipeline is in, what it waits for and until when, its history, and
  the same facts in the search attributes and the UI's current details.
- `PipelineEnded` and `run_pipeline`: jump to an outcome from anywhere; finish it exactly once.
- `send_email` and `step_key`: an effect once per pipeline and step, across reset and
  continue-as-new.
- `DecisionSignals`: every update of a pipeline also accepted as a signal of the same name.
- Cancellation (the Web UI's "Request Cancellation"): `run_pipeline` finishes the pipeline with
  its `cancelled` outcome (record, search attributes, contact) and the workflow ends CANCELED.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.common import RawValue, RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    FailureError,
    RetryState,
    is_cancelled_exception,
)

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities import ActivityRef
    from contract.activities.notifications import SEND_EMAIL, EmailRequest
    from contract.activities.policies import PolicyRequest
    from contract.display import display_time
    from contract.errors import business_rejection, to_application_error
    from domain.errors import BusinessRuleViolation, WrongStage
    from domain.messages import DELIVERY_ID_FIELD, SignalRefusal, StageChange, Withdrawal
    from domain.notifications import EmailFacts
    from workflows.business_metrics import pipeline_ended, pipeline_started

LOOKUP_TIMEOUT = timedelta(seconds=30)
STEP_TIMEOUT = timedelta(minutes=2)
RETRY_ATTEMPTS = 20
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5), maximum_attempts=RETRY_ATTEMPTS)
"""Every activity's default: 20 attempts, backing off to 5 minutes (about an hour in all). When
they are spent the pipeline shows `Attention` and fails (see `execute`); it never retries quietly
forever."""

ATTENTION_PATCH = "attention-on-exhausted-retries"
"""Guards the `Attention` search attribute set when an activity's retries are spent."""

ID_MISMATCH_ERROR_TYPE = "WorkflowIdMismatch"

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
    short text the Web UI shows for the call; never personal data.

    `retry=None` means the bounded default `RETRY`. A failure that is no business refusal (its
    retries are spent, or the activity said retrying cannot fix it: bad stored data, a value the
    database refuses) sets the `Attention` search attribute (the step and the error type) before
    it propagates, so operators find the pipeline instead of it failing silently."""
    try:
        result: _Out = await workflow.execute_activity(
            activity.name,
            arg,
            result_type=activity.output,
            start_to_close_timeout=start_to_close,
            schedule_to_close_timeout=schedule_to_close,
            retry_policy=retry or RETRY,
            summary=summary or activity.summary,
        )
    except ActivityError as err:
        _attention_unless_business(activity, err)
        raise
    return result


LOCAL_RETRY_THRESHOLD = timedelta(seconds=5)
"""A local activity's retry waits up to this long inside the workflow task; a longer backoff waits
on a durable timer (a failing read does not hold the workflow task for minutes)."""

LEAN_LOOKUPS_PATCH = "lean-lookups"
"""Issue 17: reads that need no retry history of their own run as local activities (`lookup`),
one marker each inside the workflow task, where older histories scheduled a normal activity and
a workflow task per read. A workflow checks it once, at the start of its run (`lean_lookups`)."""


def lean_lookups() -> bool:
    """Whether this run takes its reads as local activities. Call it once at the start of `run`
    and keep the answer: the patch marker is recorded there, before any read, and histories
    recorded before the patch replay their normal activities."""
    return workflow.patched(LEAN_LOOKUPS_PATCH)


LEAN_STEPS_PATCH = "lean-steps"
"""Issue 17, after `lean-lookups`: besides its reads, a pipeline writes its own registry record
as a local activity (`record`) and shows a stage it may leave in the same workflow task only
with the next one (`StageTracker.enter(..., show=False)`). A run that takes it records this one
marker instead of the `lean-lookups` one (it implies it)."""


def started_lean() -> bool:
    """Whether the run's starter set the `names.MEMO_LEAN_STEPS` memo to `true`. Any other value
    (a memo typed by hand) means no: the run decides by the marker, as without the memo, rather
    than failing on a value that only selects the history's shape."""
    return workflow.memo_value(names.MEMO_LEAN_STEPS, None) is True


def lean_steps() -> tuple[bool, bool]:
    """`(lookups, steps)` for this run, decided once at the start of `run` like `lean_lookups`:
    a new run takes both behind the one `lean-steps` marker; a history recorded with
    `lean-lookups` replays `(True, False)`, an older one `(False, False)`.

    A run its starter marked with the `names.MEMO_LEAN_STEPS` memo takes both with no marker,
    and so without the two events the marker costs (the marker and core's
    `TemporalChangeVersion` upsert). The memo is in the history's first event, so its replays
    decide the same way. A worker of an older release that ran the first workflow task ignored
    the memo and recorded the marker: a replay checks the patch, which matches that marker, and
    where there is none records nothing (a replay issues no new command)."""
    if started_lean():
        if workflow.unsafe.is_replaying_history_events():
            workflow.patched(LEAN_STEPS_PATCH)
        return True, True
    if workflow.patched(LEAN_STEPS_PATCH):
        return True, True
    return lean_lookups(), False


def patched_unless_lean(patch_id: str, lean: bool) -> bool:
    """`workflow.patched(patch_id)` for a patch older than `lean-lookups`; True without a marker
    in a run that took `lean-lookups` (that code has the older patch too).

    A patch first checked right after a local activity is not replay-safe: when its workflow
    task was completed between the local activity's marker and the code that follows (a query
    answered, or a heartbeat of a long local activity), the replay resolves the local activity
    before it learns of the patch's marker, answers False, and fails as non-deterministic. A lean
    run records no marker for the older patches, so it has none to miss."""
    return True if lean else workflow.patched(patch_id)


async def lookup(
    activity: ActivityRef[_In, _Out],
    arg: _In,
    *,
    local: bool,
    start_to_close: timedelta = LOOKUP_TIMEOUT,
    retry: RetryPolicy | None = RETRY,
    summary: str | None = None,
) -> _Out:
    """Run a read: a local activity when `local` (the run's `lean_lookups()`), else `execute`.

    Only for reads whose retries need no history of their own (registry and Partner Center
    lookups, policies): the local activity runs in the workflow task and records one marker with
    its result. Its retries are bounded the same way (`retry=None` means `RETRY`; a backoff
    above `LOCAL_RETRY_THRESHOLD` waits on a timer) and each attempt has `start_to_close`.
    Business refusals propagate as they do from `execute`, and any other failure with spent
    retries sets `Attention`.

    A local activity's failure reaches the workflow as the activity's own error (no
    ActivityError around it, unlike a normal activity's); it is wrapped in one here, so callers
    (`check`, `run_pipeline`, the workflow's failure) see the same shape on both paths."""
    if not local:
        return await execute(
            activity, arg, start_to_close=start_to_close, retry=retry, summary=summary
        )
    try:
        result: _Out = await workflow.execute_local_activity(
            activity.name,
            arg,
            result_type=activity.output,
            start_to_close_timeout=start_to_close,
            retry_policy=retry or RETRY,
            local_retry_threshold=LOCAL_RETRY_THRESHOLD,
            summary=summary or activity.summary,
        )
    except FailureError as failure:
        err = (
            failure if isinstance(failure, ActivityError) else _as_activity_error(activity, failure)
        )
        _attention_unless_business(activity, err, lean=True)
        if err is failure:
            raise
        raise err from failure
    return result


async def record(
    activity: ActivityRef[_In, _Out],
    arg: _In,
    *,
    local: bool,
    summary: str | None = None,
) -> _Out:
    """Write this pipeline's own registry record: a local activity when `local` (the run took
    `lean-steps`), else a normal activity.

    Only for a write that may run twice with the same effect: the whole row of the pipeline's
    own business key, replaced by its full value with its `updated_at` (a second run of the same
    attempt writes the same row; the registry keeps the newer `updated_at`). The step's retries
    are bounded as `lookup`'s are and spent retries set `Attention`."""
    return await lookup(activity, arg, local=local, summary=summary)


def _as_activity_error(activity: ActivityRef[Any, Any], failure: FailureError) -> ActivityError:
    """A local activity's failure as the ActivityError a normal activity's would be."""
    if isinstance(failure, CancelledError):
        retry_state = RetryState.CANCEL_REQUESTED
    elif isinstance(failure, ApplicationError) and failure.non_retryable:
        retry_state = RetryState.NON_RETRYABLE_FAILURE
    else:
        retry_state = RetryState.MAXIMUM_ATTEMPTS_REACHED
    error = ActivityError(
        "Local activity task failed",
        scheduled_event_id=0,
        started_event_id=0,
        identity="",
        activity_type=activity.name,
        activity_id="",
        retry_state=retry_state,
    )
    error.__cause__ = failure  # what `business_rejection` and the failure converter read
    return error


def _attention_unless_business(
    activity: ActivityRef[Any, Any], err: ActivityError, *, lean: bool = False
) -> None:
    if (
        business_rejection(err) is None
        and not is_cancelled_exception(err)
        and patched_unless_lean(ATTENTION_PATCH, lean)
    ):
        show_attention(f"{activity.name}: {_error_type(err)}")


def _error_type(err: ActivityError) -> str:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.type or "ApplicationError"
    return type(cause).__name__ if cause is not None else "ActivityError"


def show_attention(reason: str) -> None:
    """The pipeline needs an operator: `Attention` (search attribute) and the UI's details say
    why. Never personal data (search attributes are not encrypted)."""
    workflow.upsert_search_attributes([names.SA_ATTENTION.value_set(reason[:200])])
    workflow.set_current_details(f"Needs an operator: {reason}")
    workflow.logger.error("pipeline needs an operator: %s", reason)


MISSING_INPUT_ERROR_TYPE = "MissingInput"

_Self = TypeVar("_Self")


def init_with_input(
    init: Callable[[_Self, _In], None],
) -> Callable[[_Self, _In], None]:
    """`workflow.init` for a pipeline started with one input: a start without it (no `--input`)
    fails the workflow at once with `MissingInput`, where the SDK's TypeError would fail the
    workflow task forever while the pipeline shows RUNNING."""

    def checked(self: _Self, *args: Any) -> None:
        if len(args) != 1:
            info = workflow.info()
            raise ApplicationError(
                f"{info.workflow_type} {info.workflow_id} was started with {len(args)} input "
                "value(s); it takes exactly one JSON object (its application or request)",
                type=MISSING_INPUT_ERROR_TYPE,
                non_retryable=True,
            )
        init(self, args[0])

    # What functools.wraps copies (the SDK reads the signature and where the method lives).
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(checked, attribute, getattr(init, attribute))
    checked.__wrapped__ = init  # type: ignore[attr-defined]
    return workflow.init(checked)


def any_suffix(rest: str) -> bool:
    """A schedule's start: the schedule's workflow id, then `-` and its timestamp."""
    return rest.startswith("-") and len(rest) > 1


def year_suffix(rest: str) -> bool:
    """`-` and a year, e.g. `-2027`."""
    return len(rest) == 5 and rest.startswith("-") and rest[1:].isdigit()


def require_business_id(expected: str, *, suffix: Callable[[str], bool] | None = None) -> None:
    """One pipeline per business key: refuse to run under any other workflow id.

    `expected` is the id contract/names.py builds from the input's business key; `suffix` says
    what a starter may append (a schedule's timestamp, a year). Checked before anything else
    runs, so the workflow fails at once with a stable, non-retryable type and writes nothing."""
    info = workflow.info()
    actual = info.workflow_id
    if actual == expected:
        return
    if suffix is not None and actual.startswith(expected) and suffix(actual[len(expected) :]):
        return
    raise ApplicationError(
        f"{info.workflow_type} runs only under its business-key workflow id "
        f"{expected!r}{' (+ a suffix)' if suffix else ''}, not {actual!r}",
        {"expected": expected, "actual": actual},
        type=ID_MISMATCH_ERROR_TYPE,
        non_retryable=True,
    )


async def reads(calls: Sequence[Coroutine[Any, Any, _Out]], *, local: bool) -> list[_Out]:
    """Several reads: together as normal activities; one after another as local activities.

    Local activities resolved in the same activation may resume their coroutines in completion
    order when first run and in another order on replay (sdk-python#1573), which makes the next
    command differ. Run in turn they are deterministic and still share the workflow task. The
    first failure ends the reads; the ones not started are closed unstarted."""
    if not local:
        return list(await asyncio.gather(*calls))
    results: list[_Out] = []
    for index, call in enumerate(calls):
        try:
            results.append(await call)
        except BaseException:
            for unstarted in calls[index + 1 :]:
                unstarted.close()
            raise
    return results


async def check(activity: ActivityRef[_In, _Out], arg: _In, *, local: bool = False) -> _Out:
    """Run a lookup; its business refusal is re-raised as the pipeline's own ApplicationError.
    `local` runs it as a local activity (`lookup`): only for reads, never for a write."""
    try:
        return await lookup(activity, arg, local=local)
    except Exception as err:
        rejection = business_rejection(err)
        if rejection is None:
            raise
        raise ApplicationError(
            rejection.message, *rejection.details, type=rejection.type, non_retryable=True
        ) from err


async def load_policy(activity: ActivityRef[PolicyRequest, _Out], *, local: bool = False) -> _Out:
    """The operator settings this pipeline runs by, recorded in its history when it starts
    (a local activity's marker when `local`, see `lookup`)."""
    return await lookup(
        activity, PolicyRequest(pipeline=workflow.info().workflow_type), local=local
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
    """The idempotency key of one side effect of this pipeline.

    Built on the workflow id and the FIRST execution's run id, which a reset (a new run replaying
    the history up to the reset point) and a continue-as-new keep: the replayed decisions reuse
    the keys, so the registry outbox and the outside systems see the effect once (issue 18).
    """
    info = workflow.info()
    return f"{info.workflow_id}:{info.first_execution_run_id}:{step}"


async def send_email(facts: EmailFacts, step: str) -> None:
    """Mail once per pipeline and step; a mailbox that refuses mail must not block the pipeline."""
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


def partner_attributes(
    partner_id: str, region: str | None = None
) -> list[SearchAttributeUpdate[Any]]:
    """The search attributes that find this pipeline: the partner, and its region when known."""
    attributes: list[SearchAttributeUpdate[Any]] = [names.SA_PARTNER_ID.value_set(partner_id)]
    if region is not None:
        attributes.append(names.SA_REGION.value_set(region))
    return attributes


def partner_attributes_not_set(
    partner_id: str, region: str | None = None
) -> list[SearchAttributeUpdate[Any]]:
    """`partner_attributes` less those the starter already set to the same value (a start's
    search attributes are in the history's first event, so the answer replays)."""
    started = workflow.info().typed_search_attributes
    wanted = {names.SA_PARTNER_ID.name: partner_id, names.SA_REGION.name: region}
    return [
        update
        for update in partner_attributes(partner_id, region)
        if started.get(update.key) != wanted[update.key.name]
    ]


def show_partner(partner_id: str, region: str | None = None) -> None:
    """Upsert `partner_attributes` on their own (`StageTracker.enter(..., also=...)` shows them
    with the stage in one upsert)."""
    workflow.upsert_search_attributes(partner_attributes(partner_id, region))


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
    stage: str,
    waiting_for: str | None,
    deadline: datetime | None,
    *,
    ended: bool = False,
    also: Sequence[SearchAttributeUpdate[Any]] = (),
) -> None:
    """Search attributes and the UI's current details for the stage just entered; `also`: more
    search attributes set in the same upsert (one history event)."""
    workflow.upsert_search_attributes(
        [
            names.SA_STAGE.value_set(stage),
            names.SA_NEXT_DEADLINE.value_set(deadline)
            if deadline
            else names.SA_NEXT_DEADLINE.value_unset(),
            *also,
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
        self._unshown: tuple[bool, tuple[SearchAttributeUpdate[Any], ...]] | None = None

    def enter(
        self,
        stage: _Stage,
        waiting_for: str | None,
        deadline: datetime | None = None,
        *,
        note: str | None = None,
        ended: bool = False,
        also: Sequence[SearchAttributeUpdate[Any]] = (),
        show: bool = True,
    ) -> None:
        """Enter `stage`; `also`: more search attributes shown in the stage's upsert.

        `show=False` (only behind `lean-steps`): the stage is entered (history, query, the UI's
        current details) but its search attributes wait for `show()` or the next `enter`, so a
        stage left in the same workflow task costs no upsert of its own (visibility only ever
        saw the last one of a task anyway)."""
        self.stage = stage
        self.waiting_for = waiting_for
        self.deadline = deadline
        self.history.append(
            StageChange(stage=stage.value, at=workflow.now(), note=note or waiting_for or "")
        )
        if self._unshown is not None:  # what the unshown stage would have set besides itself
            also = _merged(self._unshown[1], also)
        self._unshown = None
        if not show:
            self._unshown = (ended, tuple(also))
            workflow.set_current_details(
                stage_details(f"{self._prefix}{stage.value}", waiting_for, deadline, ended=ended)
            )
            return
        show_stage(f"{self._prefix}{stage.value}", waiting_for, deadline, ended=ended, also=also)

    def show(self) -> None:
        """Upsert the search attributes of a stage entered with `show=False` (before waiting)."""
        if self._unshown is None:
            return
        ended, also = self._unshown
        self._unshown = None
        show_stage(
            f"{self._prefix}{self.stage.value}",
            self.waiting_for,
            self.deadline,
            ended=ended,
            also=also,
        )

    def end(self, outcome: _Stage, note: str | None = None, *, one_upsert: bool = False) -> None:
        """The final stage; the `Outcome` search attribute says how the pipeline ended.
        `one_upsert` shows both in one upsert (one history event) where older histories
        recorded two: only behind a patch the workflow took."""
        if one_upsert:
            outcome_set = names.SA_OUTCOME.value_set(outcome.value)
            self.enter(outcome, None, note=note, ended=True, also=[outcome_set])
            return
        self.enter(outcome, None, note=note, ended=True)
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set(outcome.value)])


def _merged(
    first: Sequence[SearchAttributeUpdate[Any]], then: Sequence[SearchAttributeUpdate[Any]]
) -> tuple[SearchAttributeUpdate[Any], ...]:
    """Both lists of search-attribute updates in one; where both set a key, `then` wins."""
    by_key = {update.key.name: update for update in first}
    by_key.update({update.key.name: update for update in then})
    return tuple(by_key.values())


class PipelineEnded(Exception):
    """Raised anywhere inside a pipeline to jump to its outcome."""

    def __init__(self, outcome: StrEnum, reason: str, error_type: str | None = None) -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.error_type = error_type


def withdrawn(outcome: StrEnum, withdrawal: Withdrawal) -> PipelineEnded:
    return PipelineEnded(outcome, f"withdrawn by {withdrawal.requested_by}: {withdrawal.reason}")


CANCELLATION_PATCH = "cancellation-outcome"
"""Guards the cancellation path (its finish runs activities where older code ended at once)."""

CANCELLED_ERROR_TYPE = "PipelineCancelled"


def cancellation_reason() -> str:
    """Who cancelled and why, as far as Temporal tells the workflow (the UI sends no reason)."""
    return "cancelled by an operator request (Temporal cancellation)"


async def run_pipeline(
    *,
    prechecks: Callable[[], Awaitable[None]],
    steps: Callable[[], Awaitable[PipelineEnded]],
    refused: StrEnum,
    finish: Callable[[PipelineEnded], Awaitable[None]],
    first_run: bool = True,
    cancelled: StrEnum | None = None,
    lean: bool = False,
) -> PipelineEnded:
    """Run a pipeline to exactly one outcome and finish it (`finish` records and tells).

    A pre-check refusal is finished as `refused` and re-raised, so the workflow fails with the
    rule's stable error type. Any `PipelineEnded` raised by the steps is their outcome. The
    business counters count the start (of the first run, not of a continuation) and the outcome.
    The pipeline returns only once every update handler has answered.

    A cancellation request (asyncio.CancelledError in the workflow, or an activity or child
    cancelled by it) while the pre-checks or steps run is finished as `cancelled`: the finish runs
    its activities (the request is delivered once, so they are not cancelled again) and the
    cancellation is re-raised, so the workflow ends CANCELED with its record complete.
    `lean`: the run took `lean-lookups` (see `patched_unless_lean`).
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
    except BaseException as err:
        if (
            cancelled is None
            or not is_cancelled_exception(err)
            or not patched_unless_lean(CANCELLATION_PATCH, lean)
        ):
            raise
        await finish_counted(PipelineEnded(cancelled, cancellation_reason(), CANCELLED_ERROR_TYPE))
        await workflow.wait_condition(workflow.all_handlers_finished)
        if isinstance(err, asyncio.CancelledError):
            raise
        raise asyncio.CancelledError(str(err)) from err
    await finish_counted(ended)
    await workflow.wait_condition(workflow.all_handlers_finished)
    return ended


# ---- decisions sent as signals ------------------------------------------------------------------

SIGNAL_REFUSALS_KEPT = 10


class DecisionSignals:
    """Every update of the workflow also accepted as a signal of the same name and payload.

    For backends that can only signal (and the Web UI's "Send a Signal"). Temporal keeps signal
    and update names apart, so `decide_review` the signal and `decide_review` the update coexist.
    The signal's JSON object is the update's payload plus a `delivery_id`; it is validated by the
    update's own validator and applied by the update's own handler, once per delivery id. A
    refused signal is logged and kept in `signal_refusals()` (the `status` query shows it): a
    signal has no answer, so it is never silently dropped. Updates stay the recommended path:
    their caller reads the refusal at once.
    """

    _signal_deliveries: set[str]
    _signal_refusals: list[SignalRefusal]

    def _signal_state(self) -> tuple[set[str], list[SignalRefusal]]:
        if not hasattr(self, "_signal_deliveries"):
            self._signal_deliveries = set()
            self._signal_refusals = []
        return self._signal_deliveries, self._signal_refusals

    def signal_refusals(self) -> tuple[SignalRefusal, ...]:
        return tuple(self._signal_state()[1])

    @workflow.signal(dynamic=True)
    async def _decision_signal(self, name: str, args: Sequence[RawValue]) -> None:
        deliveries, _ = self._signal_state()
        delivery_id: str | None = None
        try:
            payload = _signal_payload(args)
            raw_id = payload.pop(DELIVERY_ID_FIELD, None)
            delivery_id = str(raw_id) if raw_id is not None else None
            if delivery_id is None or not delivery_id.strip():
                raise ApplicationError(
                    f"a decision sent as a signal carries a `{DELIVERY_ID_FIELD}` besides the "
                    f"payload of the `{name}` update",
                    type="DeliveryIdMissing",
                    non_retryable=True,
                )
            if delivery_id in deliveries:
                workflow.logger.info("signal %s delivery %s already applied", name, delivery_id)
                return
            handler, validator, arg_type = _update_parts(self, name)
            try:
                arg = arg_type.model_validate(payload) if _is_model(arg_type) else payload
            except ValueError as err:
                raise ApplicationError(
                    f"the `{name}` payload is not valid: {err}",
                    type="InvalidPayload",
                    non_retryable=True,
                ) from err
            if validator is not None:
                validator(arg)
            deliveries.add(delivery_id)
            result = handler(arg)
            if asyncio.iscoroutine(result):
                await result
            workflow.logger.info("signal %s delivery %s applied", name, delivery_id)
        except ApplicationError as refusal:
            self._refuse_signal(name, delivery_id, refusal.type or "Refused", refusal.message)

    def _refuse_signal(
        self, name: str, delivery_id: str | None, error_type: str, message: str
    ) -> None:
        _, refusals = self._signal_state()
        refusals.append(
            SignalRefusal(
                name=name,
                delivery_id=delivery_id,
                error_type=error_type,
                message=message,
                at=workflow.now(),
            )
        )
        del refusals[:-SIGNAL_REFUSALS_KEPT]
        workflow.logger.warning(
            "signal %s (delivery %s) refused: %s: %s", name, delivery_id, error_type, message
        )


def _signal_payload(args: Sequence[RawValue]) -> dict[str, Any]:
    if len(args) != 1:
        raise ApplicationError(
            f"a decision sent as a signal is one JSON object, not {len(args)} value(s)",
            type="InvalidPayload",
            non_retryable=True,
        )
    try:
        value = workflow.payload_converter().from_payload(args[0].payload, dict)
    except Exception as err:
        raise ApplicationError(
            f"a decision sent as a signal is one JSON object: {err}",
            type="InvalidPayload",
            non_retryable=True,
        ) from err
    if not isinstance(value, dict):
        raise ApplicationError(
            "a decision sent as a signal is one JSON object",
            type="InvalidPayload",
            non_retryable=True,
        )
    return dict(value)


def _update_parts(
    instance: object, name: str
) -> tuple[Callable[[Any], Any], Callable[[Any], None] | None, Any]:
    """The update's handler, its validator and its argument type (the SDK's own definition)."""
    # The SDK's workflow definition (pinned temporalio) is the one place that knows an update's
    # validator; the public API offers the handler only.
    definition = workflow._Definition.must_from_class(type(instance))
    update = definition.updates.get(name)
    if update is None or update.name is None:
        raise ApplicationError(
            f"`{name}` is not a decision of this pipeline; its decisions are "
            + ", ".join(sorted(n for n in definition.updates if n)),
            type="UnknownDecision",
            non_retryable=True,
        )
    handler = update.bind_fn(instance)
    validator = update.bind_validator(instance) if update.validator else None
    arg_types = update.arg_types or []
    arg_type: Any = arg_types[0] if arg_types else dict
    return handler, validator, arg_type


def _is_model(arg_type: Any) -> bool:
    return isinstance(arg_type, type) and hasattr(arg_type, "model_validate")
