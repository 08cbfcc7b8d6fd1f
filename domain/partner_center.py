"""Partner Center and Microsoft Graph facts as the pipelines see them (DOMAIN.md "Real
interfaces"): profiles, tenants, relationships, reseller validation and orders, and the documented
error codes the pipelines act on. The adapters in adapters/partner_center/ produce them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.identifiers import CountryCode, PartnerId, TenantId


class MpnProfile(BaseModel):
    """`GET /v1/profiles/mpn?mpnId=` -> the PartnerID's profile (`mpnId`, `partnerName`).

    Partner Center's MPN profile carries no country. `country` is the partner's country as a
    documented call states it: the signed-in partner's own legal business profile
    (`address.country`), or another partner's `location` on the signed-in partner's
    `GET /v1/relationships` list. None when no documented call states it (a reseller with no
    relationship to the signed-in partner yet): the region then stays for Partner Center itself to
    enforce (agreementstatus 2201, order 2030), never our own country.
    """

    model_config = ConfigDict(frozen=True)

    partner_id: PartnerId
    partner_name: str = Field(
        description="`partnerName`; not guaranteed by the answer, so `PartnerID <id>` stands in."
    )
    country: CountryCode | None = None


class TenantInfo(BaseModel):
    """The organisation's Entra tenant (Graph `GET /v1.0/organization`)."""

    model_config = ConfigDict(frozen=True)

    tenant_id: TenantId
    country: CountryCode
    default_domain: str


class RelationshipType(StrEnum):
    """`GET /v1/relationships?relationship_type=`: the provider's view lists its indirect resellers,
    the reseller's view lists its indirect providers."""

    INDIRECT_PROVIDER_OF = "IsIndirectCloudSolutionProviderOf"
    INDIRECT_RESELLER_OF = "IsIndirectResellerOf"


class PartnerRelationship(BaseModel):
    """One `PartnerRelationship` item of `GET /v1/relationships` (REL-04)."""

    model_config = ConfigDict(frozen=True)

    partner_tenant_id: str = Field(description="`id`: the other partner's tenant.")
    name: str
    mpn_id: str
    location: str | None = None
    relationship_type: RelationshipType
    state: str

    @property
    def is_active(self) -> bool:
        return self.state.casefold() == "active"


class AgreementVerdict(StrEnum):
    """What `GET /v1/compliance/csp/agreementstatus` answers about a reseller (MPA-01, REL-01).

    The documented refusals are answers, not failures: 2203 / 2206 "has not signed", 2200 "invalid
    or not in Partner Center", 2204 "not associated with any CSP Indirect Reseller account", 2201
    "the CSP region doesn't match the CSP region of the Indirect Provider", 2205 "could not find
    account" (tenant id lookups)."""

    SIGNED = "signed"
    NOT_SIGNED = "not_signed"
    PARTNER_ID_UNKNOWN = "partner_id_unknown"
    NOT_INDIRECT_RESELLER = "not_indirect_reseller"
    REGION_MISMATCH = "region_mismatch"
    TENANT_UNKNOWN = "tenant_unknown"

    @property
    def is_indirect_reseller(self) -> bool:
        """Partner Center knows an indirect-reseller account for the id (signed or not)."""
        return self in (AgreementVerdict.SIGNED, AgreementVerdict.NOT_SIGNED)

    @property
    def mpa_signed(self) -> bool | None:
        """Whether the MPA is signed; None when the answer says nothing about it (not an
        indirect-reseller account, another region, an unknown id: other rules decide those)."""
        if self is AgreementVerdict.SIGNED:
            return True
        return False if self is AgreementVerdict.NOT_SIGNED else None


AGREEMENT_STATUS_ERROR_VERDICTS: dict[str, AgreementVerdict] = {
    "2200": AgreementVerdict.PARTNER_ID_UNKNOWN,
    "2201": AgreementVerdict.REGION_MISMATCH,
    "2203": AgreementVerdict.NOT_SIGNED,
    "2204": AgreementVerdict.NOT_INDIRECT_RESELLER,
    "2205": AgreementVerdict.TENANT_UNKNOWN,
    "2206": AgreementVerdict.NOT_SIGNED,
}
"""agreementstatus error codes (HTTP 400) that are verdicts about the reseller."""


class AgreementAnswer(BaseModel):
    """One agreementstatus answer: the verdict and, for a refusal, its code and description."""

    model_config = ConfigDict(frozen=True)

    partner_id: str
    verdict: AgreementVerdict
    code: str | None = None
    description: str | None = None


class ResellerValidation(BaseModel):
    """One `validationResults` item of `POST /v1/partners/validateresellers` (POR pre-check)."""

    model_config = ConfigDict(frozen=True)

    partner_id: str
    is_valid_partner_id_on_record: bool
    error_code: str | None = None
    error_description: str | None = None


class OrderLine(BaseModel):
    """One `lineItems` entry of `POST /v1/customers/{id}/orders`."""

    model_config = ConfigDict(frozen=True)

    line_item_number: int
    offer_id: str
    quantity: int
    friendly_name: str | None = None
    partner_id_on_record: str | None = None


class OrderSubmission(BaseModel):
    model_config = ConfigDict(frozen=True)

    partner_id: str = Field(
        description="The ordering partner (the signed-in provider; the HTTP client's token)."
    )
    customer_id: TenantId
    line_items: tuple[OrderLine, ...]
    billing_cycle: str = "monthly"


class PlacedOrder(BaseModel):
    """Partner Center's `Order` answer."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    status: str
    customer_id: str
    line_items: tuple[OrderLine, ...]


ORDER_POR_ERROR_CODES = frozenset({"800015", "800016", "800039", "2072"})
"""Order errors about the Partner of Record: PartnerId not found (404) / not a valid IR PartnerId
(400) / reseller program status not active (403) / the Indirect Provider's PartnerID is not valid
as POR (404). Not retryable: the POR must be fixed (POR-03)."""


ORDER_MPA_ERROR_CODE = "900123"
"""The indirect reseller has not accepted the MPA (403; MPA-02)."""


ORDER_RETRYABLE_ERROR_CODES = frozenset({"800060"})
"""Order errors worth retrying as they are: an order for the customer is in progress."""


ORDER_REGION_ERROR_CODE = "2030"
"""The partner is not onboarded to sell in the customer's country/region (REG-01)."""


ORDER_NO_RELATIONSHIP_ERROR_CODE = "20002"
"""The partner has no commerce relationship with the customer (CUS-01)."""


# ---- provider operations for partnered resellers (REL-05, REL-06) ---------------------------


class CustomerAddress(BaseModel):
    """The `Address` resource (`defaultAddress` of a customer's billing profile)."""

    model_config = ConfigDict(frozen=True)

    country: CountryCode
    city: str
    address_line1: str
    postal_code: str
    state: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone_number: str | None = None


class NewCustomer(BaseModel):
    """`POST /v1/customers` by an indirect provider for an indirect reseller ("Create a customer
    for an indirect reseller"): `associatedPartnerId` is the reseller's id; without it the
    customer would be the provider's own direct customer."""

    model_config = ConfigDict(frozen=True)

    provider_partner_id: PartnerId
    reseller_partner_id: PartnerId
    reseller_tenant_id: str = Field(
        description="`AssociatedPartnerId`: Microsoft's example passes the reseller's tenant id."
    )
    domain: str = Field(description="`companyProfile.domain`, e.g. kaisha.onmicrosoft.com")
    company_name: str
    email: str
    culture: str
    language: str
    address: CustomerAddress


class CreatedCustomer(BaseModel):
    """Partner Center's `Customer` answer: `id` is the customer's tenant id."""

    model_config = ConfigDict(frozen=True)

    customer_id: TenantId
    domain: str
    company_name: str
    associated_partner_id: str | None = None


class SupportContact(BaseModel):
    """The `SupportContact` resource of a subscription: one of the partner's resellers."""

    model_config = ConfigDict(frozen=True)

    support_tenant_id: str
    support_mpn_id: PartnerId
    name: str


class SubscriptionPartnerOfRecord(BaseModel):
    """A subscription's reseller of record as Partner Center answers it (`partnerId` of the
    `Subscription` resource: "The PartnerID of the reseller of record, used in the indirect
    partner model")."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    subscription_id: str
    offer_id: str | None = None
    partner_id: str | None = None
    status: str
    pending: bool = Field(
        default=False,
        description="Partner Center answered 202 + Location: the change is still being applied.",
    )


SUBSCRIPTION_POR_ERROR_CODES = frozenset({"800098", "2072", "800015", "800016", "800039", "900123"})
"""Refusals of a subscription's new reseller of record: can't update the partner on record (800098),
PartnerID of an indirect provider (2072), not found (800015), not a valid indirect reseller
(800016), program status not active (800039), MPA not accepted by the reseller (900123)."""

SUBSCRIPTION_STATE_ERROR_CODES = frozenset({"20003", "2011", "800091"})
"""The subscription cannot be changed: not found (20003), deleted (2011), suspended (800091)."""

SUBSCRIPTION_RETRYABLE_ERROR_CODES = frozenset({"2055", "800082", "900278"})
"""Worth retrying after a fresh read: stale Etag (2055), not ready to be updated (800082), a
pending operation on the subscription (900278; Microsoft says retry after 24 hours)."""
