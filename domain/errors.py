"""Stable business error types.

Each rejection the product makes has one type name here. Workflows raise them as non-retryable
Temporal ApplicationErrors with `type=<name>`; the gateway and operators match on that name, so the
names never change once released.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar


class BusinessRuleViolation(Exception):
    """A request the business rules refuse. `error_type` is the stable name operators see."""

    error_type: ClassVar[str] = "BusinessRuleViolation"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {k: _plain(v) for k, v in details.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


class ApplicationInvalid(BusinessRuleViolation):
    """The application fails validation (ENR-05)."""

    error_type = "ApplicationInvalid"


class NotGlobalAdmin(BusinessRuleViolation):
    """The applicant is not a Global admin of the tenant (ENR-02)."""

    error_type = "NotGlobalAdmin"


class TenantNotFound(BusinessRuleViolation):
    """The Entra tenant named does not exist (ENR-02)."""

    error_type = "TenantNotFound"


class PartnerIdNotFound(BusinessRuleViolation):
    """The PartnerID is unknown (ENR-03)."""

    error_type = "PartnerIdNotFound"


class RegionMismatch(BusinessRuleViolation):
    """Two parties that must share a country/region do not (ENR-04, REG-01)."""

    error_type = "RegionMismatch"


class MpaNotSigned(BusinessRuleViolation):
    """The Microsoft Partner Agreement is not signed (MPA-02)."""

    error_type = "MpaNotSigned"


class NotReadyToTransact(BusinessRuleViolation):
    """A reseller lacks onboarding or enrollment, so it may not transact (ENR-09)."""

    error_type = "NotReadyToTransact"


class WrongStage(BusinessRuleViolation):
    """The pipeline is not at the stage this request is for."""

    error_type = "WrongStage"


class TokenInvalid(BusinessRuleViolation):
    """A verification token is forged, malformed or superseded."""

    error_type = "TokenInvalid"


class TokenExpired(BusinessRuleViolation):
    """A verification token is past its expiry."""

    error_type = "TokenExpired"


class TokenAlreadyUsed(BusinessRuleViolation):
    """A verification token was already redeemed."""

    error_type = "TokenAlreadyUsed"


class ResendTooSoon(BusinessRuleViolation):
    """A verification email was resent before one business day passed (ENR-06)."""

    error_type = "ResendTooSoon"


class DecisionInvalid(BusinessRuleViolation):
    """A reported decision is incomplete or inconsistent."""

    error_type = "DecisionInvalid"


class AlreadyEnrolling(BusinessRuleViolation):
    """A pipeline for this partner is already running or completed."""

    error_type = "AlreadyEnrolling"


ALL_ERROR_TYPES: tuple[type[BusinessRuleViolation], ...] = (
    ApplicationInvalid,
    NotGlobalAdmin,
    TenantNotFound,
    PartnerIdNotFound,
    RegionMismatch,
    MpaNotSigned,
    NotReadyToTransact,
    WrongStage,
    TokenInvalid,
    TokenExpired,
    TokenAlreadyUsed,
    ResendTooSoon,
    DecisionInvalid,
    AlreadyEnrolling,
)
