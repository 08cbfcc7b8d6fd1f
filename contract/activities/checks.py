"""The `checks` activities as workflows call them: registered name, input and output.

Implemented by activities/checks.py.
"""

from __future__ import annotations

from pydantic import EmailStr

from contract.activities import ActivityRef
from domain.identifiers import CountryCode, PartnerId, TenantId
from domain.messages import Message
from domain.partner_center import MpnProfile, TenantInfo


class PartnerIdCheck(Message):
    partner_id: PartnerId


class TenantCheck(Message):
    tenant_id: TenantId
    global_admin: EmailStr


class TenantCreation(Message):
    idempotency_key: str
    domain_prefix: str
    country: CountryCode
    global_admin: EmailStr


class AdminAgentSetup(Message):
    idempotency_key: str
    tenant_id: TenantId


class AdminAgentResult(Message):
    tenant_id: TenantId
    admin_agent: bool


class AgreementStatus(Message):
    partner_id: str
    is_agreement_signed: bool
    verdict: str | None = None
    """Partner Center's agreementstatus verdict (`domain.partner_center.AgreementVerdict`)."""
    partner_center_code: str | None = None
    """The documented refusal code behind it (2203 not signed, 2204 not an indirect reseller...)."""


VERIFY_PARTNER_ID = ActivityRef("verify_partner_id", PartnerIdCheck, MpnProfile)
CHECK_TENANT_ADMIN = ActivityRef("check_tenant_admin", TenantCheck, TenantInfo)
CREATE_TENANT = ActivityRef("create_tenant", TenantCreation, TenantInfo)
ENSURE_ADMIN_AGENT = ActivityRef("ensure_admin_agent", AdminAgentSetup, AdminAgentResult)
CHECK_AGREEMENT_STATUS = ActivityRef("check_agreement_status", PartnerIdCheck, AgreementStatus)
