"""The `orders` activities as workflows call them: registered name, input and output.

Implemented by activities/orders.py.
"""

from __future__ import annotations

from contract.activities import ActivityRef
from contract.activities.relationships import Saved
from domain.identifiers import TenantId
from domain.messages import Message
from domain.partner_center import MpnProfile, PlacedOrder
from domain.relationships import (
    CustomerAgreementRecord,
    CustomerRelationshipRecord,
    OrderLineItem,
    OrderRecord,
    PorFacts,
)


class OrderFactsRequest(Message):
    provider_partner_id: str
    customer_tenant_id: str


class OrderFacts(Message):
    """What the order pre-checks need (CUS-01, CUS-04, REG-01)."""

    provider: MpnProfile
    relationships: tuple[CustomerRelationshipRecord, ...]
    agreement: CustomerAgreementRecord | None


class PorFactsRequest(Message):
    provider_partner_id: str
    partner_of_record: str


class PlaceOrderRequest(Message):
    idempotency_key: str
    provider_partner_id: str
    customer_tenant_id: TenantId
    partner_of_record: str | None
    line_items: tuple[OrderLineItem, ...]


ORDER_FACTS = ActivityRef("order_facts", OrderFactsRequest, OrderFacts)
PARTNER_OF_RECORD_FACTS = ActivityRef("partner_of_record_facts", PorFactsRequest, PorFacts)
PLACE_ORDER = ActivityRef("place_order", PlaceOrderRequest, PlacedOrder)
SAVE_ORDER = ActivityRef("save_order", OrderRecord, Saved)
