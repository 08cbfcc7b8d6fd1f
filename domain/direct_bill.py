"""The direct-bill application (DOMAIN.md section 7, DB-01..DB-11; cooldown RA-03).

One pipeline per PGA and region (DB-10). Models for the application, its stages, the decisions
backends report and the operator timers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, EmailStr, Field, model_validator

from domain.calendar import BusinessTimeZone, add_months_to_date
from domain.capability_assessment import AssessmentScore, AssessmentWeights
from domain.identifiers import CountryCode, NonEmptyText, PartnerId, TenantId
from domain.locale import Locale, TimeZoneName
from domain.messages import ApproveOrReject, Message, SignalRefusal


class PartnerRole(StrEnum):
    GLOBAL_ADMIN = "global_admin"
    ADMIN_AGENT = "admin_agent"
    SALES_AGENT = "sales_agent"
    OTHER = "other"


class SupportPlanKind(StrEnum):
    ADVANCED = "advanced_support_for_partners"
    PREMIER = "premier_support_for_partners"


class SupportPlan(Message):
    """A premium support plan (DB-09): Advanced or Premier Support for Partners."""

    kind: SupportPlanKind
    contract_id: NonEmptyText
    renewal_date: date


class DirectBillApplication(Message):
    pga_id: PartnerId = Field(description="The partner global account (PGA) applying.")
    region: CountryCode = Field(description="The country/region the direct-bill tenant sells in.")
    pla_id: PartnerId = Field(description="The PLA of the selling location (DB-02).")
    legal_name: NonEmptyText
    applicant_email: EmailStr
    applicant_name: NonEmptyText
    applicant_locale: Locale | None = Field(
        default=None,
        description="Language of the emails to the applicant: ja or en (default by region).",
    )
    applicant_time_zone: TimeZoneName | None = Field(
        default=None,
        description="IANA zone for dates in emails to the applicant (default by region).",
    )
    applicant_role: PartnerRole = Field(description="Only a Global admin enrolls (004).")
    tenant_id: TenantId | None = Field(
        default=None,
        description="The partner's CSP tenant: the applicant's Global admin role is verified "
        "against it in Partner Center (004: only a Global admin applies), not trusted.",
    )
    authority_to_accept_agreements: bool = Field(description="DB-02, attested by the applicant.")
    first_level_support: bool = Field(description="DB-02: first-level support capability.")
    existing_support_plan: SupportPlan | None = Field(
        default=None,
        description="A premium support plan the company already has (DB-09 exception).",
    )


class DirectBillStage(StrEnum):
    GATE = "gate"
    ELIGIBILITY = "eligibility"
    INITIAL_REVIEW = "initial_review"
    ASSESSMENT = "assessment"
    DECISION = "decision"
    INFORMATION_REQUESTED = "information_requested"
    ENROLLMENT_FORM = "enrollment_form"
    CREDIT_REVIEW = "credit_review"
    SUPPORT_PLAN = "support_plan"
    MPA_ACCEPTANCE = "mpa_acceptance"
    ACTIVATION = "activation"
    ACTIVE = "active"
    REFUSED = "refused"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in {
            DirectBillStage.ACTIVE,
            DirectBillStage.REFUSED,
            DirectBillStage.REJECTED,
            DirectBillStage.EXPIRED,
            DirectBillStage.WITHDRAWN,
            DirectBillStage.CANCELLED,
        }


class MicrosoftDecision(ApproveOrReject):
    """A decision Microsoft's teams report: initial requirements, application, credit."""


class InformationRequest(Message):
    """DB-08: Microsoft asks the applicant for more information; the pipeline pauses."""

    question: NonEmptyText
    requested_by: NonEmptyText


class InformationAnswer(Message):
    answer: NonEmptyText
    answered_by: NonEmptyText


class EnrollmentForm(Message):
    """DB-09: the enrollment form submitted in Partner Center after approval."""

    submission_id: NonEmptyText
    submitted_by: NonEmptyText


class SupportPlanPurchase(Message):
    plan: SupportPlan
    reported_by: NonEmptyText


class MpaAcceptance(Message):
    accepted_by: NonEmptyText


class EligibilityCheck(Message):
    """One eligibility requirement's result, kept for the operator (DB-01..05)."""

    rule: str
    error_type: str | None = None
    """The refusal's stable name, only on a failed check (a passed check shows no error type)."""
    requirement: str
    passed: bool
    figure: str
    threshold: str
    message: str
    since: datetime | None = None
    """The date the figure counts from (tenure: the IR authorisation)."""

    @model_validator(mode="before")
    @classmethod
    def _no_error_type_when_passed(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("passed") is True and data.get("error_type"):
            return {**data, "error_type": None}
        return data


class DirectBillPolicy(Message):
    """Operator settings for the direct-bill pipeline (DOMAIN.md open points; DB-06, DB-07)."""

    window_closures: tuple[tuple[datetime, datetime], ...] = ()
    """Half-open [start, end) intervals in which no new application is accepted (DB-07)."""
    business_time_zone: BusinessTimeZone = "UTC"
    """The IANA zone in which the date rules (DB-07, DB-01, RA-03) count calendar dates."""
    weights: AssessmentWeights = AssessmentWeights()
    initial_review_deadline: timedelta = timedelta(days=30)
    assessment_deadline: timedelta = timedelta(days=30)
    assessment_reminder_interval: timedelta = timedelta(days=7)
    information_deadline: timedelta = timedelta(days=14)
    decision_deadline: timedelta = timedelta(days=30)
    enrollment_form_deadline: timedelta = timedelta(days=30)
    credit_review_deadline: timedelta = timedelta(days=30)
    support_plan_deadline: timedelta = timedelta(days=30)
    mpa_acceptance_deadline: timedelta = timedelta(days=30)
    revenue_max_age_days: int = Field(default=90, ge=0)
    """DB-03: a TTM revenue figure stated as of more than this many calendar days before today
    (in the business time zone) counts as unknown and is refused, not passed."""
    operations_email: EmailStr = "csp-operations@example.com"


class DirectBillStatus(Message):
    workflow_id: str
    pga_id: str
    region: str
    stage: DirectBillStage
    waiting_for: str | None
    deadline: datetime | None
    eligibility: tuple[EligibilityCheck, ...] = ()
    assessment: AssessmentScore | None = None
    credit_approved: bool = False
    support_plan: SupportPlan | None = None
    open_information_request: str | None = None
    outcome_reason: str | None = None
    error_type: str | None = None
    cooldown_until: datetime | None = None
    signal_refusals: tuple[SignalRefusal, ...] = ()
    """Decisions sent as signals and refused, latest last (a signal has no answer)."""


class DirectBillResult(Message):
    pga_id: str
    region: str
    outcome: DirectBillStage
    reason: str | None = None
    error_type: str | None = None
    cooldown_until: datetime | None = None


class RevenueLine(Message):
    """One CSP tenant's trailing-twelve-month transaction revenue (DB-03)."""

    tenant_id: str
    cloud_usd: Decimal = Field(ge=0)
    perpetual_software_usd: Decimal = Field(ge=0)


class TtmRevenue(Message):
    """DB-03: a PGA's trailing-twelve-month CSP transaction revenue as the partner program reports
    it: the figure per CSP tenant, the calendar dates the twelve months cover (both included) and
    the date the figure was stated as of (seed 004: "前の 12 か月間に、PGA レベルで CSP プログラムの
    トランザクション収益")."""

    period_start: date
    period_end: date
    as_of: date
    lines: tuple[RevenueLine, ...] = ()

    @model_validator(mode="after")
    def _twelve_months_before_as_of(self) -> TtmRevenue:
        if self.period_end > self.as_of:
            raise ValueError(
                f"the period ends {self.period_end.isoformat()}, after the figure's as-of date "
                f"{self.as_of.isoformat()}"
            )
        starts = add_months_to_date(self.period_end + timedelta(days=1), -12)
        if self.period_start != starts:
            raise ValueError(
                f"a trailing-twelve-month period ending {self.period_end.isoformat()} starts "
                f"{starts.isoformat()}, not {self.period_start.isoformat()}"
            )
        return self


class SecurityRequirements(Message):
    """The Partner Center security score requirements (DB-04), as Graph reports them."""

    admins_required_not_using_mfa_count: int = Field(ge=0)
    security_contact_provided: bool
    security_alerts_promptly_resolved: bool
    average_response_time_in_hours: float | None = None


class DirectBillRegistryStatus(StrEnum):
    APPLYING = "applying"
    ACTIVE = "active"
    REFUSED = "refused"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    TRANSITIONING = "transitioning"
    INDIRECT_RESELLER = "indirect_reseller"


class DirectBillRecord(Message):
    """A PGA's direct-bill standing in one region (DB-10: regions are separate)."""

    pga_id: str
    region: str
    status: DirectBillRegistryStatus
    workflow_id: str
    pla_id: str
    legal_name: str | None = None
    contact_name: str | None = None
    contact_email: str | None = None
    status_reason: str | None = None
    support_plan_kind: str | None = None
    support_plan_contract_id: str | None = None
    support_plan_renewal_date: date | None = None
    renewal_month: int | None = None
    """Month (1-12) of the support-plan renewal: the annual re-assessment month (RA-01)."""
    onboarding_anniversary_month: int | None = None
    """Month (1-12) of the original CSP onboarding: the security re-validation month (DB-04)."""
    activated_at: datetime | None = None
    next_reassessment_due: date | None = None
    updated_at: datetime


class Cooldown(Message):
    """RA-03: the PGA may not apply for direct bill before `until`."""

    pga_id: str
    until: datetime
    reason: str
    started_at: datetime


class LocationMembership(Message):
    membership_active: bool
    pla_country: str | None
    """Country of the PLA, or None when the PLA does not belong to the PGA."""
    ir_authorized_at: datetime | None
    """When the location became an authorised indirect reseller, if known to the program."""


class Activation(Message):
    tenant_id: str
    activated_at: datetime


class CreditReviewRequest(Message):
    pga_id: str
    region: str
    deadline: AwareDatetime
    """With its UTC offset: the review's timer and `NextDeadline` search attribute count from it
    (a naive instant is refused when the input is decoded, not on every workflow task)."""


class CreditReviewResult(Message):
    outcome: Literal["approved", "rejected", "expired"]
    reason: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None


class CreditReviewStatus(Message):
    decided: bool
    deadline: datetime
    signal_refusals: tuple[SignalRefusal, ...] = ()
    """Decisions sent as signals and refused, latest last (a signal has no answer)."""
