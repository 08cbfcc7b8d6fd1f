"""The relationship, POR and order operations of the local (embedded) Partner Center. The HTTP
client's are in test_partner_center_contract.py, against Microsoft's published examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest

from adapters.partner_center import (
    PartnerCenter,
)
from adapters.partner_center.local import ORDER_NAMESPACE, LocalPartnerCenter, sample_data
from domain.errors import NoCommerceRelationship, PartnerIdNotFound, PorInvalid, RegionMismatch
from domain.partner_center import OrderLine, OrderSubmission, RelationshipType

PROVIDER = "3456789"  # JP indirect provider
SAKURA = "4512345"  # JP, a valid indirect reseller
CONTOSO = "5234567"  # US, no reseller program entry
FABRIKAM = "6345678"  # JP, no reseller program entry
CUSTOMER = UUID("d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e")  # JP, with PROVIDER and SAKURA
ORDERS = f"/v1/customers/{CUSTOMER}/orders"


def _data(**sections: Any) -> dict[str, Any]:
    data = sample_data()
    data["relationships"] = {PROVIDER: {SAKURA: {"state": "Active"}}}
    data["indirectResellers"][FABRIKAM] = {"programStatus": "Suspended"}
    data["customers"]["0b6e5d4c-3a2b-4c1d-8e9f-a0b1c2d3e4f5"] = {
        "companyName": "Boston Trading Inc.",
        "country": "US",
        "partners": [PROVIDER],
    }
    data.update(sections)
    return data


def _order(por: str | None, customer: UUID = CUSTOMER) -> OrderSubmission:
    return OrderSubmission(
        partner_id=PROVIDER,
        customer_id=customer,
        line_items=(
            OrderLine(
                line_item_number=0,
                offer_id="CFQ7TTC0LH18:0001",
                quantity=5,
                friendly_name="Microsoft 365 Business Basic",
                partner_id_on_record=por,
            ),
        ),
    )


@pytest.fixture
async def local(tmp_path: Path) -> PartnerCenter:
    path = tmp_path / "pc.json"
    path.write_text(json.dumps(_data()))
    return LocalPartnerCenter(path)


@pytest.fixture
def partner_center(local: PartnerCenter) -> PartnerCenter:
    return local


async def test_relationships_from_both_sides(partner_center: PartnerCenter) -> None:
    [reseller] = await partner_center.list_relationships(
        PROVIDER, RelationshipType.INDIRECT_PROVIDER_OF
    )
    assert (reseller.mpn_id, reseller.name, reseller.location) == (
        SAKURA,
        "Sakura Cloud Solutions K.K.",
        "JP",
    )
    assert reseller.partner_tenant_id == "3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f"
    assert reseller.is_active
    assert reseller.relationship_type is RelationshipType.INDIRECT_PROVIDER_OF
    [provider] = await partner_center.list_relationships(
        SAKURA, RelationshipType.INDIRECT_RESELLER_OF
    )
    assert provider.mpn_id == PROVIDER
    assert (
        await partner_center.list_relationships(FABRIKAM, RelationshipType.INDIRECT_RESELLER_OF)
        == []
    )


async def test_validate_resellers_names_each_failure(partner_center: PartnerCenter) -> None:
    results = await partner_center.validate_resellers([SAKURA, "9999999", CONTOSO, FABRIKAM])
    assert [(r.partner_id, r.is_valid_partner_id_on_record, r.error_code) for r in results] == [
        (SAKURA, True, None),
        ("9999999", False, "800015"),
        (CONTOSO, False, "800016"),
        (FABRIKAM, False, "800039"),
    ]
    assert all(r.error_description for r in results[1:])


async def test_an_order_with_a_valid_por(partner_center: PartnerCenter) -> None:
    placed = await partner_center.place_order(_order(SAKURA), idempotency_key="order-PO-1:run:1")
    assert placed.status == "completed"
    assert placed.customer_id == str(CUSTOMER)
    [line] = placed.line_items
    assert (line.offer_id, line.quantity, line.partner_id_on_record) == (
        "CFQ7TTC0LH18:0001",
        5,
        SAKURA,
    )
    again = await partner_center.place_order(_order(SAKURA), idempotency_key="order-PO-1:run:1")
    assert again == placed  # the same key is the same order


@pytest.mark.parametrize(("por", "code"), [("9999999", "800015"), (CONTOSO, "800016")])
async def test_an_invalid_por_is_refused_with_its_code(
    partner_center: PartnerCenter, por: str, code: str
) -> None:
    with pytest.raises(PorInvalid) as refused:
        await partner_center.place_order(_order(por), idempotency_key=f"k-{por}")
    assert refused.value.details["partner_center_code"] == code
    assert por in refused.value.message


async def test_inactive_reseller_program_is_800039(partner_center: PartnerCenter) -> None:
    with pytest.raises(PorInvalid, match="800039"):
        await partner_center.place_order(_order(FABRIKAM), idempotency_key="k")


async def test_no_commerce_relationship_is_20002(partner_center: PartnerCenter) -> None:
    stranger = UUID("00000000-0000-4000-8000-00000000abcd")
    with pytest.raises(NoCommerceRelationship, match="20002"):
        await partner_center.place_order(_order(SAKURA, stranger), idempotency_key="k")


async def test_a_customer_in_another_country_is_2030(partner_center: PartnerCenter) -> None:
    us_customer = UUID("0b6e5d4c-3a2b-4c1d-8e9f-a0b1c2d3e4f5")
    with pytest.raises(RegionMismatch, match="2030"):
        await partner_center.place_order(_order(None, us_customer), idempotency_key="k")


async def test_customer_relationship_link(partner_center: PartnerCenter) -> None:
    url = await partner_center.get_customer_relationship_request(SAKURA, None)
    assert url.startswith("https://admin.microsoft.com/Adminportal/Home?invType=")
    assert url.endswith("#/BillingAccounts/partner-invitation")


async def test_local_joint_link_names_both_partners_and_order_ids_are_stable(
    local: PartnerCenter,
) -> None:
    url = await local.get_customer_relationship_request(SAKURA, PROVIDER)
    assert f"partnerId={SAKURA}&indirectCSPId={PROVIDER}" in url
    with pytest.raises(PartnerIdNotFound):
        await local.get_customer_relationship_request("9999999", None)
    placed = await local.place_order(_order(None), idempotency_key="k-stable")
    assert placed.order_id == str(uuid5(ORDER_NAMESPACE, "k-stable"))
