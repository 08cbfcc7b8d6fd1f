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


class RepeatedReport(BusinessRuleViolation):
    """A report that would change nothing: the same fact is already being acted on, or was a
    moment ago (reports are rate-limited so a flood cannot grow a pipeline's history)."""

    error_type = "RepeatedReport"


class DecisionLimitReached(BusinessRuleViolation):
    """A decision that may repeat has repeated as often as one pipeline allows: each round adds to
    the pipeline's history, which must stay bounded (issue 12)."""

    error_type = "DecisionLimitReached"


class DecisionInvalid(BusinessRuleViolation):
    """A reported decision is incomplete or inconsistent."""

    error_type = "DecisionInvalid"


class AlreadyEnrolling(BusinessRuleViolation):
    """A pipeline for this partner is already running or completed."""

    error_type = "AlreadyEnrolling"


class ApplicationWindowClosed(BusinessRuleViolation):
    """No new direct-bill applications are accepted now (DB-07)."""

    error_type = "ApplicationWindowClosed"


class CooldownActive(BusinessRuleViolation):
    """The partner must wait a year after a rejection or transition (RA-03)."""

    error_type = "CooldownActive"


class RegionAlreadyApproved(BusinessRuleViolation):
    """The PGA is already a direct-bill partner in this region (DB-10)."""

    error_type = "RegionAlreadyApproved"


class ApplicationInProgress(BusinessRuleViolation):
    """Another direct-bill application for this PGA and region is running (DB-10)."""

    error_type = "ApplicationInProgress"


class EligibilityNotMet(BusinessRuleViolation):
    """One or more direct-bill requirements are not met (DB-01..DB-05)."""

    error_type = "EligibilityNotMet"


class TenureInsufficient(BusinessRuleViolation):
    """Fewer than 12 months trading as an indirect reseller (DB-01)."""

    error_type = "TenureInsufficient"


class RevenueInsufficient(BusinessRuleViolation):
    """PGA-level TTM CSP revenue below USD 1,000,000 (DB-03)."""

    error_type = "RevenueInsufficient"


class SecurityNonCompliant(BusinessRuleViolation):
    """A mandatory security-score requirement is not met (DB-04)."""

    error_type = "SecurityNonCompliant"


class DesignationMissing(BusinessRuleViolation):
    """No Solutions Partner designation (DB-05)."""

    error_type = "DesignationMissing"


class ProgramRequirementMissing(BusinessRuleViolation):
    """Membership, PLA, agreement authority or first-level support missing (DB-02)."""

    error_type = "ProgramRequirementMissing"


class ApplicantNotGlobalAdmin(BusinessRuleViolation):
    """Only a Global admin may apply for direct bill (004)."""

    error_type = "ApplicantNotGlobalAdmin"


class ApplicationRejected(BusinessRuleViolation):
    """Microsoft rejected a direct-bill application; the cooldown started (RA-03)."""

    error_type = "ApplicationRejected"


class SupportPlanBeforeCreditApproval(BusinessRuleViolation):
    """A support plan was reported before credit approval (DB-09)."""

    error_type = "SupportPlanBeforeCreditApproval"


class PlanRenewalNotLater(BusinessRuleViolation):
    """A support-plan renewal whose date is not later than the one on record (RA-01)."""

    error_type = "PlanRenewalNotLater"


class ProviderNotAuthorized(BusinessRuleViolation):
    """The provider named for a transition is not an authorized indirect provider (RA-04)."""

    error_type = "ProviderNotAuthorized"


class RevenueFigureStale(BusinessRuleViolation):
    """The TTM revenue figure is older than the configured limit, so it counts as unknown
    (DB-03)."""

    error_type = "RevenueFigureStale"


class MpaBeforeSupportPlan(BusinessRuleViolation):
    """The MPA was reported accepted before the support plan (DB-09)."""

    error_type = "MpaBeforeSupportPlan"


class RoleForbidden(BusinessRuleViolation):
    """The requester's Partner Center role may not do this (REL-03, END-01, 003)."""

    error_type = "RoleForbidden"


class AttestationMissing(BusinessRuleViolation):
    """A partnership removal lacks one of its four attestations (END-02)."""

    error_type = "AttestationMissing"


class ResellerNotOnboarded(BusinessRuleViolation):
    """The reseller is not an onboarded indirect reseller; it must enroll first (REL-01)."""

    error_type = "ResellerNotOnboarded"


class PartnershipNotActive(BusinessRuleViolation):
    """No active provider-reseller partnership where one is required (REL-02, CUS-02)."""

    error_type = "PartnershipNotActive"


class NoCommerceRelationship(BusinessRuleViolation):
    """No accepted reseller relationship with the customer (CUS-01; Partner Center 20002)."""

    error_type = "NoCommerceRelationship"


class SelfDealing(BusinessRuleViolation):
    """A partner selling to itself, an affiliate or into a CSP tenant (SELF-01..03)."""

    error_type = "SelfDealing"


class McaNotAccepted(BusinessRuleViolation):
    """The customer's Microsoft Customer Agreement acceptance is not attested (CUS-04)."""

    error_type = "McaNotAccepted"


class PorInvalid(BusinessRuleViolation):
    """The order's Partner of Record fails one or more conditions (POR-01..05, POR-03)."""

    error_type = "PorInvalid"


class SubscriptionNotChangeable(BusinessRuleViolation):
    """Partner Center cannot change this subscription as asked: not found (20003), deleted
    (2011), suspended (800091), or its partner on record cannot be updated (800098)."""

    error_type = "SubscriptionNotChangeable"


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
    ApplicationWindowClosed,
    CooldownActive,
    RegionAlreadyApproved,
    ApplicationInProgress,
    EligibilityNotMet,
    TenureInsufficient,
    RevenueInsufficient,
    SecurityNonCompliant,
    DesignationMissing,
    ProgramRequirementMissing,
    ApplicantNotGlobalAdmin,
    ApplicationRejected,
    SupportPlanBeforeCreditApproval,
    PlanRenewalNotLater,
    ProviderNotAuthorized,
    RevenueFigureStale,
    MpaBeforeSupportPlan,
    RoleForbidden,
    AttestationMissing,
    ResellerNotOnboarded,
    PartnershipNotActive,
    NoCommerceRelationship,
    SelfDealing,
    McaNotAccepted,
    PorInvalid,
    SubscriptionNotChangeable,
)


class InvalidSourceData(ValueError):
    """Data that retrying cannot fix: a value read from an outside system or the registry that is
    malformed (a naive or date-only instant, a NUL byte), or one the database would refuse.

    Not a business refusal: the pipeline shows `Attention` and fails for an operator to fix the
    data. Activities turn it into a non-retryable ApplicationError of this type (worker.py)."""

    error_type: ClassVar[str] = "InvalidSourceData"

    def __init__(self, source: str, field: str, problem: str) -> None:
        super().__init__(f"{source}: field {field!r} {problem}")
        self.source = source
        self.field = field
        self.problem = problem


def aware_instant(value: str, *, source: str, field: str) -> datetime:
    """An ISO 8601 instant with its UTC offset; anything else (a date alone, a naive time, not a
    date at all) is InvalidSourceData naming the source and the field."""
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidSourceData(source, field, f"is not an ISO 8601 instant ({value!r})") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise InvalidSourceData(
            source, field, f"has no UTC offset ({value!r}); an instant needs one"
        )
    return parsed


def refuse_nul(values: dict[str, Any], *, source: str) -> None:
    """A text with a NUL byte (PostgreSQL refuses it in text columns) is InvalidSourceData."""
    for field, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            raise InvalidSourceData(
                source, field, "contains a NUL byte, which the database refuses"
            )
