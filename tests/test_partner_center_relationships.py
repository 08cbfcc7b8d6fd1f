"""The relationship, POR and order operations of both `PartnerCenter` implementations: the JSON
file, and the HTTP client against a local HTTP server answering with the real shapes and error
bodies (`tests.fake_partner_center`)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest

from adapters.partner_center import (
    PartnerCenter,
    PartnerCenterRequestFailed,
    PartnerCenterUnavailable,
)
from adapters.partner_center.http import PartnerCenterHttpClient
from adapters.partner_center.local import ORDER_NAMESPACE, LocalPartnerCenter, sample_data
from domain.errors import NoCommerceRelationship, PartnerIdNotFound, PorInvalid, RegionMismatch
from domain.partner_center import OrderLine, OrderSubmission, RelationshipType
from tests.fake_partner_center import (
    PARTNER_TOKEN,
    FakePartnerCenter,
    graph_token_provider,
    serve_fake_partner_center,
)

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
async def fake() -> AsyncIterator[FakePartnerCenter]:
    async with serve_fake_partner_center(_data()) as server:
        yield server


@pytest.fixture
async def http(fake: FakePartnerCenter) -> AsyncIterator[PartnerCenter]:
    async with PartnerCenterHttpClient(
        token_provider=PARTNER_TOKEN,
        graph_token_provider=graph_token_provider,
        base_url=fake.base_url,
        graph_url=fake.base_url,
        retry_backoff=0.0,
        timeout=10.0,
    ) as client:
        yield client


@pytest.fixture(params=["local", "http"])
def partner_center(request: pytest.FixtureRequest) -> PartnerCenter:
    """Each test below runs against both implementations: they answer alike."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


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
    if isinstance(partner_center, LocalPartnerCenter):  # the HTTP client is signed in as PROVIDER
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


# -- the HTTP client only: requests, headers and the real error shapes --------------------------


async def test_http_order_request_shape(fake: FakePartnerCenter, http: PartnerCenter) -> None:
    await http.place_order(_order(SAKURA), idempotency_key="order-3456789-PO-9:run:place-order-0")
    [sent] = fake.requests_to(ORDERS)
    assert sent.headers["ms-requestid"] == "order-3456789-PO-9:run:place-order-0"
    assert sent.body == {
        "referenceCustomerId": str(CUSTOMER),
        "billingCycle": "monthly",
        "lineItems": [
            {
                "lineItemNumber": 0,
                "offerId": "CFQ7TTC0LH18:0001",
                "quantity": 5,
                "friendlyName": "Microsoft 365 Business Basic",
                "partnerIdOnRecord": SAKURA,
            }
        ],
    }
    [validation] = await http.validate_resellers([f" {SAKURA} "])
    assert validation.is_valid_partner_id_on_record
    assert fake.requests_to("/v1/partners/validateresellers")[0].body == {"partnerIds": [SAKURA]}
    await http.list_relationships(PROVIDER, RelationshipType.INDIRECT_PROVIDER_OF)
    [listed] = fake.requests_to("/v1/relationships")
    assert listed.query == {"relationship_type": "IsIndirectCloudSolutionProviderOf"}


async def test_http_order_in_progress_800060_is_left_to_the_activity_retry(
    fake: FakePartnerCenter, http: PartnerCenter
) -> None:
    fake.reject_next(ORDERS, 400, 800060, "An order for this customer is in progress")
    with pytest.raises(PartnerCenterUnavailable, match="800060"):
        await http.place_order(_order(SAKURA), idempotency_key="k-60")
    assert len(fake.requests_to(ORDERS)) == 1  # not retried in place: the activity backs off
    placed = await http.place_order(_order(SAKURA), idempotency_key="k-60")
    assert placed.status == "completed"


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_http_order_transient_answers_are_retried_with_the_same_request_id(
    fake: FakePartnerCenter, http: PartnerCenter, status: int
) -> None:
    fake.fail_next(ORDERS, status, status)
    placed = await http.place_order(_order(SAKURA), idempotency_key="k-transient")
    assert placed.status == "completed"
    sent = fake.requests_to(ORDERS)
    assert len(sent) == 3
    assert {r.headers["ms-requestid"] for r in sent} == {"k-transient"}


async def test_http_order_transient_answers_exhausted_are_unavailable(
    fake: FakePartnerCenter, http: PartnerCenter
) -> None:
    fake.fail_next(ORDERS, 503, 503, 503)
    with pytest.raises(PartnerCenterUnavailable, match="503"):
        await http.place_order(_order(SAKURA), idempotency_key="k")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (800015, PorInvalid),
        (800016, PorInvalid),
        (800039, PorInvalid),
        (2030, RegionMismatch),
        (20002, NoCommerceRelationship),
    ],
)
async def test_http_order_business_codes_are_final(
    fake: FakePartnerCenter, http: PartnerCenter, code: int, error: type[Exception]
) -> None:
    fake.reject_next(ORDERS, 400, code, f"refused with {code}")
    with pytest.raises(error, match=str(code)):
        await http.place_order(_order(SAKURA), idempotency_key="k")
    assert len(fake.requests_to(ORDERS)) == 1


async def test_http_unknown_order_error_is_request_failed(
    fake: FakePartnerCenter, http: PartnerCenter
) -> None:
    fake.reject_next(ORDERS, 400, 800002, "Invalid offer id")
    with pytest.raises(PartnerCenterRequestFailed, match="800002"):
        await http.place_order(_order(SAKURA), idempotency_key="k")


async def test_http_refused_validation_is_request_failed(
    fake: FakePartnerCenter, http: PartnerCenter
) -> None:
    fake.reject_next("/v1/partners/validateresellers", 400, 400, "partnerIds is required")
    with pytest.raises(PartnerCenterRequestFailed, match="partnerIds is required"):
        await http.validate_resellers([SAKURA])
