"""Provider operations for partnered resellers (REL-05, seed 003's table; issue 14) on the
time-skipping server with the production worker, the local Partner Center file and the registry:
a new customer added on the reseller's behalf, and the reseller made a subscription's support
contact; each refused unless the partnership is active and the caller's role allows it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import pytest
from pydantic import BaseModel
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.partner_center.local import CUSTOMER_NAMESPACE
from contract import names
from domain.partner_center import CustomerAddress, NewCustomer
from domain.provider_operations import (
    OperationStage,
    ProviderOperationStatus,
    ResellerCustomerRequest,
    SupportContactRequest,
)
from domain.relationships import CustomerInvitationStage, PartnershipStage
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    RESELLER_TENANT,
    SUBSCRIPTION,
    UNSIGNED_RESELLER,
    customer_of_provider,
    partnered_in_partner_center,
    prepare,
    reseller_customer_request,
    start_reseller_customer,
    start_support_contact,
    support_contact_request,
)


def _pc(stack: Stack) -> dict[str, Any]:
    data: dict[str, Any] = stack.partner_center_data()
    return data


async def _refusal(handle: Any) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def _status(handle: Any) -> ProviderOperationStatus:
    status: ProviderOperationStatus = await handle.query(
        names.QUERY_STATUS, result_type=ProviderOperationStatus
    )
    return status


# ---- a new customer on the reseller's behalf ---------------------------------------------------


async def test_a_customer_is_created_for_a_partnered_reseller(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    async with stack.worker(time_env.client):
        handle = await start_reseller_customer(time_env.client, reseller_customer_request())
        result = await handle.result()
        status = await _status(handle)
    assert result.outcome is OperationStage.DONE
    assert result.customer_tenant_id is not None
    customer_id = result.customer_tenant_id
    # Partner Center: the customer, associated with the reseller's tenant, sold by both.
    entry = _pc(stack)["customers"][customer_id]
    assert entry["associatedPartnerId"] == str(RESELLER_TENANT)
    assert entry["partners"] == [PROVIDER, RESELLER]
    assert entry["defaultDomain"] == "shinagawashoji.onmicrosoft.com"
    # The registry: a joint relationship the provider can order through (CUS-01), MCA attested.
    [relationship] = await stack.registry.list_customer_relationships(customer_id)
    assert relationship.provider_partner_id == PROVIDER
    assert relationship.status is CustomerInvitationStage.ACTIVE
    assert relationship.acceptance_event == "created_by_provider"
    agreement = await stack.registry.get_customer_agreement(customer_id)
    assert agreement is not None and agreement.signer_name == "Ichiro Tanaka"
    assert [h.stage for h in status.history] == ["prechecks", "calling_partner_center", "done"]
    assert status.region == "JP" and status.customer_tenant_id == customer_id


async def test_without_an_mca_attestation_the_customer_waits_for_one(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    async with stack.worker(time_env.client):
        handle = await start_reseller_customer(
            time_env.client, reseller_customer_request(customer_agreement=None)
        )
        result = await handle.result()
    assert result.outcome is OperationStage.DONE and result.customer_tenant_id is not None
    assert "orders wait for its Microsoft Customer Agreement attestation" in (result.reason or "")
    [relationship] = await stack.registry.list_customer_relationships(result.customer_tenant_id)
    assert relationship.status is CustomerInvitationStage.MCA_PENDING
    assert await stack.registry.get_customer_agreement(result.customer_tenant_id) is None


@pytest.mark.parametrize(
    ("overrides", "error_type", "words"),
    [
        (
            {"requested_by": {"user": "desk@tokyo-cloud.example", "role": "helpdesk_agent"}},
            "RoleForbidden",
            "only an Admin agent or Sales agent may add a customer on a reseller's behalf",
        ),
        (
            {"reseller_partner_id": UNSIGNED_RESELLER},
            "PartnershipNotActive",
            "there is no partnership",
        ),
        (
            {"customer_country": "US"},
            "RegionMismatch",
            "is in US (United States region) but provider 3456789 is in JP (Japan region)",
        ),
        (
            {
                "customer_agreement": {
                    **reseller_customer_request()["customer_agreement"],
                    "accepted_at": "2999-01-01T00:00:00Z",
                }
            },
            "DecisionInvalid",
            "which is after now",
        ),
    ],
)
async def test_a_customer_is_refused_before_partner_center_is_asked(
    time_env: WorkflowEnvironment,
    stack: Stack,
    overrides: dict[str, Any],
    error_type: str,
    words: str,
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER, UNSIGNED_RESELLER)
    async with stack.worker(time_env.client):
        handle = await start_reseller_customer(
            time_env.client, reseller_customer_request(**overrides)
        )
        refusal = await _refusal(handle)
        status = await _status(handle)
    assert refusal.type == error_type
    assert words in refusal.message
    assert status.stage is OperationStage.REFUSED and status.error_type == error_type
    assert _pc(stack).get("createdCustomers", {}) == {}


async def test_a_partnership_partner_center_does_not_list_is_not_active(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The registry says active but Partner Center lists the reseller as Inactive (say, removed
    there by Microsoft Support, END-03): the provider may not act for it."""
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER, state="Inactive")
    async with stack.worker(time_env.client):
        handle = await start_reseller_customer(time_env.client, reseller_customer_request())
        refusal = await _refusal(handle)
    assert refusal.type == "PartnershipNotActive"
    assert "active in the registry but Inactive in Partner Center's list" in refusal.message


async def test_a_suspended_partnership_is_not_active(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    record = await stack.registry.get_partnership(PROVIDER, RESELLER)
    assert record is not None
    await stack.registry.save_partnership(
        record.model_copy(update={"status": PartnershipStage.RESELLER_SUSPENDED})
    )
    async with stack.worker(time_env.client):
        handle = await start_support_contact(time_env.client, support_contact_request())
        refusal = await _refusal(handle)
    assert refusal.type == "PartnershipNotActive"
    assert "its partnership is reseller_suspended" in refusal.message


async def test_the_same_customer_is_created_once_when_the_activity_retries(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The idempotency key is the run's step key: the local Partner Center derives the customer
    id from it, so a retried attempt finds the customer instead of creating a second one."""
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    async with stack.worker(time_env.client):
        handle = await start_reseller_customer(time_env.client, reseller_customer_request())
        result = await handle.result()
    [(key, customer_id)] = _pc(stack)["createdCustomers"].items()
    assert key == f"{handle.id}:{handle.result_run_id}:create-customer"
    assert customer_id == result.customer_tenant_id == str(uuid5(CUSTOMER_NAMESPACE, key))
    again = await stack.partner_center.create_customer(_new_customer(), idempotency_key=key)
    assert again.customer_id == UUID(customer_id)
    assert len(_pc(stack)["createdCustomers"]) == 1


def _new_customer() -> NewCustomer:
    return NewCustomer(
        provider_partner_id=PROVIDER,
        reseller_partner_id=RESELLER,
        reseller_tenant_id=str(RESELLER_TENANT),
        domain="shinagawashoji.onmicrosoft.com",
        company_name="Shinagawa Shoji K.K.",
        email="it@shinagawa-shoji.example",
        culture="ja-JP",
        language="ja",
        address=CustomerAddress(
            country="JP", city="Minato-ku", address_line1="2-16-3 Konan", postal_code="108-0075"
        ),
    )


# ---- the reseller as a subscription's support contact ------------------------------------------


async def test_the_reseller_becomes_the_support_contact(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    await customer_of_provider(stack)
    async with stack.worker(time_env.client):
        handle = await start_support_contact(time_env.client, support_contact_request())
        result = await handle.result()
        status = await _status(handle)
    assert result.outcome is OperationStage.DONE
    assert _pc(stack)["subscriptions"][SUBSCRIPTION]["supportContact"] == {
        "supportTenantId": str(RESELLER_TENANT),
        "supportMpnId": RESELLER,
        "name": "Contoso K.K.",
    }
    record = await stack.registry.get_support_contact(str(CUSTOMER), SUBSCRIPTION)
    assert record is not None and record.reseller_partner_id == RESELLER
    assert record.set_by == "admin@tokyo-cloud.example"
    assert record.workflow_id == handle.id
    assert status.region == "JP" and status.subscription_id == SUBSCRIPTION


async def test_support_contact_needs_the_providers_customer(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    async with stack.worker(time_env.client):
        handle = await start_support_contact(time_env.client, support_contact_request())
        refusal = await _refusal(handle)
    assert refusal.type == "NoCommerceRelationship"
    assert "supportContact" not in _pc(stack)["subscriptions"][SUBSCRIPTION]


@pytest.mark.parametrize(
    ("subscription", "error_type", "words"),
    [
        ({"status": "deleted"}, "SubscriptionNotChangeable", "error 2011"),
        ({"status": "suspended"}, "SubscriptionNotChangeable", "error 800091"),
        (
            {"customerId": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"},
            "SubscriptionNotChangeable",
            "error 20003",
        ),
    ],
)
async def test_partner_center_refusals_fail_the_pipeline_with_their_meaning(
    time_env: WorkflowEnvironment,
    stack: Stack,
    subscription: dict[str, Any],
    error_type: str,
    words: str,
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    stack.edit_partner_center(lambda d: d["subscriptions"][SUBSCRIPTION].update(subscription))
    await customer_of_provider(stack)
    async with stack.worker(time_env.client):
        handle = await start_support_contact(time_env.client, support_contact_request())
        refusal = await _refusal(handle)
        status = await _status(handle)
    assert refusal.type == error_type and words in refusal.message
    assert status.stage is OperationStage.FAILED
    assert await stack.registry.get_support_contact(str(CUSTOMER), SUBSCRIPTION) is None


async def test_a_helpdesk_agent_cannot_set_the_support_contact(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    await customer_of_provider(stack)
    async with stack.worker(time_env.client):
        handle = await start_support_contact(
            time_env.client,
            support_contact_request(
                requested_by={"user": "desk@tokyo-cloud.example", "role": "helpdesk_agent"}
            ),
        )
        refusal = await _refusal(handle)
    assert refusal.type == "RoleForbidden"
    assert "make a reseller a subscription's support contact" in refusal.message


@pytest.mark.parametrize(
    ("example", "model"),
    [
        ("reseller-customer.json", ResellerCustomerRequest),
        ("support-contact.json", SupportContactRequest),
    ],
)
def test_the_readme_examples_are_valid_requests(example: str, model: type[BaseModel]) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    model.model_validate(json.loads((examples / example).read_text()))
