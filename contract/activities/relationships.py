"""The `relationships` activities as workflows call them: registered name, input and output.

Implemented by activities/relationships.py.
"""

from __future__ import annotations

from contract.activities import ActivityRef
from domain.messages import Message
from domain.partner_center import AgreementAnswer, MpnProfile
from domain.relationships import (
    CustomerAgreementRecord,
    CustomerRelationshipRecord,
    InvitationKind,
    PartnershipRecord,
    ResellerSuspensionRecord,
)


class PartnershipParties(Message):
    provider_partner_id: str
    reseller_partner_id: str


class PartnershipFacts(Message):
    """What the partnership pre-checks need (REL-01, REG-01)."""

    provider: MpnProfile
    reseller: MpnProfile
    reseller_status: str | None
    reseller_agreement: AgreementAnswer | None = None
    """Partner Center's agreementstatus verdict for the reseller: an indirect-reseller account
    (REL-01), its MPA status (MPA-01) or another CSP region (2201, REG-01)."""
    reseller_mpa_signed: bool | None = None
    """MPA-02 / ENR-09 (None: not asked, a history recorded before the check)."""
    provider_mpa_signed: bool | None = None
    """MPA-01: the provider's own agreement."""


class PartnershipListing(Message):
    """Whether Partner Center lists the reseller among the provider's resellers (REL-04)."""

    listed: bool
    state: str | None = None


class PartnershipLookupResult(Message):
    record: PartnershipRecord | None


class Saved(Message):
    key: str


class SuspensionRecorded(Message):
    reseller_partner_id: str
    in_force: bool
    customers_gdap_revoked: int
    """POR-04: how many of the reseller's customers are marked as having lost delegated admin."""


class InvitationFactsRequest(Message):
    kind: InvitationKind
    reseller_partner_id: str
    provider_partner_id: str | None
    customer_tenant_id: str
    customer_partner_id: str | None


class InvitationFacts(Message):
    """What the customer-invitation pre-checks need (CUS-02, REG-01, SELF-01..03)."""

    reseller: MpnProfile
    reseller_status: str | None
    reseller_agreement: AgreementAnswer | None = None
    """Partner Center's agreementstatus verdict for the reseller (REL-01 / MPA-01)."""
    provider: MpnProfile | None
    partnership_status: str | None
    csp_tenant_owner: str | None
    customer_partnership_with_provider: str | None
    reseller_mpa_signed: bool | None = None
    """MPA-02 / ENR-09 (None: not asked, a history recorded before the check)."""
    provider_mpa_signed: bool | None = None
    """MPA-01: the provider's own agreement (joint invitations)."""


class InvitationLinkRequest(Message):
    reseller_partner_id: str
    provider_partner_id: str | None


class InvitationLink(Message):
    url: str


class CustomerLookup(Message):
    customer_tenant_id: str


class CustomerAgreementLookup(Message):
    record: CustomerAgreementRecord | None


PARTNERSHIP_FACTS = ActivityRef("partnership_facts", PartnershipParties, PartnershipFacts)
FIND_PARTNERSHIP_IN_PARTNER_CENTER = ActivityRef(
    "find_partnership_in_partner_center", PartnershipParties, PartnershipListing
)
GET_PARTNERSHIP = ActivityRef("get_partnership", PartnershipParties, PartnershipLookupResult)
SAVE_PARTNERSHIP = ActivityRef("save_partnership", PartnershipRecord, Saved)
RECORD_RESELLER_SUSPENSION = ActivityRef(
    "record_reseller_suspension", ResellerSuspensionRecord, SuspensionRecorded
)
CUSTOMER_INVITATION_FACTS = ActivityRef(
    "customer_invitation_facts", InvitationFactsRequest, InvitationFacts
)
CUSTOMER_INVITATION_LINK = ActivityRef(
    "customer_invitation_link", InvitationLinkRequest, InvitationLink
)
SAVE_CUSTOMER_RELATIONSHIP = ActivityRef(
    "save_customer_relationship", CustomerRelationshipRecord, Saved
)
GET_CUSTOMER_AGREEMENT = ActivityRef(
    "get_customer_agreement", CustomerLookup, CustomerAgreementLookup
)
SAVE_CUSTOMER_AGREEMENT = ActivityRef("save_customer_agreement", CustomerAgreementRecord, Saved)
