"""The HTTP client's provider operations (issue 14) against the fake Partner Center over a real
socket: creating a customer for an indirect reseller, a subscription's support contact, and the
subscription PATCH that names its reseller of record, with the documented refusals mapped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from adapters.partner_center import PartnerCenterUnavailable
from adapters.partner_center.http import PartnerCenterHttpClient
from domain.errors import PorInvalid, SubscriptionNotChangeable
from domain.partner_center import CustomerAddress, NewCustomer, SupportContact
from tests.fake_partner_center import (
    PARTNER_TOKEN,
    FakePartnerCenter,
    serve_fake_partner_center,
)

CUSTOMER = UUID("d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e")
SUBSCRIPTION = "6f1e2d3c-4b5a-4987-8c6d-5e4f3a2b1c0d"
PATH = f"/v1/customers/{CUSTOMER}/subscriptions/{SUBSCRIPTION}"


@pytest.fixture
async def fake() -> AsyncIterator[FakePartnerCenter]:
    async with serve_fake_partner_center() as served:
        served.data["subscriptions"] = {
            SUBSCRIPTION: {
                "customerId": str(CUSTOMER),
                "offerId": "CFQ7TTC0LH18:0001",
                "status": "active",
                "autoRenewEnabled": True,
                "partnerId": None,
            }
        }
        yield served


@pytest.fixture
async def client(fake: FakePartnerCenter) -> AsyncIterator[PartnerCenterHttpClient]:
    async with PartnerCenterHttpClient(
        token_provider=PARTNER_TOKEN,
        base_url=fake.base_url,
        graph_url=fake.base_url,
        retry_backoff=0.0,
        timeout=10.0,
    ) as http:
        yield http


async def test_the_subscription_is_patched_back_whole_with_the_new_partner_id(
    fake: FakePartnerCenter, client: PartnerCenterHttpClient
) -> None:
    result = await client.update_subscription_partner_of_record(
        CUSTOMER, SUBSCRIPTION, "4512345", idempotency_key="wf:run:update-por-0"
    )
    assert result.partner_id == "4512345" and not result.pending
    get, patch = fake.requests_to(PATH)
    assert (get.method, patch.method) == ("GET", "PATCH")
    assert patch.headers["ms-requestid"] == "wf:run:update-por-0"
    # The full resource went back: auto-renew and the rest kept, only partnerId changed.
    body: dict[str, Any] = patch.body
    assert body["partnerId"] == "4512345" and body["autoRenewEnabled"] is True
    assert body["attributes"]["etag"] and "links" not in body
    assert fake.data["subscriptions"][SUBSCRIPTION]["autoRenewEnabled"] is True


async def test_a_202_is_recorded_as_pending(
    fake: FakePartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.subscription_patch_accepted = True
    result = await client.update_subscription_partner_of_record(
        CUSTOMER, SUBSCRIPTION, "4512345", idempotency_key="k"
    )
    assert result.pending and result.partner_id == "4512345"
    assert fake.data["subscriptions"][SUBSCRIPTION]["partnerId"] == "4512345"


@pytest.mark.parametrize(
    ("change", "error", "code"),
    [
        ({"partnerOnRecordLocked": True}, PorInvalid, "800098"),
        ({"status": "deleted"}, SubscriptionNotChangeable, "2011"),
        (
            {"customerId": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"},
            SubscriptionNotChangeable,
            "20003",
        ),
    ],
)
async def test_refusals_are_mapped_to_their_meaning(
    fake: FakePartnerCenter,
    client: PartnerCenterHttpClient,
    change: dict[str, Any],
    error: type[Exception],
    code: str,
) -> None:
    fake.data["subscriptions"][SUBSCRIPTION].update(change)
    with pytest.raises(error) as refused:
        await client.update_subscription_partner_of_record(
            CUSTOMER, SUBSCRIPTION, "4512345", idempotency_key="k"
        )
    assert getattr(refused.value, "details", {})["partner_center_code"] == code


async def test_an_unknown_reseller_is_refused_as_por_invalid(
    client: PartnerCenterHttpClient,
) -> None:
    with pytest.raises(PorInvalid) as refused:
        await client.update_subscription_partner_of_record(
            CUSTOMER, SUBSCRIPTION, "6345678", idempotency_key="k"
        )
    assert refused.value.details["partner_center_code"] == "800016"


async def test_a_pending_operation_is_transient(
    fake: FakePartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.reject_next(PATH, 409, 900278, "There is a pending operation on this subscription.")
    with pytest.raises(PartnerCenterUnavailable, match="900278"):
        await client.update_subscription_partner_of_record(
            CUSTOMER, SUBSCRIPTION, "4512345", idempotency_key="k"
        )


async def test_support_contact_and_customer_for_a_reseller(
    fake: FakePartnerCenter, client: PartnerCenterHttpClient
) -> None:
    contact = SupportContact(
        support_tenant_id="3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f",
        support_mpn_id="4512345",
        name="Sakura Cloud Solutions K.K.",
    )
    answered = await client.set_subscription_support_contact(
        "3456789", CUSTOMER, SUBSCRIPTION, contact
    )
    assert answered == contact
    [put] = fake.requests_to(f"{PATH}/supportcontact")
    assert put.method == "PUT" and put.body["supportMpnId"] == "4512345"

    created = await client.create_customer(
        NewCustomer(
            provider_partner_id="3456789",
            reseller_partner_id="4512345",
            reseller_tenant_id=contact.support_tenant_id,
            domain="shinagawashoji.onmicrosoft.com",
            company_name="Shinagawa Shoji K.K.",
            email="it@shinagawa-shoji.example",
            culture="ja-JP",
            language="ja",
            address=CustomerAddress(
                country="JP", city="Minato-ku", address_line1="2-16-3 Konan", postal_code="108-0075"
            ),
        ),
        idempotency_key="wf:run:create-customer",
    )
    [post] = fake.requests_to("/v1/customers")
    assert post.headers["ms-requestid"] == "wf:run:create-customer"
    assert post.body["associatedPartnerId"] == contact.support_tenant_id
    assert post.body["billingProfile"]["defaultAddress"]["postalCode"] == "108-0075"
    assert created.domain == "shinagawashoji.onmicrosoft.com"
    assert created.associated_partner_id == contact.support_tenant_id
