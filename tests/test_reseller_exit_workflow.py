"""The reseller side of ending a relationship (END-03, seed 000 scenario 6; issue 14) on the
time-skipping server with the production worker and the registry: the request, the Microsoft
Support case, the outcome Support reports; customers and delegated admin unchanged (END-01)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.messages import Acknowledgement
from domain.relationships import CustomerInvitationStage, PartnershipStage
from domain.reseller_exit import (
    ExitKind,
    ResellerExitRecord,
    ResellerExitRequest,
    ResellerExitStage,
    ResellerExitStatus,
)
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    OTHER_PROVIDER,
    PROVIDER,
    RESELLER,
    customer_of_provider,
    prepare,
    reseller_exit_request,
    start_reseller_exit,
    update,
    wait_for_stage,
)


def _case(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "case_reference": "2611300010001234",
        "opened_at": "2026-01-10T02:00:00Z",
        "reported_by": "reseller-success@csp.example",
    }
    base.update(overrides)
    return base


def _outcome(outcome: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"outcome": outcome, "reported_by": "reseller-success@csp.example"}
    base.update(overrides)
    return base


async def _recorded(stack: Stack, stage: ResellerExitStage) -> ResellerExitRecord:
    """The registry record once the pipeline saved `stage` (saved right after entering it)."""
    for _ in range(200):
        record = await stack.registry.get_reseller_exit(RESELLER, PROVIDER)
        if record is not None and record.status is stage:
            return record
        await asyncio.sleep(0.05)
    raise AssertionError(f"the registry never recorded stage {stage}")


async def _refused_update(handle: Any, name: str, payload: dict[str, Any]) -> ApplicationError:
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await update(handle, name, payload, Acknowledgement)
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError)
    return cause


async def test_support_ends_the_relationship_and_nothing_else_changes(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    await customer_of_provider(stack)
    [before] = await stack.registry.list_customer_relationships(str(CUSTOMER))
    client = time_env.client
    async with stack.worker(client):
        handle = await start_reseller_exit(client, reseller_exit_request())
        status = await wait_for_stage(
            handle, ResellerExitStage.AWAITING_SUPPORT_CASE, ResellerExitStatus
        )
        assert status.deadline is not None
        assert "record_support_case" in (status.waiting_for or "")
        ack = await update(handle, names.UPDATE_RECORD_SUPPORT_CASE, _case(), Acknowledgement)
        assert ack.message == "Microsoft Support case 2611300010001234 recorded"
        status = await wait_for_stage(
            handle, ResellerExitStage.AWAITING_OUTCOME, ResellerExitStatus
        )
        assert status.case_reference == "2611300010001234"
        record = await _recorded(stack, ResellerExitStage.AWAITING_OUTCOME)
        assert record.case_opened_at == datetime(2026, 1, 10, 2, tzinfo=UTC)
        wrong = await _refused_update(handle, names.UPDATE_RECORD_SUPPORT_CASE, _case())
        assert wrong.type == "WrongStage"
        moved = await _refused_update(
            handle, names.UPDATE_REPORT_SUPPORT_OUTCOME, _outcome("moved")
        )
        assert moved.type == "DecisionInvalid"
        await update(
            handle,
            names.UPDATE_REPORT_SUPPORT_OUTCOME,
            _outcome("ended", note="Relationship removed on 2026-01-14"),
            Acknowledgement,
        )
        result = await handle.result()
        status = await handle.query(names.QUERY_STATUS, result_type=ResellerExitStatus)
    assert result.outcome is ResellerExitStage.ENDED
    assert result.case_reference == "2611300010001234"
    assert "customers and their delegated admin privileges are unchanged" in (result.reason or "")
    assert [h.stage for h in status.history] == [
        "prechecks",
        "awaiting_support_case",
        "awaiting_outcome",
        "ended",
    ]
    final = await stack.registry.get_reseller_exit(RESELLER, PROVIDER)
    assert final is not None and final.status is ResellerExitStage.ENDED
    assert "Relationship removed on 2026-01-14" in (final.outcome_note or "")
    # END-01: the customer relationship and its delegated admin are exactly as before.
    assert await stack.registry.list_customer_relationships(str(CUSTOMER)) == [before]
    assert before.status is CustomerInvitationStage.ACTIVE and before.gdap_revoked_at is None
    partnership = await stack.registry.get_partnership(PROVIDER, RESELLER)
    assert partnership is not None and partnership.status is PartnershipStage.ACTIVE


async def test_a_move_to_another_provider(time_env: WorkflowEnvironment, stack: Stack) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    client = time_env.client
    async with stack.worker(client):
        handle = await start_reseller_exit(
            client, reseller_exit_request(kind="move", new_provider_partner_id=OTHER_PROVIDER)
        )
        status = await wait_for_stage(
            handle, ResellerExitStage.AWAITING_SUPPORT_CASE, ResellerExitStatus
        )
        assert f"to {OTHER_PROVIDER}" in (status.waiting_for or "")
        future = await _refused_update(
            handle, names.UPDATE_RECORD_SUPPORT_CASE, _case(opened_at="2999-01-01T00:00:00Z")
        )
        assert future.type == "DecisionInvalid"
        await update(handle, names.UPDATE_RECORD_SUPPORT_CASE, _case(), Acknowledgement)
        await wait_for_stage(handle, ResellerExitStage.AWAITING_OUTCOME, ResellerExitStatus)
        ended = await _refused_update(
            handle, names.UPDATE_REPORT_SUPPORT_OUTCOME, _outcome("ended")
        )
        assert ended.type == "DecisionInvalid"
        await update(
            handle, names.UPDATE_REPORT_SUPPORT_OUTCOME, _outcome("moved"), Acknowledgement
        )
        result = await handle.result()
    assert result.outcome is ResellerExitStage.MOVED
    record = await stack.registry.get_reseller_exit(RESELLER, PROVIDER)
    assert record is not None and record.kind is ExitKind.MOVE
    assert record.new_provider_partner_id == OTHER_PROVIDER


async def test_without_a_support_case_the_request_expires(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    async with stack.worker(time_env.client):
        handle = await start_reseller_exit(time_env.client, reseller_exit_request())
        await wait_for_stage(handle, ResellerExitStage.AWAITING_SUPPORT_CASE, ResellerExitStatus)
        await time_env.sleep(timedelta(days=31))
        result = await handle.result()
    assert result.outcome is ResellerExitStage.EXPIRED
    assert (result.reason or "").startswith("no Microsoft Support case was recorded by ")
    record = await stack.registry.get_reseller_exit(RESELLER, PROVIDER)
    assert record is not None and record.status is ResellerExitStage.EXPIRED


async def test_declined_and_withdrawn(time_env: WorkflowEnvironment, stack: Stack) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    client = time_env.client
    async with stack.worker(client):
        handle = await start_reseller_exit(client, reseller_exit_request())
        await wait_for_stage(handle, ResellerExitStage.AWAITING_SUPPORT_CASE, ResellerExitStatus)
        await update(handle, names.UPDATE_RECORD_SUPPORT_CASE, _case(), Acknowledgement)
        await wait_for_stage(handle, ResellerExitStage.AWAITING_OUTCOME, ResellerExitStatus)
        await update(
            handle,
            names.UPDATE_WITHDRAW,
            {"reason": "we settled with the provider", "requested_by": "admin@contoso"},
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is ResellerExitStage.WITHDRAWN
    assert result.case_reference == "2611300010001234"


@pytest.mark.parametrize("status", [None, PartnershipStage.REMOVED])
async def test_there_must_be_a_partnership_to_leave(
    time_env: WorkflowEnvironment, stack: Stack, status: PartnershipStage | None
) -> None:
    await prepare(stack, partnerships=(RESELLER,) if status else ())
    if status is not None:
        record = await stack.registry.get_partnership(PROVIDER, RESELLER)
        assert record is not None
        await stack.registry.save_partnership(record.model_copy(update={"status": status}))
    async with stack.worker(time_env.client):
        handle = await start_reseller_exit(time_env.client, reseller_exit_request())
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
    cause = failed.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "PartnershipNotActive"
    assert "to end or move away from" in cause.message
    assert (status.value if status else "there is no partnership") in cause.message


def test_a_move_names_another_provider() -> None:
    with pytest.raises(ValidationError, match="a move names new_provider_partner_id"):
        ResellerExitRequest.model_validate(reseller_exit_request(kind="move"))
    with pytest.raises(ValidationError, match="other than the current one"):
        ResellerExitRequest.model_validate(
            reseller_exit_request(kind="move", new_provider_partner_id=PROVIDER)
        )
    with pytest.raises(ValidationError, match="only a move"):
        ResellerExitRequest.model_validate(
            reseller_exit_request(new_provider_partner_id=OTHER_PROVIDER)
        )
    examples = Path(__file__).resolve().parent.parent / "examples"
    ResellerExitRequest.model_validate(json.loads((examples / "reseller-exit.json").read_text()))
