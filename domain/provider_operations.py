"""A provider acting for a partnered reseller (DOMAIN.md REL-05, seed 003's table): adding a new
customer on the reseller's behalf, and making the reseller a subscription's support contact.

Each is a short pipeline: pre-checks (the caller's role, an active partnership, the region, and for
a support contact the provider's relationship with the customer), one Partner Center call, the
registry record. Models only; the rules live in `domain.relationship_rules`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints, field_validator

from domain.identifiers import CountryCode, NonEmptyText, PartnerId, TenantId
from domain.messages import Message, StageChange
from domain.relationships import (
    CustomerAgreementAttestation,
    PorVerdict,
    Requester,
)

DomainPrefix = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z0-9][a-z0-9-]{0,26}$"),
]
"""The new customer's `<prefix>.onmicrosoft.com` label (part of the pipeline id)."""

SubscriptionId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    ),
]
"""A Partner Center subscription id (a GUID-formatted string)."""


class OperationStage(StrEnum):
    """Where a provider operation is; the value is what PipelineStage holds."""

    PRECHECKS = "prechecks"
    CALLING_PARTNER_CENTER = "calling_partner_center"
    DONE = "done"
    REFUSED = "refused"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (OperationStage.DONE, OperationStage.REFUSED, OperationStage.FAILED)


class BillingContact(Message):
    """The customer's billing profile (`billingProfile` of `POST /v1/customers`)."""

    email: EmailStr
    first_name: NonEmptyText
    last_name: NonEmptyText
    phone_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = (
        None
    )
    culture: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}-[A-Z]{2}$")] = Field(
        default="ja-JP", description="Preferred culture, e.g. ja-JP"
    )
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = "ja"
    address_line1: NonEmptyText
    city: NonEmptyText
    state: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    postal_code: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)
    ]


class ResellerCustomerRequest(Message):
    """REL-05: the provider adds a new customer on behalf of a partnered reseller."""

    provider_partner_id: PartnerId
    reseller_partner_id: PartnerId
    customer_name: NonEmptyText
    customer_country: CountryCode
    domain_prefix: DomainPrefix
    billing: BillingContact
    customer_agreement: CustomerAgreementAttestation | None = Field(
        default=None,
        description="CUS-04: the customer's Microsoft Customer Agreement acceptance, when known; "
        "without it orders for the customer wait for the attestation.",
    )
    requested_by: Requester

    @property
    def domain(self) -> str:
        return f"{self.domain_prefix}.onmicrosoft.com"


class SupportContactRequest(Message):
    """003: make a partnered reseller the support contact of one of a customer's subscriptions."""

    provider_partner_id: PartnerId
    reseller_partner_id: PartnerId
    customer_tenant_id: TenantId
    subscription_id: SubscriptionId
    requested_by: Requester

    @field_validator("subscription_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class ProviderOperationStatus(Message):
    """The `status` query of both provider operations."""

    workflow_id: str
    operation: str
    provider_partner_id: str
    reseller_partner_id: str
    customer_tenant_id: str | None
    subscription_id: str | None = None
    region: str | None
    stage: OperationStage
    waiting_for: str | None
    outcome_reason: str | None = None
    error_type: str | None = None
    history: tuple[StageChange, ...] = ()


class ProviderOperationResult(Message):
    provider_partner_id: str
    reseller_partner_id: str
    outcome: OperationStage
    customer_tenant_id: str | None = None
    subscription_id: str | None = None
    reason: str | None = None
    error_type: str | None = None


class SupportContactRecord(Message):
    """A subscription's support contact as the registry knows it, keyed by subscription."""

    customer_tenant_id: str
    subscription_id: str
    provider_partner_id: str
    reseller_partner_id: str
    reseller_tenant_id: str
    reseller_name: str
    workflow_id: str
    set_at: datetime
    set_by: str


# ---- naming a reseller on an existing subscription (REL-06) ------------------------------------


class SubscriptionResellerStage(StrEnum):
    """Where naming a subscription's reseller (its Partner of Record) is."""

    PRECHECKS = "prechecks"
    POR_VALIDATION = "por_validation"
    POR_INVALID = "por_invalid"
    UPDATING = "updating"
    UPDATED = "updated"
    FAILED = "failed"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"
    # Recorded by the pipeline reconciler when Temporal closed the pipeline (issue 18).
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"

    @property
    def is_terminal(self) -> bool:
        return self in (
            SubscriptionResellerStage.UPDATED,
            SubscriptionResellerStage.FAILED,
            SubscriptionResellerStage.REFUSED,
            SubscriptionResellerStage.WITHDRAWN,
            SubscriptionResellerStage.TERMINATED,
            SubscriptionResellerStage.TIMED_OUT,
        )


class SubscriptionResellerRequest(Message):
    """REL-06: an existing subscription names an indirect reseller (its Partner of Record), chosen
    among the provider's partnered resellers or entered as a PartnerID and verified."""

    provider_partner_id: PartnerId
    customer_tenant_id: TenantId
    subscription_id: SubscriptionId
    partner_of_record: PartnerId = Field(
        description="The reseller's PLA PartnerID for the customer's country (POR-05)."
    )
    requested_by: Requester

    @field_validator("subscription_id")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class SubscriptionResellerRecord(Message):
    """A subscription's reseller of record as the registry knows it, keyed by subscription."""

    customer_tenant_id: str
    subscription_id: str
    provider_partner_id: str
    partner_of_record: str
    status: SubscriptionResellerStage
    status_reason: str | None = None
    error_type: str | None = None
    pending_in_partner_center: bool = False
    workflow_id: str
    updated_at: datetime


class SubscriptionResellerStatus(Message):
    workflow_id: str
    provider_partner_id: str
    customer_tenant_id: str
    subscription_id: str
    partner_of_record: str
    region: str | None
    stage: SubscriptionResellerStage
    waiting_for: str | None
    deadline: datetime | None
    verdict: PorVerdict | None = None
    warnings: tuple[str, ...] = ()
    pending_in_partner_center: bool = False
    outcome_reason: str | None = None
    error_type: str | None = None
    history: tuple[StageChange, ...] = ()


class SubscriptionResellerResult(Message):
    provider_partner_id: str
    subscription_id: str
    outcome: SubscriptionResellerStage
    partner_of_record: str
    warnings: tuple[str, ...] = ()
    pending_in_partner_center: bool = False
    reason: str | None = None
    error_type: str | None = None
