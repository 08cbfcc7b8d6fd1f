"""POR-04 after a reinstatement (issue 14 item 5) on the time-skipping server with the production
worker, the registry and the SMTP sink: the partnership's reinstatement starts GdapRestoration,
which tells operations which customers need delegated admin again and tracks each until it is
reported re-granted or given up at the deadline."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.gdap_restoration import (
    CustomerGdapState,
    GdapRestorationResult,
    GdapRestorationStage,
    GdapRestorationStatus,
)
from domain.messages import Acknowledgement
from domain.relationships import (
    CustomerInvitationStage,
    CustomerRelationshipRecord,
    InvitationKind,
    PartnershipStage,
    PartnershipStatus,
)
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    bodies,
    customer_of_provider,
    partnership_request,
    prepare,
    start_partnership,
    subjects,
    update,
    wait_for_stage,
)

SECOND_CUSTOMER = UUID("7c1e5a9b-2d4f-4b8a-9c3e-1f2a3b4c5d6e")
REINSTATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def _second_customer(stack: Stack) -> None:
    now = datetime.now(UTC)
    await stack.registry.save_customer_relationship(
        CustomerRelationshipRecord(
            reseller_partner_id=RESELLER,
            customer_tenant_id=str(SECOND_CUSTOMER),
            kind=InvitationKind.RESELLER_ONLY,
            customer_country="JP",
            status=CustomerInvitationStage.ACTIVE,
            workflow_id=names.customer_invitation_id(RESELLER, str(SECOND_CUSTOMER)),
            invited_at=now,
            accepted_at=now,
            updated_at=now,
        )
    )


async def _suspend_and_reinstate(
    client: Client, stack: Stack
) -> WorkflowHandle[Any, GdapRestorationResult]:
    partnership = await start_partnership(client, partnership_request())
    await wait_for_stage(partnership, PartnershipStage.AWAITING_ACCEPTANCE, PartnershipStatus)
    await update(
        partnership,
        names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
        {"reported_by": "reseller-success-team"},
        Acknowledgement,
    )
    await wait_for_stage(partnership, PartnershipStage.ACTIVE, PartnershipStatus)
    ack = await update(
        partnership,
        names.UPDATE_REPORT_RESELLER_SUSPENDED,
        {"reported_by": "pc-webhook", "reason": "non-payment"},
        Acknowledgement,
    )
    assert "revoked on 2 customer(s)" in ack.message
    await update(
        partnership,
        names.UPDATE_REPORT_RESELLER_REINSTATED,
        {"reported_by": "pc-webhook", "reason": "paid", "at": REINSTATED.isoformat()},
        Acknowledgement,
    )
    restoration_id = names.gdap_restoration_id(RESELLER, "20260301090000")
    handle = client.get_workflow_handle(restoration_id, result_type=GdapRestorationResult)
    for _ in range(200):
        try:
            status = await handle.query(names.QUERY_STATUS, result_type=GdapRestorationStatus)
        except Exception:  # not started yet
            await asyncio.sleep(0.05)
            continue
        if status.deadline is not None:
            return handle
        await asyncio.sleep(0.05)
    raise AssertionError("the reinstatement never started a GDAP restoration")


async def _revoked(stack: Stack) -> list[str]:
    return [
        r.customer_tenant_id for r in await stack.registry.list_gdap_revoked_customers(RESELLER)
    ]


async def test_each_customer_is_tracked_until_regranted(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)
    await customer_of_provider(stack)
    await _second_customer(stack)
    client = time_env.client
    async with stack.worker(client):
        handle = await _suspend_and_reinstate(client, stack)
        status = await handle.query(names.QUERY_STATUS, result_type=GdapRestorationStatus)
        assert status.stage is GdapRestorationStage.AWAITING_REGRANTS
        assert {c.customer_tenant_id for c in status.customers} == {
            str(CUSTOMER),
            str(SECOND_CUSTOMER),
        }
        assert sorted(await _revoked(stack)) == sorted([str(CUSTOMER), str(SECOND_CUSTOMER)])
        await stack.sink.wait_for_messages(4, timeout_seconds=30)
        subject = f"Reseller PartnerID {RESELLER} reinstated: grant delegated admin again"
        assert subject in subjects(stack.sink)
        body = bodies(stack.sink)[subjects(stack.sink).index(subject)]
        assert f"- customer {CUSTOMER}" in body and f"- customer {SECOND_CUSTOMER}" in body
        assert handle.id in body

        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await update(
                handle,
                names.UPDATE_REPORT_GDAP_REGRANTED,
                {"customer_tenant_id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "reported_by": "x"},
                Acknowledgement,
            )
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == "DecisionInvalid"

        ack = await update(
            handle,
            names.UPDATE_REPORT_GDAP_REGRANTED,
            {"customer_tenant_id": str(CUSTOMER), "reported_by": "ops"},
            Acknowledgement,
        )
        assert ack.message.endswith("1 customer(s) left")
        assert await _revoked(stack) == [str(SECOND_CUSTOMER)]
        await update(
            handle,
            names.UPDATE_REPORT_GDAP_REGRANTED,
            {"customer_tenant_id": str(SECOND_CUSTOMER), "reported_by": "ops"},
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is GdapRestorationStage.RESTORED
    assert {c.state for c in result.customers} == {CustomerGdapState.REGRANTED}
    assert await _revoked(stack) == []


async def test_customers_not_regranted_by_the_deadline_are_given_up(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)
    await customer_of_provider(stack)
    await _second_customer(stack)
    client = time_env.client
    async with stack.worker(client):
        handle = await _suspend_and_reinstate(client, stack)
        await update(
            handle,
            names.UPDATE_REPORT_GDAP_REGRANTED,
            {"customer_tenant_id": str(SECOND_CUSTOMER), "reported_by": "ops"},
            Acknowledgement,
        )
        await time_env.sleep(timedelta(days=31))
        result = await handle.result()
    assert result.outcome is GdapRestorationStage.GIVEN_UP
    states = {c.customer_tenant_id: c.state for c in result.customers}
    assert states == {
        str(CUSTOMER): CustomerGdapState.GIVEN_UP,
        str(SECOND_CUSTOMER): CustomerGdapState.REGRANTED,
    }
    assert str(CUSTOMER) in (result.reason or "")
    assert await _revoked(stack) == [str(CUSTOMER)]
    assert PROVIDER  # the provider's partnership stays active meanwhile
