"""Partner Center lookups and set-up steps for enrollment (ENR-02, ENR-03, ENR-08, MPA-01).

Business answers (unknown PartnerID, not a Global admin, ...) become non-retryable ApplicationErrors
with the stable error type. A call the client cannot make as configured (`OperationUnsupported`,
e.g. Graph without a Graph credential) is non-retryable too, and is an operator's to fix, not a
refusal of the partner. Transient failures propagate and Temporal retries them.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.relationships import partner_center_answers
from adapters.partner_center import (
    PartnerCenter,
    PartnerCenterOperationUnsupported,
    signed_from_verdict,
)
from contract.activities.checks import (
    CHECK_AGREEMENT_STATUS,
    CHECK_TENANT_ADMIN,
    CREATE_TENANT,
    ENSURE_ADMIN_AGENT,
    VERIFY_PARTNER_ID,
    AdminAgentResult,
    AdminAgentSetup,
    AgreementStatus,
    PartnerIdCheck,
    TenantCheck,
    TenantCreation,
)
from contract.errors import OPERATION_UNSUPPORTED
from domain.errors import NotGlobalAdmin
from domain.partner_center import MpnProfile, TenantInfo


class PartnerCenterActivities:
    def __init__(self, partner_center: PartnerCenter) -> None:
        self._pc = partner_center

    @activity.defn(name=VERIFY_PARTNER_ID.name)
    async def verify_partner_id(self, request: PartnerIdCheck) -> MpnProfile:
        """ENR-03: the PartnerID exists; its profile gives the region."""
        with partner_center_answers():
            return await self._pc.get_mpn_profile(request.partner_id)

    @activity.defn(name=CHECK_TENANT_ADMIN.name)
    async def check_tenant_admin(self, request: TenantCheck) -> TenantInfo:
        """ENR-02: the tenant exists and the applicant is one of its Global admins."""
        with partner_center_answers():
            tenant = await self._pc.get_tenant(request.tenant_id)
            if not await self._pc.is_global_admin(request.tenant_id, request.global_admin):
                raise NotGlobalAdmin(
                    f"the applicant is not a Global admin of tenant {request.tenant_id}; "
                    "a Global admin of the organisation's tenant must enroll",
                    tenant_id=str(request.tenant_id),
                )
        return tenant

    @activity.defn(name=CREATE_TENANT.name)
    async def create_tenant(self, request: TenantCreation) -> TenantInfo:
        """ENR-02: a tenant created during enrollment, idempotent by key."""
        try:
            return await self._pc.create_tenant(
                domain_prefix=request.domain_prefix,
                country=request.country,
                global_admin=request.global_admin,
                idempotency_key=request.idempotency_key,
            )
        except PartnerCenterOperationUnsupported as err:
            raise ApplicationError(
                str(err), type=OPERATION_UNSUPPORTED, non_retryable=True
            ) from err

    @activity.defn(name=ENSURE_ADMIN_AGENT.name)
    async def ensure_admin_agent(self, request: AdminAgentSetup) -> AdminAgentResult:
        """ENR-08: the company is in the Admin agent group."""
        with partner_center_answers():
            await self._pc.ensure_admin_agent(
                request.tenant_id, idempotency_key=request.idempotency_key
            )
        return AdminAgentResult(tenant_id=request.tenant_id, admin_agent=True)

    @activity.defn(name=CHECK_AGREEMENT_STATUS.name)
    async def check_agreement_status(self, request: PartnerIdCheck) -> AgreementStatus:
        """MPA-01: whether the partner has signed the Microsoft Partner Agreement."""
        with partner_center_answers():
            answer = await self._pc.agreement_status(request.partner_id)
            signed = signed_from_verdict(answer)
        return AgreementStatus(
            partner_id=request.partner_id,
            is_agreement_signed=signed,
            verdict=answer.verdict.value,
            partner_center_code=answer.code,
        )
