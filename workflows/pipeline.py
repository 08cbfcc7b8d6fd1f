"""Plumbing every pipeline shares: its stage shown in search attributes and the UI, idempotency
keys, status emails, and lookups whose business refusal ends the pipeline with its error type.
Only called from workflow code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import EmailRequest, NotificationActivities
    from contract import names
    from contract.errors import business_rejection, to_application_error
    from domain.errors import BusinessRuleViolation
    from domain.notifications import EmailFacts

LOOKUP_TIMEOUT = timedelta(seconds=30)
STEP_TIMEOUT = timedelta(minutes=2)
RETRY = RetryPolicy(maximum_interval=timedelta(minutes=5))

_Request = TypeVar("_Request")
_Result = TypeVar("_Result")


def step_key(step: str) -> str:
    """The idempotency key of one side effect of this run."""
    info = workflow.info()
    return f"{info.workflow_id}:{info.run_id}:{step}"


def show_stage(stage: str, waiting_for: str | None, deadline: datetime | None) -> None:
    """Search attributes and the UI's current details for the stage just entered."""
    workflow.upsert_search_attributes(
        [
            names.SA_STAGE.value_set(stage),
            names.SA_NEXT_DEADLINE.value_set(deadline)
            if deadline
            else names.SA_NEXT_DEADLINE.value_unset(),
        ]
    )
    if waiting_for is None:
        workflow.set_current_details(f"**{stage}**")
    else:
        until = f" until {deadline.isoformat()}" if deadline else ""
        workflow.set_current_details(f"**{stage}**: waiting for {waiting_for}{until}")


async def send_email(facts: EmailFacts, step: str) -> None:
    """Mail once per run and step; a mailbox that refuses mail must not block the pipeline."""
    try:
        await workflow.execute_activity_method(
            NotificationActivities.send_email,
            EmailRequest(idempotency_key=step_key(f"email:{step}"), facts=facts),
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=RETRY,
        )
    except Exception as err:
        rejection = business_rejection(err)
        if rejection is None:
            raise
        workflow.logger.warning("email %s not delivered: %s", step, rejection.message)


async def check(
    activity_method: Callable[[Any, _Request], Awaitable[_Result]], request: _Request
) -> _Result:
    """Run a lookup; its business refusal is re-raised as the pipeline's own ApplicationError."""
    try:
        return await workflow.execute_activity_method(
            activity_method, request, start_to_close_timeout=LOOKUP_TIMEOUT, retry_policy=RETRY
        )
    except Exception as err:
        rejection = business_rejection(err)
        if rejection is None:
            raise
        raise ApplicationError(
            rejection.message, *rejection.details, type=rejection.type, non_retryable=True
        ) from err


def enforce(rule: Callable[..., _Result], *args: Any, **kwargs: Any) -> _Result:
    """Apply a domain rule; its violation becomes the pipeline's non-retryable ApplicationError."""
    try:
        return rule(*args, **kwargs)
    except BusinessRuleViolation as violation:
        raise to_application_error(violation) from violation
