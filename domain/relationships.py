"""The relationship pipelines: provider-reseller partnerships, customer invitations and subscription
orders with their Partner of Record (POR). Models, stages and the messages that drive them.

Rules: DOMAIN.md sections 3-6 (REL, END, CUS, POR, REG, SELF) and MPA-02. The rules themselves live
in `domain.relationship_rules` and `domain.por_rules`; this module holds no logic beyond field
validation.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    EmailStr,
    Field,
    StringConstraints,
    model_validator,
)

from domain.calendar import BusinessTimeZone
from domain.identifiers import CountryCode, NonEmptyText, PartnerId, TenantId
from domain.locale import Locale, TimeZoneName
from domain.messages import Message, SignalRefusal, StageChange


def _partner_center_link(value: str) -> str:
    """REL-03 / CUS-02: the link Partner Center personalised is kept exactly as given."""
    if value != value.strip() or any(ch.isspace() for ch in value):
        raise ValueError("the Partner Center link must be pasted exactly, without spaces")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError("the Partner Center link is an https:// address")
    return value


PartnerCenterLink = Annotated[
    str, StringConstraints(max_length=2000), AfterValidator(_partner_center_link)
]
"""A link copied from Partner Center. Never rewritten, normalised or shortened (REL-03)."""

OrderRef = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
]
"""The provider's own reference for an order: letters, digits, '-' and '_' (part of the id)."""

CustomText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]


# ---- who asks ----------------------------------------------------------------------------------


class AgentRole(StrEnum):
    """Partner Center roles of the person acting for a partner organisation (000, 001, 003)."""

    GLOBAL_ADMIN = "global_admin"
    ADMIN_AGENT = "admin_agent"
    SALES_AGENT = "sales_agent"
    HELPDESK_AGENT = "helpdesk_agent"


class Requester(Message):
    """The person acting, and their Partner Center role. Kept in workflow state, never in search
    attributes."""

    user: NonEmptyText
    role: AgentRole


class RelationshipPolicy(Message):
    """Operator defaults for the relationship pipelines (DOMAIN.md open points). Read from settings
    once per pipeline, so a change applies to new pipelines and never breaks a replay."""

    partnership_reminders: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=14))
    partnership_expiry: timedelta = timedelta(days=30)
    partnership_poll_interval: timedelta = timedelta(hours=24)
    """How often a pending partnership asks Partner Center's relationships list (REL-04)."""
    partnership_refresh_interval: timedelta = timedelta(days=30)
    """How often an active partnership wakes to keep its history short (continue-as-new)."""
    customer_invitation_reminders: tuple[timedelta, ...] = (
        timedelta(days=7),
        timedelta(days=14),
    )
    customer_invitation_expiry: timedelta = timedelta(days=30)
    customer_agreement_window: timedelta = timedelta(days=30)
    """How long an accepted invitation waits for the MCA attestation (CUS-04)."""
    por_validation_from: datetime = datetime(2025, 9, 1, tzinfo=UTC)
    """POR-01: from this instant (the start of the setting's date in the business time zone) a
    new order must name a valid Partner of Record."""
    business_time_zone: BusinessTimeZone = "UTC"
    """The IANA zone in which the date rules (POR-01) count calendar dates."""
    order_fix_window: timedelta = timedelta(days=7)
    """How long a blocked order waits for a fixed POR or an MCA attestation before it fails."""
    order_retry_window: timedelta = timedelta(hours=1)
    """How long a transient Partner Center failure of an order (800060, 408, 429, 5xx) is
    retried."""
    operations_email: EmailStr = "csp-operations@example.com"
    reseller_exit_case_window: timedelta = timedelta(days=30)
    """END-03: how long a reseller's exit request waits for its Microsoft Support case number."""
    reseller_exit_outcome_window: timedelta = timedelta(days=90)
    """END-03: how long an open Support case waits for Support's reported outcome."""
    gdap_regrant_window: timedelta = timedelta(days=30)
    """POR-04: how long after a reinstatement each customer's re-granted GDAP is waited for."""
    por_sweep_batch_size: int = Field(default=100, ge=1, le=1000)
    """REL-07: PartnerIDs per `validateresellers` call of the POR sweep."""
    por_sweep_pause: timedelta = timedelta(seconds=1)
    """REL-07: the pause between two `validateresellers` calls (the sweep's rate limit)."""
    por_sweep_batches_per_run: int = Field(default=200, ge=1)
    """REL-07: calls per run of the sweep before it continues as new (history bound)."""

    @model_validator(mode="after")
    def _consistent(self) -> RelationshipPolicy:
        for name, reminders, expiry in (
            ("partnership", self.partnership_reminders, self.partnership_expiry),
            (
                "customer invitation",
                self.customer_invitation_reminders,
                self.customer_invitation_expiry,
            ),
        ):
            if expiry <= timedelta(0):
                raise ValueError(f"the {name} expiry must be positive")
            if any(r <= timedelta(0) or r >= expiry for r in reminders):
                raise ValueError(f"{name} reminders must fall between the request and its expiry")
            if list(reminders) != sorted(set(reminders)):
                raise ValueError(f"{name} reminders must be distinct and in increasing order")
        positive = {
            "partnership_poll_interval": self.partnership_poll_interval,
            "partnership_refresh_interval": self.partnership_refresh_interval,
            "customer_agreement_window": self.customer_agreement_window,
            "order_fix_window": self.order_fix_window,
            "order_retry_window": self.order_retry_window,
            "reseller_exit_case_window": self.reseller_exit_case_window,
            "reseller_exit_outcome_window": self.reseller_exit_outcome_window,
            "gdap_regrant_window": self.gdap_regrant_window,
        }
        for name, value in positive.items():
            if value <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.por_validation_from.tzinfo is None:
            raise ValueError("por_validation_from must carry a time zone")
        return self


# ---- provider <-> reseller partnership (REL-01..05, END-01..02, POR-04) -------------------------


class PartnershipStage(StrEnum):
    """Where a partnership is; the value is what the PipelineStage attribute (and the registry's
    status) holds."""

    PRECHECKS = "prechecks"
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    ACTIVE = "active"
    RESELLER_SUSPENDED = "reseller_suspended"
    REMOVED = "removed"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    # Recorded by the pipeline reconciler when Temporal closed the pipeline (issue 18).
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in _PARTNERSHIP_TERMINAL

    @property
    def is_established(self) -> bool:
        """Accepted and not ended: the reseller is on the provider's list (REL-04)."""
        return self in (PartnershipStage.ACTIVE, PartnershipStage.RESELLER_SUSPENDED)


_PARTNERSHIP_TERMINAL = {
    PartnershipStage.REMOVED,
    PartnershipStage.EXPIRED,
    PartnershipStage.WITHDRAWN,
    PartnershipStage.REFUSED,
    PartnershipStage.CANCELLED,
    PartnershipStage.TERMINATED,
    PartnershipStage.TIMED_OUT,
    PartnershipStage.FAILED,
}


class PartnershipResume(Message):
    """State an established partnership carries across continue-as-new. Set by the workflow
    itself; leave it out when starting one."""

    stage: PartnershipStage
    region: str
    provider_name: str
    reseller_name: str
    requested_at: datetime
    accepted_at: datetime
    accepted_via: str
    suspended_at: datetime | None = None
    history: tuple[StageChange, ...] = ()


class PartnershipRequest(Message):
    """The provider's Admin agent asks an indirect reseller for a partnership (REL-01..04)."""

    provider_partner_id: PartnerId
    provider_tenant_id: TenantId = Field(
        description="The provider's CSP tenant (SELF-02: it may never be a customer tenant)."
    )
    reseller_partner_id: PartnerId = Field(
        description="REL-05: the PartnerID of the PLA the reseller onboarded with."
    )
    requested_by: Requester
    reseller_email: EmailStr = Field(description="Who receives the partnership request email.")
    reseller_contact_name: NonEmptyText
    reseller_locale: Locale | None = Field(
        default=None,
        description="Language of the emails to the reseller: ja or en (default en, UTC).",
    )
    reseller_time_zone: TimeZoneName | None = Field(
        default=None,
        description="IANA zone for dates in emails to the reseller (default en, UTC).",
    )
    invitation_link: PartnerCenterLink = Field(
        description="The link from Partner Center's 'Request a partnership' draft (REL-03)."
    )
    message: CustomText | None = Field(
        default=None, description="REL-03: the email text may be edited; the link may not."
    )
    resume: PartnershipResume | None = None

    @model_validator(mode="after")
    def _two_parties(self) -> PartnershipRequest:
        if self.provider_partner_id == self.reseller_partner_id:
            raise ValueError("a partnership needs two partners: the provider and the reseller")
        return self


class PartnershipAcceptance(Message):
    """REL-04: the reseller accepted through the link ("Authorize indirect provider")."""

    reported_by: NonEmptyText
    accepted_at: datetime | None = None


class RemovalAttestations(Message):
    """END-02: every one must be true for a removal. No defaults: each is stated explicitly."""

    good_faith: bool
    legitimate_business_reason: bool
    complies_with_contracts: bool
    holds_microsoft_harmless: bool


class PartnershipRemoval(Message):
    """END-01/02: an Admin or Sales agent removes the partnership with the four attestations."""

    requested_by: Requester
    reason: NonEmptyText
    attestations: RemovalAttestations


class TenantSuspensionReport(Message):
    """POR-04: the reseller's tenant was suspended (or reinstated)."""

    reported_by: NonEmptyText
    reason: NonEmptyText
    at: datetime | None = None


class PartnershipStatus(Message):
    workflow_id: str
    provider_partner_id: str
    reseller_partner_id: str
    region: str | None
    stage: PartnershipStage
    waiting_for: str | None
    deadline: datetime | None
    reminders_sent: int = 0
    accepted_at: datetime | None = None
    accepted_via: str | None = None
    suspended_at: datetime | None = None
    outcome_reason: str | None = None
    error_type: str | None = None
    history: tuple[StageChange, ...] = ()
    signal_refusals: tuple[SignalRefusal, ...] = ()
    """Decisions sent as signals and refused, latest last (a signal has no answer)."""


class PartnershipResult(Message):
    provider_partner_id: str
    reseller_partner_id: str
    outcome: PartnershipStage
    reason: str | None = None
    error_type: str | None = None


class PartnershipRecord(Message):
    """A partnership as the registry knows it, keyed by provider + reseller."""

    provider_partner_id: str
    reseller_partner_id: str
    status: PartnershipStage
    region: str
    provider_tenant_id: str
    workflow_id: str
    requested_at: datetime
    accepted_at: datetime | None = None
    ended_at: datetime | None = None
    status_reason: str | None = None
    updated_at: datetime


class ResellerSuspensionRecord(Message):
    """POR-04: a suspension of the reseller's tenant, with its reinstatement once reported."""

    reseller_partner_id: str
    suspended_at: datetime
    reason: str
    reported_by: str
    reinstated_at: datetime | None = None
    updated_at: datetime

    @property
    def in_force(self) -> bool:
        return self.reinstated_at is None


# ---- customer invitations (CUS-01..04, REG-01, SELF-01..03) ------------------------------------


class InvitationKind(StrEnum):
    """CUS-02: joint (the reseller and its provider) or reseller-only."""

    JOINT = "joint"
    RESELLER_ONLY = "reseller_only"


class AcceptanceEvent(StrEnum):
    """The Partner Center webhook events that report a customer's acceptance (CUS-03)."""

    RESELLER_RELATIONSHIP_ACCEPTED = "reseller-relationship-accepted-by-customer"
    INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED = "indirect-reseller-relationship-accepted-by-customer"


class CustomerInvitationStage(StrEnum):
    PRECHECKS = "prechecks"
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    AWAITING_CUSTOMER_AGREEMENT = "awaiting_customer_agreement"
    ACTIVE = "active"
    MCA_PENDING = "mca_pending"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    CANCELLED = "cancelled"
    # Recorded by the pipeline reconciler when Temporal closed the pipeline (issue 18).
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in _INVITATION_TERMINAL

    @property
    def is_accepted(self) -> bool:
        """The customer accepted: a reseller relationship exists (CUS-03)."""
        return self in (
            CustomerInvitationStage.AWAITING_CUSTOMER_AGREEMENT,
            CustomerInvitationStage.ACTIVE,
            CustomerInvitationStage.MCA_PENDING,
        )


_INVITATION_TERMINAL = {
    CustomerInvitationStage.ACTIVE,
    CustomerInvitationStage.MCA_PENDING,
    CustomerInvitationStage.EXPIRED,
    CustomerInvitationStage.WITHDRAWN,
    CustomerInvitationStage.REFUSED,
    CustomerInvitationStage.CANCELLED,
    CustomerInvitationStage.TERMINATED,
    CustomerInvitationStage.TIMED_OUT,
    CustomerInvitationStage.FAILED,
}


class CustomerInvitationRequest(Message):
    """A reseller (with its provider, for a joint invitation) invites a customer (CUS-02)."""

    kind: InvitationKind
    reseller_partner_id: PartnerId
    provider_partner_id: PartnerId | None = Field(
        default=None,
        description="The indirect provider of a joint invitation; none otherwise.",
    )
    customer_tenant_id: TenantId = Field(
        description="The customer's Entra tenant, which is its Partner Center customer id."
    )
    customer_name: NonEmptyText
    customer_country: CountryCode
    customer_email: EmailStr
    customer_contact_name: NonEmptyText
    customer_locale: Locale | None = Field(
        default=None,
        description="Language of the emails to the customer: ja or en (default by country).",
    )
    customer_time_zone: TimeZoneName | None = Field(
        default=None,
        description="IANA zone for dates in emails to the customer (default by customer_country).",
    )
    customer_partner_id: PartnerId | None = Field(
        default=None,
        description="The customer organisation's own PartnerID when it is itself a CSP partner.",
    )
    customer_is_affiliate: bool = Field(
        description="SELF-01: whether the customer is an affiliate of the reseller or provider."
    )
    requested_by: Requester
    message: CustomText | None = None

    @model_validator(mode="after")
    def _parties(self) -> CustomerInvitationRequest:
        if self.kind is InvitationKind.JOINT and self.provider_partner_id is None:
            raise ValueError("a joint invitation names the indirect provider (provider_partner_id)")
        if self.kind is InvitationKind.RESELLER_ONLY and self.provider_partner_id is not None:
            raise ValueError("a reseller-only invitation names no provider")
        return self


class CustomerAcceptance(Message):
    """A webhook delivery: the customer accepted the reseller relationship (CUS-03)."""

    customer_tenant_id: TenantId
    accepted_at: datetime | None = None
    reported_by: NonEmptyText = "partner-center-webhook"


class CustomerAgreementAttestation(Message):
    """CUS-04: the customer accepted the Microsoft Customer Agreement; the partner attests it."""

    signer_name: NonEmptyText = Field(description="Who accepted the MCA for the customer.")
    accepted_at: datetime = Field(description="When the customer accepted the MCA.")
    attested_by: NonEmptyText


class CustomerInvitationStatus(Message):
    workflow_id: str
    kind: InvitationKind
    reseller_partner_id: str
    provider_partner_id: str | None
    customer_tenant_id: str
    region: str
    stage: CustomerInvitationStage
    waiting_for: str | None
    deadline: datetime | None
    reminders_sent: int = 0
    acceptance_event: AcceptanceEvent | None = None
    accepted_at: datetime | None = None
    customer_agreement_at: datetime | None = None
    outcome_reason: str | None = None
    error_type: str | None = None
    history: tuple[StageChange, ...] = ()
    signal_refusals: tuple[SignalRefusal, ...] = ()
    """Decisions sent as signals and refused, latest last (a signal has no answer)."""


class CustomerInvitationResult(Message):
    reseller_partner_id: str
    customer_tenant_id: str
    outcome: CustomerInvitationStage
    reason: str | None = None
    error_type: str | None = None


class CustomerRelationshipRecord(Message):
    """A reseller's relationship with a customer, keyed by reseller + customer tenant."""

    reseller_partner_id: str
    customer_tenant_id: str
    kind: InvitationKind
    provider_partner_id: str | None = None
    customer_country: str
    customer_partner_id: str | None = None
    status: CustomerInvitationStage
    workflow_id: str
    invited_at: datetime
    accepted_at: datetime | None = None
    acceptance_event: str | None = None
    gdap_revoked_at: datetime | None = None
    """POR-04: set when the reseller's tenant was suspended (written only by that report)."""
    updated_at: datetime


class CustomerAgreementRecord(Message):
    """CUS-04: the customer's MCA acceptance as attested, keyed by the customer tenant."""

    customer_tenant_id: str
    signer_name: str
    accepted_at: datetime
    attested_by: str
    recorded_at: datetime


# ---- subscription orders with a Partner of Record (POR-01..05, MPA-02, CUS-01, CUS-04) ---------


class OrderLineItem(Message):
    offer_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    quantity: int = Field(ge=1, le=100_000)
    friendly_name: Annotated[str, StringConstraints(max_length=200)] | None = None


class SubscriptionOrderRequest(Message):
    """A provider's new CSP subscription order for a customer, naming its Partner of Record."""

    provider_partner_id: PartnerId
    order_ref: OrderRef
    customer_tenant_id: TenantId
    partner_of_record: PartnerId | None = Field(
        default=None,
        description="POR-01/05: the IR's PartnerID (PLA of the country of purchase).",
    )
    line_items: tuple[OrderLineItem, ...] = Field(min_length=1, max_length=50)
    requested_by: Requester


class OrderStage(StrEnum):
    PRECHECKS = "prechecks"
    AWAITING_CUSTOMER_AGREEMENT = "awaiting_customer_agreement"
    POR_VALIDATION = "por_validation"
    POR_INVALID = "por_invalid"
    PLACING = "placing"
    PLACED = "placed"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"
    # Recorded by the pipeline reconciler when Temporal closed the pipeline (issue 18); a
    # pipeline Temporal failed is recorded as FAILED with the reconciler's reason.
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        return self in (
            OrderStage.PLACED,
            OrderStage.FAILED,
            OrderStage.WITHDRAWN,
            OrderStage.CANCELLED,
            OrderStage.TERMINATED,
            OrderStage.TIMED_OUT,
        )


class PartnerOfRecordFix(Message):
    """POR-03: an operator names a (new or the same, re-checked) Partner of Record."""

    partner_of_record: PartnerId
    fixed_by: Requester


class PorFailure(Message):
    """One failed Partner-of-Record condition: the rule id and what is wrong, with the figures."""

    condition: str
    problem: str


class PorVerdict(Message):
    """The outcome of POR validation for one order at one instant (see `domain.por_rules`)."""

    partner_of_record: str | None
    checked_at: datetime
    enforced: bool
    enforced_from: datetime
    failures: tuple[PorFailure, ...] = ()
    blocking: tuple[PorFailure, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.blocking


class PartnerCenterPorValidation(Message):
    """`POST /v1/partners/validateresellers` for one PartnerID."""

    is_valid: bool
    error_code: str | None = None
    error_description: str | None = None


class PorFacts(Message):
    """What the POR rules need to know about a named Partner of Record (gathered by activities)."""

    partner_id: str
    profile_country: str | None = Field(
        description="The PLA's country; None when Partner Center has no profile for the id."
    )
    reseller_status: str | None = Field(description="The registry's indirect-reseller status.")
    suspended_since: datetime | None = None
    mpa_signed: bool | None = None
    partnership_status: str | None = None
    partner_center: PartnerCenterPorValidation


class OrderStatus(Message):
    workflow_id: str
    provider_partner_id: str
    order_ref: str
    customer_tenant_id: str
    partner_of_record: str | None
    region: str | None
    stage: OrderStage
    waiting_for: str | None
    deadline: datetime | None
    verdict: PorVerdict | None = None
    warnings: tuple[str, ...] = ()
    partner_center_order_id: str | None = None
    outcome_reason: str | None = None
    error_type: str | None = None
    history: tuple[StageChange, ...] = ()
    signal_refusals: tuple[SignalRefusal, ...] = ()
    """Decisions sent as signals and refused, latest last (a signal has no answer)."""


class OrderResult(Message):
    provider_partner_id: str
    order_ref: str
    outcome: OrderStage
    partner_of_record: str | None = None
    partner_center_order_id: str | None = None
    warnings: tuple[str, ...] = ()
    reason: str | None = None
    error_type: str | None = None


class OrderRecord(Message):
    """An order as the registry knows it, keyed by provider + order reference."""

    provider_partner_id: str
    order_ref: str
    customer_tenant_id: str
    partner_of_record: str | None = None
    status: OrderStage
    por_enforced: bool | None = None
    warnings: tuple[str, ...] = ()
    status_reason: str | None = None
    error_type: str | None = None
    partner_center_order_id: str | None = None
    workflow_id: str
    updated_at: datetime
