"""Direct-bill side effects: the gate and eligibility lookups (each check its own activity so its
result is kept in history for the operator), registry writes, cooldowns and tenant activation."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from adapters.partner_programs import PartnerPrograms
from adapters.registry import PartnerRegistry
from contract.errors import to_application_error
from domain import direct_bill_rules as rules
from domain.direct_bill import (
    Activation,
    Cooldown,
    DirectBillPolicy,
    DirectBillRecord,
    EligibilityCheck,
)
from domain.errors import BusinessRuleViolation

_T = TypeVar("_T")


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True)


class PgaRequest(_Request):
    pga_id: str


class GateFactsRequest(_Request):
    pga_id: str
    region: str


class GateFacts(_Request):
    cooldown_until: datetime | None
    existing_status: str | None
    existing_workflow_id: str | None


class TenureCheckRequest(_Request):
    pga_id: str
    pla_id: str
    as_of: datetime


class ProgramCheckRequest(_Request):
    pga_id: str
    pla_id: str
    region: str
    authority_to_accept_agreements: bool
    first_level_support: bool


class ActivationRequest(_Request):
    pga_id: str
    region: str
    idempotency_key: str


class DirectBillRecordSaved(_Request):
    pga_id: str
    region: str
    status: str


class DirectBillPolicyRequest(_Request):
    pipeline: str


class DirectBillActivities:
    def __init__(
        self, registry: PartnerRegistry, programs: PartnerPrograms, policy: DirectBillPolicy
    ) -> None:
        self._registry = registry
        self._programs = programs
        self._policy = policy

    @activity.defn(name="load_direct_bill_policy")
    async def load_direct_bill_policy(self, request: DirectBillPolicyRequest) -> DirectBillPolicy:
        return self._policy

    @activity.defn(name="load_direct_bill_gate_facts")
    async def load_gate_facts(self, request: GateFactsRequest) -> GateFacts:
        cooldown = await self._registry.get_cooldown(request.pga_id)
        existing = await self._registry.get_direct_bill(request.pga_id, request.region)
        return GateFacts(
            cooldown_until=cooldown.until if cooldown else None,
            existing_status=existing.status.value if existing else None,
            existing_workflow_id=existing.workflow_id if existing else None,
        )

    @activity.defn(name="check_direct_bill_tenure")
    async def check_tenure(self, request: TenureCheckRequest) -> EligibilityCheck:
        """DB-01, from the registry's IR authorisation, else the program's record of it."""
        reseller = await self._registry.get_reseller(request.pla_id)
        authorized = reseller.ir_authorized_at if reseller else None
        if authorized is None:
            membership = await self._business(
                self._programs.get_membership(request.pga_id, request.pla_id)
            )
            authorized = membership.ir_authorized_at
        return rules.check_tenure(authorized, request.as_of)

    @activity.defn(name="check_direct_bill_revenue")
    async def check_revenue(self, request: PgaRequest) -> EligibilityCheck:
        lines = await self._business(self._programs.get_ttm_revenue(request.pga_id))
        return rules.check_ttm_revenue(lines)

    @activity.defn(name="check_direct_bill_security")
    async def check_security(self, request: PgaRequest) -> EligibilityCheck:
        requirements = await self._business(
            self._programs.get_security_requirements(request.pga_id)
        )
        return rules.check_security(requirements)

    @activity.defn(name="check_direct_bill_designations")
    async def check_designations(self, request: PgaRequest) -> EligibilityCheck:
        designations = await self._business(self._programs.get_designations(request.pga_id))
        return rules.check_designations(designations)

    @activity.defn(name="check_direct_bill_program")
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

    @activity.defn(name="save_direct_bill_record")
    async def save_record(self, record: DirectBillRecord) -> DirectBillRecordSaved:
        await self._registry.save_direct_bill(record)
        return DirectBillRecordSaved(
            pga_id=record.pga_id, region=record.region, status=record.status.value
        )

    @activity.defn(name="start_direct_bill_cooldown")
    async def start_cooldown(self, cooldown: Cooldown) -> Cooldown:
        """RA-03: the cooldown in force after this one is recorded (a later one is kept)."""
        return await self._registry.start_cooldown(cooldown)

    @activity.defn(name="activate_direct_bill_tenant")
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
