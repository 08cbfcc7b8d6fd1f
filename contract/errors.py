"""Business rule violations <-> Temporal's non-retryable ApplicationError (type = stable name)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from domain.errors import BusinessRuleViolation


def to_application_error(violation: BusinessRuleViolation) -> ApplicationError:
    return ApplicationError(
        violation.message, violation.details, type=violation.error_type, non_retryable=True
    )


def business_rejection(error: BaseException) -> ApplicationError | None:
    """The non-retryable business ApplicationError behind an activity or child failure, if any."""
    cause: BaseException | None = error
    while isinstance(cause, ActivityError | ChildWorkflowError):
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.non_retryable and cause.type:
        return cause
    return None
