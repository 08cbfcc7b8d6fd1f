"""The Partner Center (and Microsoft Graph) operations the pipelines need, behind one interface.

Two implementations: `http.PartnerCenterHttpClient` sends and reads what Microsoft documents
(tokens from `auth`, the operator check in `check`); `local.LocalPartnerCenter` answers from an
editable JSON file for the embedded default.
Both raise the same domain errors (`PartnerIdNotFound`, `TenantNotFound`, and for orders
`PorInvalid`, `MpaNotSigned`, `RegionMismatch`, `NoCommerceRelationship`) for business answers,
answer agreementstatus refusals as verdicts (`AgreementAnswer`), and raise
`PartnerCenterUnavailable` for transient failures the activity should retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.errors import PartnerIdNotFound
from domain.identifiers import TenantId
from domain.partner_center import (
    AgreementAnswer,
    AgreementVerdict,
    CreatedCustomer,
    MpnProfile,
    NewCustomer,
    OrderSubmission,
    PartnerRelationship,
    PlacedOrder,
    RelationshipType,
    ResellerValidation,
    SubscriptionPartnerOfRecord,
    SupportContact,
    TenantInfo,
)


class PartnerCenterUnavailable(Exception):
    """A transient failure (network, 408, 429, 5xx): the caller retries.

    `retry_after` is the wait Partner Center asked for (`Retry-After`, seconds) when it was longer
    than the client may wait in place; the activity hands it to Temporal as the next retry delay.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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

    async def agreement_status(self, partner_id: str) -> AgreementAnswer:
        """`GET /v1/compliance/csp/agreementstatus?mpnId=` as a verdict (MPA-01, REL-01): signed,
        not signed (2203), unknown (2200), not an indirect reseller (2204), other region (2201)."""
        ...

    async def is_agreement_signed(self, partner_id: str) -> bool:
        """MPA-01: whether `agreement_status` says signed; `PartnerIdNotFound` for an unknown id."""
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
        (20002) for business refusals; `PartnerCenterUnavailable` for 800060, 408, 429 and 5xx."""
        ...

    async def create_customer(
        self, customer: NewCustomer, *, idempotency_key: str
    ) -> CreatedCustomer:
        """`POST /v1/customers` with `associatedPartnerId` (REL-05, "Create a customer for an
        indirect reseller"); a repeated key returns the same customer. `PartnershipNotActive`
        when the reseller has no partnership with the provider."""
        ...

    async def set_subscription_support_contact(
        self,
        provider_partner_id: str,
        customer_id: TenantId,
        subscription_id: str,
        contact: SupportContact,
    ) -> SupportContact:
        """`PUT /v1/customers/{id}/subscriptions/{id}/supportcontact` (REL-05): the contact must
        be one of the provider's resellers. `SubscriptionNotChangeable` (20003, 2011, 800091)."""
        ...

    async def update_subscription_partner_of_record(
        self,
        customer_id: TenantId,
        subscription_id: str,
        partner_id: str,
        *,
        idempotency_key: str,
    ) -> SubscriptionPartnerOfRecord:
        """REL-06: GET the subscription, PATCH it back whole with `partnerId` = the reseller
        (no dedicated API is documented; see the README). `PorInvalid` for 800098/2072/800015/
        800016/800039/900123, `SubscriptionNotChangeable` for 20003/2011/800091,
        `PartnerCenterUnavailable` for 2055/800082/900278, 408, 429 and 5xx."""
        ...


@dataclass(frozen=True)
class ApiError:
    """A non-2xx answer: its status, the parsed error body, and the ids the request carried."""

    method: str
    path: str
    status: int
    code: str | None
    description: str
    request_id: str
    correlation_id: str

    def __str__(self) -> str:
        code = f" (code {self.code})" if self.code is not None else ""
        return (
            f"{self.method} {self.path} answered {self.status}{code}: {self.description} "
            f"[MS-CorrelationId={self.correlation_id}, MS-RequestId={self.request_id}]"
        )


class PartnerCenterRequestFailed(Exception):
    """An answer that is neither success, a business error nor transient; not worth retrying."""

    def __init__(self, message: str, error: ApiError | None = None) -> None:
        super().__init__(message)
        self.error = error


class PartnerCenterAuthError(PartnerCenterRequestFailed, PermissionError):
    """The token is refused (401 after one refresh), cannot be obtained, or lacks the permission
    (403 with an authorization code such as 900329 "does not support application-only
    authentication"). Not retryable. The message names the audience and the operation, never the
    token."""


def signed_from_verdict(answer: AgreementAnswer) -> bool:
    """MPA-01 from an agreementstatus verdict: an unknown PartnerID raises `PartnerIdNotFound`;
    a reseller that is not an indirect reseller, or is in another region, has not signed."""
    if answer.verdict is AgreementVerdict.PARTNER_ID_UNKNOWN:
        raise PartnerIdNotFound(
            f"PartnerID {answer.partner_id}: {answer.description or 'unknown to Partner Center'} "
            f"(agreement status error {answer.code})",
            partner_id=answer.partner_id,
        )
    return answer.verdict is AgreementVerdict.SIGNED


class PartnerCenterOperationUnsupported(Exception):
    """The operation has no public API (or the client lacks the setting it needs)."""
