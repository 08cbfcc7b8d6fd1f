"""Naming an indirect reseller on an existing subscription (REL-06; issue 14) on the
time-skipping server with the production worker, the local Partner Center file and the registry:
the POR rules of a new order apply (POR-02..05, MPA-02, REL-02), an entered PartnerID is verified,
Partner Center's refusals are mapped to their meaning."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.messages import Acknowledgement
from domain.provider_operations import (
    SubscriptionResellerRequest,
    SubscriptionResellerStage,
    SubscriptionResellerStatus,
)
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    SUBSCRIPTION,
    UNSIGNED_RESELLER,
    US_RESELLER,
    customer_of_provider,
    eventually,
    partnered_in_partner_center,
    prepare,
    start_subscription_reseller,
    subscription_reseller_request,
    update,
    wait_for_stage,
)

UNKNOWN = "9876543"
"""A PartnerID typed in that Partner Center has no profile for."""


async def _ready(stack: Stack) -> None:
    await prepare(stack, partnerships=(RESELLER, UNSIGNED_RESELLER, US_RESELLER))
    partnered_in_partner_center(stack, RESELLER, UNSIGNED_RESELLER, US_RESELLER)
    await customer_of_provider(stack)


def _subscription(stack: Stack) -> dict[str, Any]:
    entry: dict[str, Any] = stack.partner_center_data()["subscriptions"][SUBSCRIPTION]
    return entry


def _fix(por: str, role: str = "sales_agent") -> dict[str, Any]:
    return {"partner_of_record": por, "fixed_by": {"user": "sales@tokyo", "role": role}}


async def _refusal(handle: Any) -> ApplicationError:
    with pytest.raises(WorkflowFailureError) as failed:
        await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_a_partnered_reseller_is_named_on_the_subscription(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    async with stack.worker(time_env.client):
        handle = await start_subscription_reseller(time_env.client, subscription_reseller_request())
        result = await handle.result()
        status = await handle.query(names.QUERY_STATUS, result_type=SubscriptionResellerStatus)
    assert result.outcome is SubscriptionResellerStage.UPDATED
    assert result.partner_of_record == RESELLER and result.warnings == ()
    assert _subscription(stack)["partnerId"] == RESELLER
    assert status.verdict is not None and status.verdict.enforced and status.verdict.valid
    assert status.region == "JP"
    assert [h.stage for h in status.history] == [
        "prechecks",
        "por_validation",
        "updating",
        "updated",
    ]
    record = await stack.registry.get_subscription_reseller(str(CUSTOMER), SUBSCRIPTION)
    assert record is not None and record.status is SubscriptionResellerStage.UPDATED
    assert record.partner_of_record == RESELLER and record.workflow_id == handle.id


async def test_an_entered_partner_id_is_verified_then_fixed(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """An entered PartnerID Partner Center does not know fails verification (POR-02a/c, REL-02);
    the operator enters the right one in the same pipeline; a Helpdesk agent may not."""
    await _ready(stack)
    client = time_env.client
    async with stack.worker(client):
        handle = await start_subscription_reseller(
            client, subscription_reseller_request(partner_of_record=UNKNOWN)
        )
        status = await wait_for_stage(
            handle, SubscriptionResellerStage.POR_INVALID, SubscriptionResellerStatus
        )
        assert status.verdict is not None
        assert [f.condition for f in status.verdict.blocking] == ["POR-02a", "POR-02c", "REL-02"]
        assert "error 800015" in (status.waiting_for or "")
        assert (status.waiting_for or "").startswith(
            f"a valid Partner of Record (fix_partner_of_record): subscription {SUBSCRIPTION} "
            f"is blocked: Partner of Record {UNKNOWN} fails 3 condition(s)"
        )
        assert status.deadline is not None
        record = await stack.registry.get_subscription_reseller(str(CUSTOMER), SUBSCRIPTION)
        assert record is not None and record.status is SubscriptionResellerStage.POR_INVALID
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await update(
                handle,
                names.UPDATE_FIX_PARTNER_OF_RECORD,
                _fix(RESELLER, role="helpdesk_agent"),
                Acknowledgement,
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "RoleForbidden"
        ack = await update(
            handle, names.UPDATE_FIX_PARTNER_OF_RECORD, _fix(RESELLER), Acknowledgement
        )
        assert ack.message == f"Partner of Record {RESELLER} is valid; the update goes on"
        result = await handle.result()
    assert result.outcome is SubscriptionResellerStage.UPDATED
    assert result.partner_of_record == RESELLER
    assert _subscription(stack)["partnerId"] == RESELLER


async def test_a_reseller_in_another_region_is_refused_and_the_change_withdrawn(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    async with stack.worker(time_env.client):
        handle = await start_subscription_reseller(
            time_env.client, subscription_reseller_request(partner_of_record=US_RESELLER)
        )
        status = await wait_for_stage(
            handle, SubscriptionResellerStage.POR_INVALID, SubscriptionResellerStatus
        )
        assert status.verdict is not None
        assert [f.condition for f in status.verdict.blocking] == ["POR-02b", "POR-05", "MPA-02"]
        await update(
            handle,
            names.UPDATE_WITHDRAW,
            {"reason": "the customer keeps its current reseller", "requested_by": "sales"},
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is SubscriptionResellerStage.WITHDRAWN
    assert _subscription(stack)["partnerId"] is None


async def test_partner_center_refusing_the_por_blocks_like_our_own_check(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """800098 "Can't update the partner on record for this subscription": blocked; once Partner
    Center allows it, the same PartnerID is re-checked and the update goes through."""
    await _ready(stack)
    stack.edit_partner_center(
        lambda d: d["subscriptions"][SUBSCRIPTION].update({"partnerOnRecordLocked": True})
    )
    # No time skipping while the test edits and fixes: the block's 7-day deadline must not pass.
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(time_env.client):
            handle = await start_subscription_reseller(
                time_env.client, subscription_reseller_request()
            )
            status = await wait_for_stage(
                handle, SubscriptionResellerStage.POR_INVALID, SubscriptionResellerStatus
            )
            assert "error 800098" in (status.waiting_for or "")
            await eventually(
                lambda: stack.registry.get_subscription_reseller(str(CUSTOMER), SUBSCRIPTION),
                lambda record: record is not None and record.error_type == "PorInvalid",
            )
            stack.edit_partner_center(
                lambda d: d["subscriptions"][SUBSCRIPTION].update({"partnerOnRecordLocked": False})
            )
            await update(
                handle, names.UPDATE_FIX_PARTNER_OF_RECORD, _fix(RESELLER), Acknowledgement
            )
            result = await handle.result()
    assert result.outcome is SubscriptionResellerStage.UPDATED
    assert _subscription(stack)["partnerId"] == RESELLER


async def test_a_blocked_change_fails_at_its_deadline(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await _ready(stack)
    async with stack.worker(time_env.client):
        handle = await start_subscription_reseller(
            time_env.client, subscription_reseller_request(partner_of_record=UNSIGNED_RESELLER)
        )
        status = await wait_for_stage(
            handle, SubscriptionResellerStage.POR_INVALID, SubscriptionResellerStatus
        )
        assert status.deadline is not None
        await time_env.sleep(timedelta(days=8))
        refusal = await _refusal(handle)
    assert refusal.type == "MpaNotSigned"
    assert "no valid Partner of Record was named by" in refusal.message
    record = await stack.registry.get_subscription_reseller(str(CUSTOMER), SUBSCRIPTION)
    assert record is not None and record.status is SubscriptionResellerStage.FAILED


@pytest.mark.parametrize(
    ("subscription", "words"),
    [
        ({"status": "deleted"}, "error 2011"),
        ({"status": "suspended"}, "error 800091"),
        ({"customerId": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"}, "error 20003"),
    ],
)
async def test_a_subscription_partner_center_cannot_change_fails(
    time_env: WorkflowEnvironment, stack: Stack, subscription: dict[str, Any], words: str
) -> None:
    await _ready(stack)
    stack.edit_partner_center(lambda d: d["subscriptions"][SUBSCRIPTION].update(subscription))
    async with stack.worker(time_env.client):
        handle = await start_subscription_reseller(time_env.client, subscription_reseller_request())
        refusal = await _refusal(handle)
    assert refusal.type == "SubscriptionNotChangeable" and words in refusal.message
    record = await stack.registry.get_subscription_reseller(str(CUSTOMER), SUBSCRIPTION)
    assert record is not None and record.status is SubscriptionResellerStage.FAILED


@pytest.mark.parametrize(
    ("overrides", "customer", "error_type"),
    [
        (
            {"requested_by": {"user": "desk@tokyo", "role": "helpdesk_agent"}},
            True,
            "RoleForbidden",
        ),
        ({}, False, "NoCommerceRelationship"),
    ],
)
async def test_prechecks_refuse(
    time_env: WorkflowEnvironment,
    stack: Stack,
    overrides: dict[str, Any],
    customer: bool,
    error_type: str,
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    if customer:
        await customer_of_provider(stack)
    async with stack.worker(time_env.client):
        handle = await start_subscription_reseller(
            time_env.client, subscription_reseller_request(**overrides)
        )
        refusal = await _refusal(handle)
        status = await handle.query(names.QUERY_STATUS, result_type=SubscriptionResellerStatus)
    assert refusal.type == error_type
    assert status.stage is SubscriptionResellerStage.REFUSED
    assert _subscription(stack)["partnerId"] is None


def test_the_readme_example_is_a_valid_request() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    model = SubscriptionResellerRequest.model_validate(
        json.loads((examples / "subscription-reseller.json").read_text())
    )
    assert model.provider_partner_id == PROVIDER
