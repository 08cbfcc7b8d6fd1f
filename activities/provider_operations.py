"""Side effects of the provider operations for partnered resellers (REL-05, REL-06; issue 14):
the facts their pre-checks need, the Partner Center calls and the registry records.

Partner Center's business refusals (`PartnershipNotActive`, `SubscriptionNotChangeable`,
`PorInvalid`) are final; transient failures (408, 429, 5xx, 2055/800082/900278) are retried.
"""

from __future__ import annotations

from temporalio import activity

from activities.relationships import partner_center_answers
from adapters.partner_center import PartnerCenter
from adapters.registry import PartnerRegistry
from contract.activities.provider_operations import (
    CREATE_RESELLER_CUSTOMER,
    LIST_GDAP_REVOKED_CUSTOMERS,
    OPERATION_FACTS,
    RESTORE_CUSTOMER_GDAP,
    SAVE_RESELLER_EXIT,
    SAVE_SUBSCRIPTION_RESELLER,
    SAVE_SUPPORT_CONTACT,
    SET_SUPPORT_CONTACT,
    UPDATE_SUBSCRIPTION_PARTNER_OF_RECORD,
    CreateCustomerRequest,
    CustomerGdapRestored,
    CustomersToRegrant,
    OperationFacts,
    OperationFactsRequest,
    PartnerOfRecordChange,
    SupportContactChange,
)
from contract.activities.relationships import Saved
from domain.partner_center import (
    CreatedCustomer,
    RelationshipType,
    SubscriptionPartnerOfRecord,
    SupportContact,
)
from domain.provider_operations import SubscriptionResellerRecord, SupportContactRecord
from domain.reseller_exit import ResellerExitRecord


class ProviderOperationActivities:
    def __init__(self, partner_center: PartnerCenter, registry: PartnerRegistry) -> None:
        self._pc = partner_center
        self._registry = registry

    @activity.defn(name=OPERATION_FACTS.name)
    async def provider_operation_facts(self, request: OperationFactsRequest) -> OperationFacts:
        with partner_center_answers():
            provider = await self._pc.get_mpn_profile(request.provider_partner_id)
            listed = await self._pc.list_relationships(
                request.provider_partner_id, RelationshipType.INDIRECT_PROVIDER_OF
            )
        partnership = await self._registry.get_partnership(
            request.provider_partner_id, request.reseller_partner_id
        )
        relationships = (
            await self._registry.list_customer_relationships(request.customer_tenant_id)
            if request.customer_tenant_id
            else []
        )
        return OperationFacts(
            provider=provider,
            partnership_status=partnership.status.value if partnership else None,
            reseller=next((r for r in listed if r.mpn_id == request.reseller_partner_id), None),
            customer_relationships=tuple(relationships),
        )

    @activity.defn(name=CREATE_RESELLER_CUSTOMER.name)
    async def create_reseller_customer(self, request: CreateCustomerRequest) -> CreatedCustomer:
        with partner_center_answers():
            return await self._pc.create_customer(
                request.customer, idempotency_key=request.idempotency_key
            )

    @activity.defn(name=SET_SUPPORT_CONTACT.name)
    async def set_support_contact(self, change: SupportContactChange) -> SupportContact:
        with partner_center_answers():
            return await self._pc.set_subscription_support_contact(
                change.provider_partner_id,
                change.customer_tenant_id,
                change.subscription_id,
                change.contact,
            )

    @activity.defn(name=SAVE_SUPPORT_CONTACT.name)
    async def save_support_contact(self, record: SupportContactRecord) -> Saved:
        await self._registry.save_support_contact(record)
        return Saved(key=f"{record.customer_tenant_id}/{record.subscription_id}")

    @activity.defn(name=UPDATE_SUBSCRIPTION_PARTNER_OF_RECORD.name)
    async def update_subscription_partner_of_record(
        self, change: PartnerOfRecordChange
    ) -> SubscriptionPartnerOfRecord:
        with partner_center_answers():
            return await self._pc.update_subscription_partner_of_record(
                change.customer_tenant_id,
                change.subscription_id,
                change.partner_of_record,
                idempotency_key=change.idempotency_key,
            )

    @activity.defn(name=SAVE_SUBSCRIPTION_RESELLER.name)
    async def save_subscription_reseller(self, record: SubscriptionResellerRecord) -> Saved:
        await self._registry.save_subscription_reseller(record)
        return Saved(key=f"{record.customer_tenant_id}/{record.subscription_id}")

    @activity.defn(name=SAVE_RESELLER_EXIT.name)
    async def save_reseller_exit(self, record: ResellerExitRecord) -> Saved:
        await self._registry.save_reseller_exit(record)
        return Saved(key=f"{record.reseller_partner_id}/{record.provider_partner_id}")

    @activity.defn(name=LIST_GDAP_REVOKED_CUSTOMERS.name)
    async def list_gdap_revoked_customers(
        self, request: OperationFactsRequest
    ) -> CustomersToRegrant:
        customers = await self._registry.list_gdap_revoked_customers(request.reseller_partner_id)
        return CustomersToRegrant(
            customer_tenant_ids=tuple(c.customer_tenant_id for c in customers)
        )

    @activity.defn(name=RESTORE_CUSTOMER_GDAP.name)
    async def restore_customer_gdap(self, change: CustomerGdapRestored) -> Saved:
        await self._registry.restore_customer_gdap(
            change.reseller_partner_id, change.customer_tenant_id
        )
        return Saved(key=f"{change.reseller_partner_id}/{change.customer_tenant_id}")
