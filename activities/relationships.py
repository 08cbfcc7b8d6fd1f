"""Side effects of the partnership and customer-invitation pipelines (DOMAIN.md sections 3-4, 6):
Partner Center lookups (profiles, the relationships list, the invitation link) and the registry's
partnership, customer-relationship, MCA and suspension records.

Lookups only gather facts; the rules in `domain.relationship_rules` decide. Business answers from
Partner Center (an unknown PartnerID) become non-retryable ApplicationErrors with the stable type;
`PartnerCenterUnavailable` propagates so that Temporal retries; an unexpected Partner Center
answer (`PartnerCenterRequestFailed`) and a call the client cannot make as configured
(`PartnerCenterOperationUnsupported`: no public API, or a missing setting) are not retried.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from adapters.partner_center import (
    PartnerCenter,
    PartnerCenterAuthError,
    PartnerCenterOperationUnsupported,
    PartnerCenterRequestFailed,
    PartnerCenterUnavailable,
)
from adapters.registry import PartnerRegistry
from contract.activities.relationships import (
    CUSTOMER_INVITATION_FACTS,
    CUSTOMER_INVITATION_LINK,
    FIND_PARTNERSHIP_IN_PARTNER_CENTER,
    GET_CUSTOMER_AGREEMENT,
    GET_PARTNERSHIP,
    PARTNERSHIP_FACTS,
    RECORD_RESELLER_SUSPENSION,
    SAVE_CUSTOMER_AGREEMENT,
    SAVE_CUSTOMER_RELATIONSHIP,
    SAVE_PARTNERSHIP,
    CustomerAgreementLookup,
    CustomerLookup,
    InvitationFacts,
    InvitationFactsRequest,
    InvitationLink,
    InvitationLinkRequest,
    PartnershipFacts,
    PartnershipListing,
    PartnershipLookupResult,
    PartnershipParties,
    Saved,
    SuspensionRecorded,
)
from contract.errors import (
    OPERATION_UNSUPPORTED,
    PARTNER_CENTER_AUTH_ERROR,
    PARTNER_CENTER_REQUEST_FAILED,
    to_application_error,
)
from domain.errors import BusinessRuleViolation
from domain.partner_center import RelationshipType
from domain.relationships import (
    CustomerAgreementRecord,
    CustomerRelationshipRecord,
    PartnershipRecord,
    ResellerSuspensionRecord,
)


@contextlib.contextmanager
def partner_center_answers() -> Iterator[None]:
    """Business refusals, unexpected answers and calls the client cannot make as configured (a
    missing setting: retrying cannot supply it) are final; transient failures are retried, after
    the wait Partner Center asked for (`Retry-After`) when it was too long to wait in place."""
    try:
        yield
    except BusinessRuleViolation as err:
        raise to_application_error(err) from err
    except PartnerCenterAuthError as err:
        raise ApplicationError(
            str(err), type=PARTNER_CENTER_AUTH_ERROR, non_retryable=True
        ) from err
    except PartnerCenterOperationUnsupported as err:
        raise ApplicationError(str(err), type=OPERATION_UNSUPPORTED, non_retryable=True) from err
    except PartnerCenterRequestFailed as err:
        raise ApplicationError(
            str(err), type=PARTNER_CENTER_REQUEST_FAILED, non_retryable=True
        ) from err
    except PartnerCenterUnavailable as err:
        if err.retry_after is None:
            raise
        raise ApplicationError(
            str(err),
            type="PartnerCenterUnavailable",
            next_retry_delay=timedelta(seconds=err.retry_after),
        ) from err


class RelationshipActivities:
    def __init__(self, partner_center: PartnerCenter, registry: PartnerRegistry) -> None:
        self._pc = partner_center
        self._registry = registry

    @activity.defn(name=PARTNERSHIP_FACTS.name)
    async def partnership_facts(self, parties: PartnershipParties) -> PartnershipFacts:
        with partner_center_answers():
            provider = await self._pc.get_mpn_profile(parties.provider_partner_id)
            reseller = await self._pc.get_mpn_profile(parties.reseller_partner_id)
            agreement = await self._pc.agreement_status(parties.reseller_partner_id)
            provider_agreement = await self._pc.agreement_status(parties.provider_partner_id)
        record = await self._registry.get_reseller(parties.reseller_partner_id)
        return PartnershipFacts(
            provider=provider,
            reseller=reseller,
            reseller_status=record.status.value if record else None,
            reseller_agreement=agreement,
            reseller_mpa_signed=agreement.verdict.mpa_signed,
            provider_mpa_signed=provider_agreement.verdict.mpa_signed
            if provider_agreement
            else None,
        )

    @activity.defn(name=FIND_PARTNERSHIP_IN_PARTNER_CENTER.name)
    async def find_partnership_in_partner_center(
        self, parties: PartnershipParties
    ) -> PartnershipListing:
        """REL-04: once accepted, the reseller appears on the provider's list."""
        with partner_center_answers():
            resellers = await self._pc.list_relationships(
                parties.provider_partner_id, RelationshipType.INDIRECT_PROVIDER_OF
            )
        for relationship in resellers:
            if relationship.mpn_id == parties.reseller_partner_id:
                return PartnershipListing(listed=relationship.is_active, state=relationship.state)
        return PartnershipListing(listed=False)

    @activity.defn(name=GET_PARTNERSHIP.name)
    async def get_partnership(self, parties: PartnershipParties) -> PartnershipLookupResult:
        return PartnershipLookupResult(
            record=await self._registry.get_partnership(
                parties.provider_partner_id, parties.reseller_partner_id
            )
        )

    @activity.defn(name=SAVE_PARTNERSHIP.name)
    async def save_partnership(self, record: PartnershipRecord) -> Saved:
        await self._registry.save_partnership(record)
        return Saved(key=f"{record.provider_partner_id}/{record.reseller_partner_id}")

    @activity.defn(name=RECORD_RESELLER_SUSPENSION.name)
    async def record_reseller_suspension(
        self, record: ResellerSuspensionRecord
    ) -> SuspensionRecorded:
        """POR-04: the suspension (or reinstatement); while in force, every customer of the
        reseller is marked as having lost delegated admin. Customers are otherwise untouched."""
        await self._registry.save_reseller_suspension(record)
        revoked = (
            await self._registry.revoke_reseller_gdap(
                record.reseller_partner_id, record.suspended_at
            )
            if record.in_force
            else 0
        )
        return SuspensionRecorded(
            reseller_partner_id=record.reseller_partner_id,
            in_force=record.in_force,
            customers_gdap_revoked=revoked,
        )

    @activity.defn(name=CUSTOMER_INVITATION_FACTS.name)
    async def customer_invitation_facts(self, request: InvitationFactsRequest) -> InvitationFacts:
        with partner_center_answers():
            reseller = await self._pc.get_mpn_profile(request.reseller_partner_id)
            agreement = await self._pc.agreement_status(request.reseller_partner_id)
            provider = (
                await self._pc.get_mpn_profile(request.provider_partner_id)
                if request.provider_partner_id
                else None
            )
            provider_agreement = (
                await self._pc.agreement_status(request.provider_partner_id)
                if request.provider_partner_id
                else None
            )
        record = await self._registry.get_reseller(request.reseller_partner_id)
        partnership = (
            await self._registry.get_partnership(
                request.provider_partner_id, request.reseller_partner_id
            )
            if request.provider_partner_id
            else None
        )
        customer_as_reseller = (
            await self._registry.get_partnership(
                request.provider_partner_id, request.customer_partner_id
            )
            if request.provider_partner_id and request.customer_partner_id
            else None
        )
        return InvitationFacts(
            reseller=reseller,
            reseller_status=record.status.value if record else None,
            reseller_agreement=agreement,
            reseller_mpa_signed=agreement.verdict.mpa_signed,
            provider_mpa_signed=provider_agreement.verdict.mpa_signed
            if provider_agreement
            else None,
            provider=provider,
            partnership_status=partnership.status.value if partnership else None,
            csp_tenant_owner=await self._registry.find_csp_tenant_owner(request.customer_tenant_id),
            customer_partnership_with_provider=(
                customer_as_reseller.status.value if customer_as_reseller else None
            ),
        )

    @activity.defn(name=CUSTOMER_INVITATION_LINK.name)
    async def customer_invitation_link(self, request: InvitationLinkRequest) -> InvitationLink:
        """CUS-02: Partner Center's personalised link, kept exactly as answered."""
        with partner_center_answers():
            url = await self._pc.get_customer_relationship_request(
                request.reseller_partner_id, request.provider_partner_id
            )
        return InvitationLink(url=url)

    @activity.defn(name=SAVE_CUSTOMER_RELATIONSHIP.name)
    async def save_customer_relationship(self, record: CustomerRelationshipRecord) -> Saved:
        await self._registry.save_customer_relationship(record)
        return Saved(key=f"{record.reseller_partner_id}/{record.customer_tenant_id}")

    @activity.defn(name=GET_CUSTOMER_AGREEMENT.name)
    async def get_customer_agreement(self, request: CustomerLookup) -> CustomerAgreementLookup:
        return CustomerAgreementLookup(
            record=await self._registry.get_customer_agreement(request.customer_tenant_id)
        )

    @activity.defn(name=SAVE_CUSTOMER_AGREEMENT.name)
    async def save_customer_agreement(self, record: CustomerAgreementRecord) -> Saved:
        """CUS-04: the attested MCA acceptance, one per customer (a later one replaces it)."""
        await self._registry.save_customer_agreement(record)
        return Saved(key=record.customer_tenant_id)
