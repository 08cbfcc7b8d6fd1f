"""RA-04: the transition back to indirect reseller is a real move. The partner chooses an
authorized indirect provider in its own CSP regional market, the partnership with that provider
runs, and the partner's customers and subscriptions stay where they are (END-01).

Models and the choice rule; the pipeline is workflows/transition_to_indirect.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from domain import regions
from domain.errors import ProviderNotAuthorized, RegionMismatch
from domain.identifiers import NonEmptyText, PartnerId, TenantId
from domain.messages import Message, StageChange
from domain.relationships import PartnerCenterLink, Requester

RULE = "RA-04"

CUSTOMERS_STAY = (
    "customers and subscriptions stay in place: the move deletes and transfers nothing (END-01)"
)


class IndirectProvider(Message):
    """An indirect provider Microsoft has authorized in a CSP regional market."""

    partner_id: str
    name: str
    country: str


class ProviderOptions(Message):
    """What the choice is checked against: the transitioning PLA's country and the authorized
    indirect providers known to the partner program."""

    reseller_country: str | None
    providers: tuple[IndirectProvider, ...] = ()


class ProviderChoice(Message):
    """The partner names the indirect provider it moves to, with what the partnership request
    needs from that provider (REL-03: its Admin agent and Partner Center's request link)."""

    provider_partner_id: PartnerId
    provider_tenant_id: TenantId
    requested_by: Requester = Field(
        description="The provider's Admin agent who drafted the partnership request (REL-03)."
    )
    invitation_link: PartnerCenterLink
    chosen_by: NonEmptyText


class TransitionStage(StrEnum):
    TRANSITIONING = "transitioning"
    AWAITING_PROVIDER_CHOICE = "awaiting_provider_choice"
    AWAITING_PARTNERSHIP = "awaiting_partnership"
    INDIRECT_RESELLER = "indirect_reseller"


class TransitionStatus(Message):
    pga_id: str
    region: str
    pla_id: str
    stage: TransitionStage
    waiting_for: str | None
    deadline: datetime | None
    reseller_country: str | None = None
    providers_offered: tuple[IndirectProvider, ...] = ()
    provider_partner_id: str | None = None
    partnership_workflow_id: str | None = None
    history: tuple[StageChange, ...] = ()


def require_authorized_provider_in_region(
    provider_partner_id: str, pla_id: str, options: ProviderOptions
) -> IndirectProvider:
    """The chosen provider, when it is an authorized indirect provider in the PLA's CSP region.

    Raises ProviderNotAuthorized for a provider not on the authorized list, and RegionMismatch
    naming both countries and both regions for one authorized in another region (REG-01).
    """
    provider = next((p for p in options.providers if p.partner_id == provider_partner_id), None)
    if provider is None:
        raise ProviderNotAuthorized(
            f"PartnerID {provider_partner_id} is not an authorized indirect provider: choose one "
            f"of the {len(options.providers)} authorized indirect provider(s) the partner program "
            f"lists ({RULE})",
            rule=RULE,
            provider_partner_id=provider_partner_id,
        )
    if options.reseller_country is None:
        raise RegionMismatch(
            f"the country of PLA {pla_id} is unknown to the partner program, so no provider can be "
            f"shown to be in its CSP region: record the PLA's location first ({RULE})",
            rule=RULE,
            first=f"partner {pla_id}",
        )
    regions.require_same_region(
        f"provider {provider.partner_id}",
        provider.country,
        f"partner {pla_id}",
        options.reseller_country,
    )
    return provider
