"""Partner-program facts the direct-bill pipelines need and that Partner Center exposes no public
API for (DOMAIN.md): PGA-level TTM revenue, the security score, Solutions Partner designations,
membership per location, and the activation of a direct-bill tenant. Backends own these; the
embedded default reads them from an editable JSON file (`local.LocalPartnerPrograms`)."""

from __future__ import annotations

from typing import Protocol

from domain.direct_bill import Activation, LocationMembership, SecurityRequirements, TtmRevenue
from domain.transition import IndirectProvider


class PartnerPrograms(Protocol):
    async def get_ttm_revenue(self, pga_id: str) -> TtmRevenue:
        """DB-03: the PGA's TTM revenue per CSP tenant, with its period and as-of date."""
        ...

    async def get_security_requirements(self, pga_id: str) -> SecurityRequirements: ...

    async def get_designations(self, pga_id: str) -> list[str]: ...

    async def get_membership(self, pga_id: str, pla_id: str) -> LocationMembership: ...

    async def list_authorized_indirect_providers(self) -> list[IndirectProvider]:
        """The indirect providers Microsoft has authorized, each with its country (RA-04)."""
        ...

    async def activate_direct_bill_tenant(
        self, pga_id: str, region: str, *, idempotency_key: str
    ) -> Activation:
        """Activate the PGA's direct-bill tenant in the region; repeating returns the same one."""
        ...
