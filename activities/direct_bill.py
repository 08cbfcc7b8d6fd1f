"""Direct-bill side effects: the gate and eligibility lookups (each check its own activity so its
result is kept in history for the operator), registry writes, cooldowns and tenant activation."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import TypeVar

from temporalio import activity

from adapters.partner_programs import PartnerPrograms
from adapters.registry import PartnerRegistry
from contract.activities.direct_bill import (
    ACTIVATE_DIRECT_BILL_TENANT,
    CHECK_DIRECT_BILL_DESIGNATIONS,
    CHECK_DIRECT_BILL_PROGRAM,
    CHECK_DIRECT_BILL_REVENUE,
    CHECK_DIRECT_BILL_SECURITY,
    CHECK_DIRECT_BILL_TENURE,
    LIST_AUTHORIZED_INDIRECT_PROVIDERS,
    LOAD_DIRECT_BILL_GATE_FACTS,
    SAVE_DIRECT_BILL_RECORD,
    START_DIRECT_BILL_COOLDOWN,
    ActivationRequest,
    DirectBillRecordSaved,
    GateFacts,
    GateFactsRequest,
    PgaRequest,
    ProgramCheckRequest,
    ProviderOptionsRequest,
    RevenueCheckRequest,
    TenureCheckRequest,
)
from contract.errors import to_application_error
from domain import direct_bill_rules as rules
from domain.direct_bill import (
    Activation,
    Cooldown,
    DirectBillRecord,
    EligibilityCheck,
)
from domain.errors import BusinessRuleViolation, InvalidSourceData, PartnerIdNotFound
from domain.transition import ProviderOptions

_T = TypeVar("_T")


class DirectBillActivities:
    def __init__(self, registry: PartnerRegistry, programs: PartnerPrograms) -> None:
        self._registry = registry
        self._programs = programs

    @activity.defn(name=LOAD_DIRECT_BILL_GATE_FACTS.name)
    async def load_gate_facts(self, request: GateFactsRequest) -> GateFacts:
        cooldown = await self._registry.get_cooldown(request.pga_id)
        existing = await self._registry.get_direct_bill(request.pga_id, request.region)
        return GateFacts(
            cooldown_until=cooldown.until if cooldown else None,
            existing_status=existing.status.value if existing else None,
            existing_workflow_id=existing.workflow_id if existing else None,
        )

    @activity.defn(name=CHECK_DIRECT_BILL_TENURE.name)
    async def check_tenure(self, request: TenureCheckRequest) -> EligibilityCheck:
        """DB-01, from the registry's IR authorisation, else the program's record of it."""
        reseller = await self._registry.get_reseller(request.pla_id)
        authorized = reseller.ir_authorized_at if reseller else None
        if authorized is None:
            membership = await self._business(
                self._programs.get_membership(request.pga_id, request.pla_id)
            )
            authorized = membership.ir_authorized_at
        return rules.check_tenure(authorized, request.as_of, request.business_time_zone)

    @activity.defn(name=CHECK_DIRECT_BILL_REVENUE.name)
    async def check_revenue(self, request: RevenueCheckRequest) -> EligibilityCheck:
        """DB-03 on the figure with its period and as-of date (a stale one counts as unknown)."""
        revenue = await self._business(self._programs.get_ttm_revenue(request.pga_id))
        return rules.check_ttm_revenue_figure(
            revenue,
            request.as_of or datetime.now(UTC),
            request.business_time_zone,
            request.max_age_days,
        )

    @activity.defn(name=CHECK_DIRECT_BILL_SECURITY.name)
    async def check_security(self, request: PgaRequest) -> EligibilityCheck:
        requirements = await self._business(
            self._programs.get_security_requirements(request.pga_id)
        )
        return rules.check_security(requirements)

    @activity.defn(name=CHECK_DIRECT_BILL_DESIGNATIONS.name)
    async def check_designations(self, request: PgaRequest) -> EligibilityCheck:
        designations = await self._business(self._programs.get_designations(request.pga_id))
        return rules.check_designations(designations)

    @activity.defn(name=CHECK_DIRECT_BILL_PROGRAM.name)
    async def check_program(self, request: ProgramCheckRequest) -> EligibilityCheck:
        membership = await self._business(
            self._programs.get_membership(request.pga_id, request.pla_id)
        )
        return rules.check_program(
            membership_active=membership.membership_active,
            pla_country=membership.pla_country,
            region=request.region,
            authority_to_accept_agreements=request.authority_to_accept_agreements,
            first_level_support=request.first_level_support,
        )

    @activity.defn(name=LIST_AUTHORIZED_INDIRECT_PROVIDERS.name)
    async def list_authorized_indirect_providers(
        self, request: ProviderOptionsRequest
    ) -> ProviderOptions:
        """RA-04: the PLA's country (its program location) and the authorized providers.

        A PGA or PLA location the partner-programs source does not know cannot be offered any
        provider, now or on a retry: InvalidSourceData (non-retryable) naming the source and the
        field, which the transition records and reports to operations."""
        source = f"partner-programs source ({type(self._programs).__name__})"
        try:
            membership = await self._programs.get_membership(request.pga_id, request.pla_id)
        except PartnerIdNotFound:
            raise InvalidSourceData(
                source,
                f"partners.{request.pga_id}",
                f"is missing: PGA {request.pga_id} is unknown, so the country of PLA "
                f"{request.pla_id} cannot be looked up (RA-04)",
            ) from None
        if membership.pla_country is None:
            raise InvalidSourceData(
                source,
                f"partners.{request.pga_id}.locations.{request.pla_id}.country",
                f"is missing: the CSP region of PLA {request.pla_id} is unknown, so no "
                "authorized indirect provider can be offered (RA-04)",
            )
        providers = await self._business(self._programs.list_authorized_indirect_providers())
        return ProviderOptions(reseller_country=membership.pla_country, providers=tuple(providers))

    @activity.defn(name=SAVE_DIRECT_BILL_RECORD.name)
    async def save_record(self, record: DirectBillRecord) -> DirectBillRecordSaved:
        await self._registry.save_direct_bill(record)
        return DirectBillRecordSaved(
            pga_id=record.pga_id, region=record.region, status=record.status.value
        )

    @activity.defn(name=START_DIRECT_BILL_COOLDOWN.name)
    async def start_cooldown(self, cooldown: Cooldown) -> Cooldown:
        """RA-03: the cooldown in force after this one is recorded (a later one is kept)."""
        return await self._registry.start_cooldown(cooldown)

    @activity.defn(name=ACTIVATE_DIRECT_BILL_TENANT.name)
    async def activate_tenant(self, request: ActivationRequest) -> Activation:
        return await self._business(
            self._programs.activate_direct_bill_tenant(
                request.pga_id, request.region, idempotency_key=request.idempotency_key
            )
        )

    @staticmethod
    async def _business(lookup: Awaitable[_T]) -> _T:
        try:
            return await lookup
        except BusinessRuleViolation as err:
            raise to_application_error(err) from err
