"""The partner registry: system of record for each partner's program status, region and dates.

`PartnerRegistry` is the interface activities use; `sql.SqlPartnerRegistry` implements it on
SQLAlchemy (SQLite by default, PostgreSQL at scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from domain.direct_bill import (
    Cooldown,
    DirectBillRecord,
    DirectBillRegistryStatus,
    SupportPlan,
)
from domain.por_sweep import PorCheck, PorReport
from domain.provider_operations import SubscriptionResellerRecord, SupportContactRecord
from domain.reconciliation import ClosedPipeline, OpenRecord
from domain.relationships import (
    CustomerAgreementRecord,
    CustomerRelationshipRecord,
    OrderRecord,
    PartnershipRecord,
    ResellerSuspensionRecord,
)
from domain.reseller_enrollment import ResellerRecord
from domain.reseller_exit import ResellerExitRecord


class PartnerRegistry(Protocol):
    async def save_reseller(self, record: ResellerRecord) -> None:
        """Insert or replace the partner's reseller record (idempotent)."""
        ...

    async def get_reseller(self, partner_id: str) -> ResellerRecord | None: ...

    async def was_message_sent(self, idempotency_key: str) -> bool: ...

    async def record_message_sent(self, idempotency_key: str, sent_at: datetime) -> None:
        """Remember a sent email so a retried activity does not send it again."""
        ...

    async def get_direct_bill(self, pga_id: str, region: str) -> DirectBillRecord | None: ...

    async def save_direct_bill(self, record: DirectBillRecord) -> None:
        """Insert or replace the PGA's record for the region (idempotent)."""
        ...

    async def change_direct_bill_status(
        self,
        pga_id: str,
        region: str,
        *,
        status: DirectBillRegistryStatus,
        reason: str | None,
        updated_at: datetime,
        next_reassessment_due: date | None = None,
        renewed_plan: SupportPlan | None = None,
    ) -> bool:
        """Change the partner's status (and a pass's due date and renewed plan) in place,
        unless its row holds a later `updated_at`; False when the partner has no row."""
        ...

    async def list_direct_bill_due(
        self, month: int, after: tuple[str, str] | None, limit: int
    ) -> list[DirectBillRecord]:
        """Active direct-bill records whose renewal or onboarding-anniversary month is `month`,
        ordered by (PGA, region), strictly after `after`: one page of a sweep."""
        ...

    async def get_cooldown(self, pga_id: str) -> Cooldown | None: ...

    async def start_cooldown(self, cooldown: Cooldown) -> Cooldown:
        """Record a cooldown; an existing one that ends later is kept. Returns the one in force."""
        ...

    async def close(self) -> None: ...

    # -- relationship pipelines (DOMAIN.md sections 3-6) -------------------------------------

    async def save_partnership(self, record: PartnershipRecord) -> None:
        """Insert or replace the provider + reseller partnership (idempotent)."""
        ...

    async def get_partnership(
        self, provider_partner_id: str, reseller_partner_id: str
    ) -> PartnershipRecord | None: ...

    async def save_customer_relationship(self, record: CustomerRelationshipRecord) -> None:
        """Insert or replace the reseller + customer relationship; `gdap_revoked_at` is written
        only by `revoke_reseller_gdap` and kept by later saves."""
        ...

    async def get_customer_relationship(
        self, reseller_partner_id: str, customer_tenant_id: str
    ) -> CustomerRelationshipRecord | None: ...

    async def list_customer_relationships(
        self, customer_tenant_id: str
    ) -> list[CustomerRelationshipRecord]:
        """Every reseller's relationship with the customer."""
        ...

    async def revoke_reseller_gdap(self, reseller_partner_id: str, at: datetime) -> int:
        """POR-04: mark delegated admin revoked on every customer of the reseller not marked yet;
        returns how many of its customers are marked. Nothing else about a customer changes."""
        ...

    async def save_customer_agreement(self, record: CustomerAgreementRecord) -> None:
        """Insert or replace the customer's MCA attestation (CUS-04)."""
        ...

    async def get_customer_agreement(
        self, customer_tenant_id: str
    ) -> CustomerAgreementRecord | None: ...

    async def save_reseller_suspension(self, record: ResellerSuspensionRecord) -> None: ...

    async def get_reseller_suspension(
        self, reseller_partner_id: str
    ) -> ResellerSuspensionRecord | None: ...

    async def find_csp_tenant_owner(self, tenant_id: str) -> str | None:
        """The PartnerID whose CSP tenant `tenant_id` is (a reseller's, or a provider's recorded
        on a partnership), or None (SELF-02)."""
        ...

    async def save_order(self, record: OrderRecord) -> None:
        """Insert or replace the provider + order reference record (idempotent)."""
        ...

    async def get_order(self, provider_partner_id: str, order_ref: str) -> OrderRecord | None: ...

    async def list_open_pipelines(self, limit: int) -> list[OpenRecord]:
        """Rows whose pipeline should be running: enrollments `enrolling`, direct-bill
        applications `applying` (issue 18's reconciler)."""
        ...

    async def record_pipeline_closure(self, closed: ClosedPipeline) -> bool:
        """Record how Temporal closed the row's pipeline, only if the row is still the one that
        pipeline left (same status and workflow id); False when it changed meanwhile."""
        ...

    async def save_support_contact(self, record: SupportContactRecord) -> None:
        """Insert or replace the customer + subscription record (idempotent)."""
        ...

    async def get_support_contact(
        self, customer_tenant_id: str, subscription_id: str
    ) -> SupportContactRecord | None: ...

    async def save_subscription_reseller(self, record: SubscriptionResellerRecord) -> None:
        """Insert or replace the customer + subscription record (idempotent)."""
        ...

    async def get_subscription_reseller(
        self, customer_tenant_id: str, subscription_id: str
    ) -> SubscriptionResellerRecord | None: ...

    async def list_gdap_revoked_customers(
        self, reseller_partner_id: str
    ) -> list[CustomerRelationshipRecord]:
        """POR-04: the reseller's customers whose delegated admin is marked revoked."""
        ...

    async def restore_customer_gdap(
        self, reseller_partner_id: str, customer_tenant_id: str
    ) -> bool:
        """POR-04: delegated admin granted again; clears `gdap_revoked_at` (idempotent). True
        when the reseller has a relationship with the customer."""
        ...

    async def save_reseller_exit(self, record: ResellerExitRecord) -> None:
        """Insert or replace the reseller + provider record (idempotent)."""
        ...

    async def get_reseller_exit(
        self, reseller_partner_id: str, provider_partner_id: str
    ) -> ResellerExitRecord | None: ...

    # -- invalid Partners of Record found before orders fail (REL-07) ------------------------

    async def list_active_partnerships(
        self, after: tuple[str, str] | None, limit: int
    ) -> list[PartnershipRecord]:
        """Active partnerships ordered by (provider, reseller), strictly after `after`: one page
        of the POR sweep."""
        ...

    async def record_por_checks(self, checks: Sequence[PorCheck]) -> None:
        """Insert or replace each check of its sweep (idempotent)."""
        ...

    async def count_por_checks(self, sweep_id: str) -> tuple[int, int]:
        """(valid, invalid) checks recorded for the sweep."""
        ...

    async def list_invalid_por_checks(
        self, sweep_id: str, limit: int | None = None
    ) -> list[PorCheck]:
        """The sweep's invalid checks ordered by (provider, reseller)."""
        ...

    async def save_por_report(self, report: PorReport) -> None:
        """Insert or replace the sweep's report (idempotent)."""
        ...

    async def latest_por_report(self) -> PorReport | None:
        """The report of the sweep that finished last."""
        ...
