"""POR-04 after a suspension: once the reseller's tenant is reinstated, delegated admin (GDAP) to
each of its customers must be granted again (DOMAIN.md POR-04, seed 003; issue 14). The
`GdapRestoration` pipeline tells operations which customers need it and tracks each until it is
reported re-granted or given up at the deadline. Models only."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from domain.identifiers import NonEmptyText, PartnerId, TenantId
from domain.messages import Message, StageChange


class GdapRestorationStage(StrEnum):
    AWAITING_REGRANTS = "awaiting_regrants"
    RESTORED = "restored"
    """Every customer's delegated admin was reported re-granted."""
    GIVEN_UP = "given_up"
    """The deadline passed with customers still without delegated admin."""
    NOTHING_TO_RESTORE = "nothing_to_restore"

    @property
    def is_terminal(self) -> bool:
        return self is not GdapRestorationStage.AWAITING_REGRANTS


class CustomerGdapState(StrEnum):
    PENDING = "pending"
    REGRANTED = "regranted"
    GIVEN_UP = "given_up"


class GdapRestorationRequest(Message):
    """Started by the partnership pipeline when the reseller's tenant is reinstated."""

    provider_partner_id: PartnerId
    reseller_partner_id: PartnerId
    reinstated_at: datetime
    reported_by: NonEmptyText


class GdapRegrantReport(Message):
    """Delegated admin to one customer was granted again (GDAP relationship approved)."""

    customer_tenant_id: TenantId
    reported_by: NonEmptyText


class CustomerGdap(Message):
    customer_tenant_id: str
    state: CustomerGdapState
    at: datetime | None = None
    reported_by: str | None = None


class GdapRestorationStatus(Message):
    workflow_id: str
    provider_partner_id: str
    reseller_partner_id: str
    stage: GdapRestorationStage
    waiting_for: str | None
    deadline: datetime | None
    customers: tuple[CustomerGdap, ...] = ()
    outcome_reason: str | None = None
    history: tuple[StageChange, ...] = ()


class GdapRestorationResult(Message):
    reseller_partner_id: str
    outcome: GdapRestorationStage
    customers: tuple[CustomerGdap, ...] = ()
    reason: str | None = None
