"""Indirect-reseller enrollment: the application, its stages and the messages that drive it.

Rules: DOMAIN.md section 1 (ENR-01..09, IND-01) and section 2 (MPA-01..02).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints, model_validator

from domain.calendar import BusinessTimeZone
from domain.identifiers import CountryCode, NonEmptyText, PartnerId, TenantId
from domain.locale import Locale, TimeZoneName
from domain.messages import ApproveOrReject, Message, SignalRefusal, StageChange

TenantDomainPrefix = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9-]{1,26}$"),
]
PhoneNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{6,20}$")
]


class PostalAddress(Message):
    line1: NonEmptyText
    line2: str | None = None
    city: NonEmptyText
    state: str | None = None
    postal_code: NonEmptyText
    country: CountryCode


class PrimaryContact(Message):
    """ENR-05/06: the person who receives the verification email and every status email."""

    first_name: NonEmptyText
    last_name: NonEmptyText
    email: EmailStr
    phone: PhoneNumber
    is_employee: bool = Field(description="ENR-05: the primary contact must be an employee.")
    locale: Locale | None = Field(
        default=None, description="Language of the emails: ja or en; default by country (JP: ja)."
    )
    time_zone: TimeZoneName | None = Field(
        default=None, description="IANA zone for dates in emails; default by country, else UTC."
    )


class SupportDetails(Message):
    """Customer-support contact details (ENR-01 short path, ENR-05)."""

    email: EmailStr
    phone: PhoneNumber
    website: str | None = None


class ResellerEnrollmentApplication(Message):
    """One indirect-reseller enrollment (ENR-01..05).

    `tenant_id` names the organisation's existing Entra tenant; `new_tenant_domain` asks for one to
    be created during enrollment (ENR-02). Exactly one is given.
    """

    partner_id: PartnerId = Field(description="PartnerID (MPN ID) of the enrolling location.")
    already_in_csp: bool = Field(
        default=False,
        description="ENR-01 short path: already in CSP, only support details are added.",
    )
    tenant_id: TenantId | None = None
    new_tenant_domain: TenantDomainPrefix | None = Field(
        default=None, description="Prefix of <prefix>.onmicrosoft.com for a tenant created now."
    )
    global_admin: EmailStr = Field(
        description="Sign-in name of the Global admin applying (ENR-02)."
    )
    applicant_authorized: bool = Field(
        description="ENR-05: the applicant is authorised to act for the company."
    )
    legal_name: NonEmptyText
    address: PostalAddress
    primary_contact: PrimaryContact
    support: SupportDetails

    @model_validator(mode="after")
    def _enr_05(self) -> ResellerEnrollmentApplication:
        if (self.tenant_id is None) == (self.new_tenant_domain is None):
            raise ValueError("give exactly one of tenant_id (existing tenant) or new_tenant_domain")
        if self.already_in_csp and self.tenant_id is None:
            raise ValueError("a partner already in CSP enrolls with its existing tenant_id")
        if not self.applicant_authorized:
            raise ValueError("the applicant must be authorised to act for the company (ENR-05)")
        if not self.primary_contact.is_employee:
            raise ValueError("the primary contact must be an employee of the company (ENR-05)")
        return self


class EnrollmentStage(StrEnum):
    """Where a reseller enrollment is; the value is what the PipelineStage attribute holds."""

    PRECHECKS = "prechecks"
    EMAIL_VERIFICATION = "email_verification"
    REVIEW = "review"
    ADMIN_AGENT_SETUP = "admin_agent_setup"
    MPA_SIGNATURE = "mpa_signature"
    ACTIVE = "active"
    REJECTED = "rejected"
    ABANDONED = "abandoned"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {
    EnrollmentStage.ACTIVE,
    EnrollmentStage.REJECTED,
    EnrollmentStage.ABANDONED,
    EnrollmentStage.WITHDRAWN,
    EnrollmentStage.CANCELLED,
}


class ReviewDecision(ApproveOrReject):
    """ENR-07: Microsoft's review decision, reported by a backend."""


class MpaSignatureReport(Message):
    """A backend or operator reporting that the MPA was signed; the pipeline re-checks the API."""

    reported_by: NonEmptyText


class EnrollmentPolicy(Message):
    """Operator defaults for the enrollment timers (DOMAIN.md: open points). Read from settings."""

    email_verification_window: timedelta = timedelta(days=30)
    resend_after_business_days: int = Field(default=1, ge=0)
    business_time_zone: BusinessTimeZone = "UTC"
    """The IANA zone whose weekdays count as business days for the resend (ENR-06, DB-07)."""
    review_reminder_interval: timedelta = timedelta(days=3)
    review_deadline: timedelta = timedelta(days=30)
    mpa_acceptance_window: timedelta = timedelta(days=30)
    mpa_poll_interval: timedelta = timedelta(days=1)
    mpa_late_completion_window: timedelta = timedelta(days=335)
    """After the MPA window: how long a late signature, reported, still completes the approved
    enrollment without enrolling again (ENR-09)."""
    mpa_report_interval: timedelta = Field(default=timedelta(minutes=1), gt=timedelta(0))
    """At most one `report_mpa_signed` accepted per interval: each re-checks Partner Center; the
    others are refused in the validator, which writes nothing to the history (issue 12)."""
    operations_email: EmailStr = "csp-operations@example.com"


class EnrollmentStatus(Message):
    """What the `status` query answers: the stage, what it waits for and until when."""

    workflow_id: str
    partner_id: str
    region: str
    stage: EnrollmentStage
    waiting_for: str | None
    deadline: datetime | None
    outcome_reason: str | None = None
    error_type: str | None = None
    history: tuple[StageChange, ...] = ()
    signal_refusals: tuple[SignalRefusal, ...] = ()
    """Decisions sent as signals and refused, latest last (a signal has no answer)."""


class EnrollmentResult(Message):
    partner_id: str
    outcome: EnrollmentStage
    reason: str | None = None
    error_type: str | None = None


EnrollmentStatus.model_rebuild()


class ResellerStatus(StrEnum):
    ENROLLING = "enrolling"
    ACTIVE = "active"
    REJECTED = "rejected"
    ABANDONED = "abandoned"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    """Cancelled by an operator (the Web UI's Request Cancellation); a new start is allowed."""
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    """Closed by Temporal without an outcome, as recorded by the reconciler."""


class ResellerRecord(Message):
    """An indirect reseller as the registry knows it (DOMAIN.md section 1)."""

    partner_id: str
    status: ResellerStatus
    country: str
    tenant_id: str | None = None
    workflow_id: str
    status_reason: str | None = None
    ir_authorized_at: datetime | None = None
    """When Microsoft approved the enrollment; direct-bill tenure (DB-01) counts from here."""
    mpa_signed_at: datetime | None = None
    active_since: datetime | None = None
    updated_at: datetime
