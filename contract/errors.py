"""Business rule violations <-> Temporal's non-retryable ApplicationError (type = stable name)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from domain.errors import BusinessRuleViolation, InvalidSourceData

NOT_BUSINESS_TYPES = frozenset({InvalidSourceData.error_type})
"""Non-retryable errors that are no business refusal: bad data an operator must fix."""


def to_application_error(violation: BusinessRuleViolation) -> ApplicationError:
    return ApplicationError(
        violation.message, violation.details, type=violation.error_type, non_retryable=True
    )


def business_rejection(error: BaseException) -> ApplicationError | None:
    """The non-retryable business ApplicationError behind an activity or child failure, if any."""
    cause: BaseException | None = error
    while isinstance(cause, ActivityError | ChildWorkflowError):
        cause = cause.cause
    if (
        isinstance(cause, ApplicationError)
        and cause.non_retryable
        and cause.type
        and cause.type not in NOT_BUSINESS_TYPES
    ):
        return cause
    return None


def invalid_data_error(err: InvalidSourceData) -> ApplicationError:
    """Bad data as a non-retryable ApplicationError naming the source and the field."""
    return ApplicationError(
        str(err),
        {"source": err.source, "field": err.field},
        type=InvalidSourceData.error_type,
        non_retryable=True,
    )
