"""The Partner Center (and Microsoft Graph) operations the pipelines need, behind one interface.

Two implementations: `http.PartnerCenterHttpClient` mirrors the public REST shapes (DOMAIN.md,
"Real interfaces"); `local.LocalPartnerCenter` answers from an editable JSON file for the embedded
default.
Both raise the same domain errors (`PartnerIdNotFound`, `TenantNotFound`) for business answers and
`PartnerCenterUnavailable` for transient failures the activity should retry.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

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
