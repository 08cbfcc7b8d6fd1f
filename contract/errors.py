"""Business rule violations <-> Temporal's non-retryable ApplicationError (type = stable name)."""

from __future__ import annotations

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from domain.errors import BusinessRuleViolation, InvalidSourceData

OPERATION_UNSUPPORTED = "OperationUnsupported"
"""A Partner Center call the client cannot make as configured: no public API, or a missing
setting (the Graph credential, the Admin agent object id). Retrying cannot fix it."""

PARTNER_CENTER_AUTH_ERROR = "PartnerCenterAuthError"
"""Partner Center or Graph refused our credentials (401, or 403 with an authorization code)."""

PARTNER_CENTER_REQUEST_FAILED = "PartnerCenterRequestFailed"
"""Partner Center answered a request in a way no rule maps (an undocumented 4xx, a body that is
not what its documents show): ours to look into, not the partner's answer."""

NOT_BUSINESS_TYPES = frozenset(
    {
        InvalidSourceData.error_type,
        OPERATION_UNSUPPORTED,
        PARTNER_CENTER_AUTH_ERROR,
        PARTNER_CENTER_REQUEST_FAILED,
    }
)
"""Non-retryable errors that are no business refusal: bad data, a setting or credentials an
operator must fix, an answer nobody mapped (the pipeline shows `Attention`; the partner is not
told it was refused)."""


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
