"""The `provider_operations` activities as workflows call them: registered name, input and output.

Implemented by activities/provider_operations.py (REL-05, REL-06; issue 14).
"""

from __future__ import annotations

from contract.activities import ActivityRef
from contract.activities.relationships import Saved
from domain.identifiers import TenantId
from domain.messages import Message
from domain.partner_center import (
    CreatedCustomer,
    MpnProfile,
    NewCustomer,
    PartnerRelationship,
    SubscriptionPartnerOfRecord,
    SupportContact,
)
from domain.provider_operations import SubscriptionResellerRecord, SupportContactRecord
from domain.relationships import CustomerRelationshipRecord
from domain.reseller_exit import ResellerExitRecord


class OperationFactsRequest(Message):
    provider_partner_id: str
    reseller_partner_id: str
    customer_tenant_id: str | None = None


class OperationFacts(Message):
    """What a provider operation's pre-checks need (REL-05, REG-01, CUS-01)."""

    provider: MpnProfile
    partnership_status: str | None
    """The registry's partnership (REL-02): only `active` lets the provider act."""
    reseller: PartnerRelationship | None
    """The reseller on the provider's Partner Center list (its tenant id and name), if listed."""
    customer_relationships: tuple[CustomerRelationshipRecord, ...] = ()


class CreateCustomerRequest(Message):
    idempotency_key: str
    customer: NewCustomer


class SupportContactChange(Message):
    provider_partner_id: str
    customer_tenant_id: TenantId
    subscription_id: str
    contact: SupportContact


class PartnerOfRecordChange(Message):
    idempotency_key: str
    customer_tenant_id: TenantId
    subscription_id: str
    partner_of_record: str


OPERATION_FACTS = ActivityRef("provider_operation_facts", OperationFactsRequest, OperationFacts)
CREATE_RESELLER_CUSTOMER = ActivityRef(
    "create_reseller_customer", CreateCustomerRequest, CreatedCustomer
)
SET_SUPPORT_CONTACT = ActivityRef("set_support_contact", SupportContactChange, SupportContact)
SAVE_SUPPORT_CONTACT = ActivityRef("save_support_contact", SupportContactRecord, Saved)
UPDATE_SUBSCRIPTION_PARTNER_OF_RECORD = ActivityRef(
    "update_subscription_partner_of_record", PartnerOfRecordChange, SubscriptionPartnerOfRecord
)
SAVE_RESELLER_EXIT = ActivityRef("save_reseller_exit", ResellerExitRecord, Saved)
"""The reseller side (END-03): its exit request's registry record."""
SAVE_SUBSCRIPTION_RESELLER = ActivityRef(
    "save_subscription_reseller", SubscriptionResellerRecord, Saved
)


class CustomersToRegrant(Message):
    """POR-04: the reseller's customers whose delegated admin is marked revoked."""

    customer_tenant_ids: tuple[str, ...]


class CustomerGdapRestored(Message):
    reseller_partner_id: str
    customer_tenant_id: str


LIST_GDAP_REVOKED_CUSTOMERS = ActivityRef(
    "list_gdap_revoked_customers", OperationFactsRequest, CustomersToRegrant
)
RESTORE_CUSTOMER_GDAP = ActivityRef("restore_customer_gdap", CustomerGdapRestored, Saved)
