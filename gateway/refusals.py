"""What the gateway answers when it refuses: stable error types and their HTTP statuses.

Two kinds of refusal reach a caller. A `CallbackRejected` is the gateway's own (signature, route,
body), raised before anything reaches a pipeline. A pipeline's refusal arrives as the error type
of a Temporal `ApplicationError`; `refusal_status` maps it to its status, the one map every route
(callbacks and the verification link) uses.
"""

from __future__ import annotations

from typing import ClassVar

# HTTP status of a refused update, by error type; any other business refusal answers 409.
REFUSAL_STATUS: dict[str, int] = {
    "WrongStage": 409,
    "DecisionInvalid": 422,
    "ValidationError": 422,
    "TokenInvalid": 400,
    "TokenExpired": 410,
    "TokenAlreadyUsed": 409,
}


def refusal_status(error_type: str | None) -> int:
    return REFUSAL_STATUS.get(error_type or "", 409)


class CallbackRejected(Exception):
    """A callback refused before it reached a pipeline; nothing changed."""

    error_type: ClassVar[str] = "CallbackRejected"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignatureMissing(CallbackRejected):
    """A signature header is absent or malformed."""

    error_type = "SignatureMissing"
    status = 400


class DeliveryIdInvalid(CallbackRejected):
    error_type = "DeliveryIdInvalid"
    status = 400


class SignatureInvalid(CallbackRejected):
    """Unknown backend, or the signature does not match the body and timestamp."""

    error_type = "SignatureInvalid"
    status = 401


class SignatureStale(CallbackRejected):
    """The signed timestamp is outside the freshness window (replay protection)."""

    error_type = "SignatureStale"
    status = 401


class DeliveryIdReused(CallbackRejected):
    """A delivery id first seen with another route or body: refused, nothing changed."""

    error_type = "DeliveryIdReused"
    status = 409


class TextInvalid(CallbackRejected):
    """A string in the body holds NUL or another control character; `fields` names it."""

    error_type = "TextInvalid"
    status = 400

    def __init__(self, message: str, fields: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.fields = fields


class BackendForbidden(CallbackRejected):
    """A correctly signed backend that may not report this decision."""

    error_type = "BackendForbidden"
    status = 403


class PipelineNotFound(CallbackRejected):
    """No such pipeline kind or decision, or no pipeline with this key."""

    error_type = "PipelineNotFound"
    status = 404


class PipelineClosed(CallbackRejected):
    """The pipeline has ended; it takes no more decisions."""

    error_type = "PipelineClosed"
    status = 410


class MalformedJson(CallbackRejected):
    error_type = "MalformedJson"
    status = 400


class PayloadTooLarge(CallbackRejected):
    error_type = "PayloadTooLarge"
    status = 413


class PayloadInvalid(CallbackRejected):
    """The body does not fit the decision's model; `fields` names each failing field."""

    error_type = "PayloadInvalid"
    status = 422

    def __init__(self, message: str, fields: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.fields = fields


class PipelineBusy(CallbackRejected):
    """The pipeline did not answer in time (no worker?): redeliver with the same delivery id."""

    error_type = "PipelineBusy"
    status = 503


class TemporalUnavailable(CallbackRejected):
    """Temporal did not answer (down or unreachable): retry later, with the same delivery id."""

    error_type = "TemporalUnavailable"
    status = 503


CALLBACK_REJECTIONS: tuple[type[CallbackRejected], ...] = (
    SignatureMissing,
    DeliveryIdInvalid,
    DeliveryIdReused,
    TextInvalid,
    SignatureInvalid,
    SignatureStale,
    BackendForbidden,
    PipelineNotFound,
    PipelineClosed,
    MalformedJson,
    PayloadTooLarge,
    PayloadInvalid,
    PipelineBusy,
    TemporalUnavailable,
)
