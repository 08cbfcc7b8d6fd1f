"""Side effects of the subscription-order pipeline (DOMAIN.md sections 4-5, MPA-02): the facts the
order and Partner-of-Record rules need, the order itself, and its registry record.

`place_order` carries the workflow's idempotency key as `MS-RequestId`, so a retried attempt never
orders twice. Partner Center's order refusals 800015 / 800016 / 800039 (`PorInvalid`), 2030
(`RegionMismatch`) and 20002 (`NoCommerceRelationship`) are not retried; 800060 (an order in
progress), 408, 429 and 5xx raise `PartnerCenterUnavailable` and the workflow's retry policy backs
off.
"""

from __future__ import annotations

from temporalio import activity

from activities.relationships import partner_center_answers
from adapters.partner_center import PartnerCenter
from adapters.registry import PartnerRegistry
from contract.activities.orders import (
    ORDER_FACTS,
    PARTNER_OF_RECORD_FACTS,
    PLACE_ORDER,
    SAVE_ORDER,
    OrderFacts,
    OrderFactsRequest,
    PlaceOrderRequest,
    PorFactsRequest,
)
from contract.activities.relationships import Saved
from domain.errors import PartnerIdNotFound
from domain.partner_center import MpnProfile, OrderLine, OrderSubmission, PlacedOrder
from domain.relationships import (
    OrderRecord,
    PartnerCenterPorValidation,
    PorFacts,
)


class OrderActivities:
    def __init__(self, partner_center: PartnerCenter, registry: PartnerRegistry) -> None:
        self._pc = partner_center
        self._registry = registry

    @activity.defn(name=ORDER_FACTS.name)
    async def order_facts(self, request: OrderFactsRequest) -> OrderFacts:
        with partner_center_answers():
            provider = await self._pc.get_mpn_profile(request.provider_partner_id)
        return OrderFacts(
            provider=provider,
            relationships=tuple(
                await self._registry.list_customer_relationships(request.customer_tenant_id)
            ),
            agreement=await self._registry.get_customer_agreement(request.customer_tenant_id),
        )

    @activity.defn(name=PARTNER_OF_RECORD_FACTS.name)
    async def partner_of_record_facts(self, request: PorFactsRequest) -> PorFacts:
        """POR-02 / POR-05 / MPA-02 / REL-02 facts about the named Partner of Record."""
        pid = request.partner_of_record
        with partner_center_answers():
            validations = await self._pc.validate_resellers([pid])
            validation = next((v for v in validations if v.partner_id == pid), None)
            try:
                profile: MpnProfile | None = await self._pc.get_mpn_profile(pid)
            except PartnerIdNotFound:
                profile = None
            mpa_signed = await self._pc.is_agreement_signed(pid) if profile else None
        reseller = await self._registry.get_reseller(pid)
        suspension = await self._registry.get_reseller_suspension(pid)
        partnership = await self._registry.get_partnership(request.provider_partner_id, pid)
        return PorFacts(
            partner_id=pid,
            profile_country=profile.country if profile else None,
            reseller_status=reseller.status.value if reseller else None,
            suspended_since=suspension.suspended_at if suspension and suspension.in_force else None,
            mpa_signed=mpa_signed,
            partnership_status=partnership.status.value if partnership else None,
            partner_center=PartnerCenterPorValidation(
                is_valid=validation.is_valid_partner_id_on_record,
                error_code=validation.error_code,
                error_description=validation.error_description,
            )
            if validation
            else PartnerCenterPorValidation(
                is_valid=False, error_description="Partner Center returned no validation result"
            ),
        )

    @activity.defn(name=PLACE_ORDER.name)
    async def place_order(self, request: PlaceOrderRequest) -> PlacedOrder:
        submission = OrderSubmission(
            partner_id=request.provider_partner_id,
            customer_id=request.customer_tenant_id,
            line_items=tuple(
                OrderLine(
                    line_item_number=number,
                    offer_id=item.offer_id,
                    quantity=item.quantity,
                    friendly_name=item.friendly_name,
                    partner_id_on_record=request.partner_of_record,
                )
                for number, item in enumerate(request.line_items)
            ),
        )
        with partner_center_answers():
            return await self._pc.place_order(submission, idempotency_key=request.idempotency_key)

    @activity.defn(name=SAVE_ORDER.name)
    async def save_order(self, record: OrderRecord) -> Saved:
        await self._registry.save_order(record)
        return Saved(key=f"{record.provider_partner_id}/{record.order_ref}")
