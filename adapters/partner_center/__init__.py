"""The Partner Center (and Microsoft Graph) operations the pipelines need, behind one interface.

Two implementations: `http.PartnerCenterHttpClient` mirrors the public REST shapes (DOMAIN.md,
"Real interfaces"); `local.LocalPartnerCenter` answers from an editable JSON file for the embedded
default.
Both raise the same domain errors (`PartnerIdNotFound`, `TenantNotFound`, and for orders
`PorInvalid`, `RegionMismatch`, `NoCommerceRelationship`) for business answers and
`PartnerCenterUnavailable` for transient failures the activity should retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from domain.identifiers import CountryCode, PartnerId, TenantId


class PartnerCenterUnavailable(Exception):
    """A transient failure (network, 429, 5xx): the caller retries."""


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


class PartnerCenter(Protocol):
    async def get_mpn_profile(self, partner_id: str) -> MpnProfile:
        """The profile; `PartnerIdNotFound` when Partner Center answers 404 / error 3000."""
        ...

    async def get_tenant(self, tenant_id: TenantId) -> TenantInfo:
        """The tenant; `TenantNotFound` when it does not exist."""
        ...

    async def is_global_admin(self, tenant_id: TenantId, user_principal_name: str) -> bool:
        """Whether the user holds the Global administrator role in the tenant (ENR-02)."""
        ...

    async def create_tenant(
        self, *, domain_prefix: str, country: str, global_admin: str, idempotency_key: str
    ) -> TenantInfo:
        """Create `<domain_prefix>.onmicrosoft.com` (ENR-02); a repeated key returns that tenant."""
        ...

    async def ensure_admin_agent(self, tenant_id: TenantId, *, idempotency_key: str) -> None:
        """Put the company in the Admin agent group (ENR-08); a no-op when it already is."""
        ...

    async def is_agreement_signed(self, partner_id: str) -> bool:
        """`GET /v1/compliance/csp/agreementstatus?mpnId=` -> `isAgreementSigned` (MPA-01)."""
        ...

    async def list_relationships(
        self, partner_id: str, relationship_type: RelationshipType
    ) -> list[PartnerRelationship]:
        """`GET /v1/relationships?relationship_type=` as `partner_id` sees them (REL-04). The HTTP
        client answers for the signed-in partner, which must be `partner_id`."""
        ...

    async def get_customer_relationship_request(
        self, reseller_partner_id: str, provider_partner_id: str | None
    ) -> str:
        """`GET /v1/customers/relationshiprequests` -> the personalised invitation `url` (CUS-02)
        of the signed-in reseller (joint with `provider_partner_id` when given)."""
        ...

    async def validate_resellers(self, partner_ids: Sequence[str]) -> list[ResellerValidation]:
        """`POST /v1/partners/validateresellers` (POR-02 pre-check), one result per id."""
        ...

    async def place_order(self, order: OrderSubmission, *, idempotency_key: str) -> PlacedOrder:
        """`POST /v1/customers/{id}/orders`; a repeated key returns the same order.

        `PorInvalid` (800015/800016/800039), `RegionMismatch` (2030), `NoCommerceRelationship`
        (20002) for business refusals; `PartnerCenterUnavailable` for 800060, 429 and 5xx."""
        ...
