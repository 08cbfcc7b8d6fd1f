"""Partner Center and Microsoft Graph facts as the pipelines see them (DOMAIN.md "Real
interfaces"): profiles, tenants, relationships, reseller validation and orders, and the documented
error codes the pipelines act on. The adapters in adapters/partner_center/ produce them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from domain.identifiers import CountryCode, PartnerId, TenantId


class MpnProfile(BaseModel):
    """`GET /v1/profiles/mpn?mpnId=` -> the PartnerID's profile."""

    model_config = ConfigDict(frozen=True)

    partner_id: PartnerId
    partner_name: str
    country: CountryCode


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


ORDER_POR_ERROR_CODES = frozenset({"800015", "800016", "800039"})
"""Order errors about the Partner of Record: PartnerId not found / not a valid IR PartnerId /
reseller program status not active. Not retryable: the POR must be fixed (POR-03)."""


ORDER_RETRYABLE_ERROR_CODES = frozenset({"800060"})
"""Order errors worth retrying as they are: an order for the customer is in progress."""


ORDER_REGION_ERROR_CODE = "2030"
"""The partner is not onboarded to sell in the customer's country/region (REG-01)."""


ORDER_NO_RELATIONSHIP_ERROR_CODE = "20002"
"""The partner has no commerce relationship with the customer (CUS-01)."""
