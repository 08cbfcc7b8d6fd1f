"""The customer-invitation pipeline on the time-skipping server: joint and reseller-only
invitations, the webhook-named acceptance updates, the MCA attestation (CUS-04), expiry with
reminders, and the region and self-dealing pre-checks (REG-01, SELF-01..03)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.messages import Acknowledgement
from domain.relationships import CustomerInvitationStage, CustomerInvitationStatus, InvitationKind
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    RESELLER_TENANT,
    UNSIGNED_RESELLER,
    US_RESELLER,
    agreement,
    bodies,
    eventually,
    invitation_request,
    prepare,
    start_invitation,
    subjects,
    update,
    wait_for_stage,
)

JOINT_LINK = (
    "https://admin.microsoft.com/Adminportal/Home?invType=IndirectResellerRelationship"
    f"&partnerId={RESELLER}&indirectCSPId={PROVIDER}#/BillingAccounts/partner-invitation"
)


async def _status(handle: Any) -> CustomerInvitationStatus:
    status: CustomerInvitationStatus = await handle.query(
        names.QUERY_STATUS, result_type=CustomerInvitationStatus
    )
    return status


def _accepted(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"customer_tenant_id": str(CUSTOMER), "reported_by": "webhook-relay"}
    base.update(overrides)
    return base


async def test_joint_invitation_expires_after_30_days_with_reminders(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    async with stack.worker(time_env.client):
        handle = await start_invitation(time_env.client, invitation_request())
        result = await handle.result()
        status = await _status(handle)
    assert result.outcome is CustomerInvitationStage.EXPIRED
    assert subjects(stack.sink) == [
        "Contoso K.K. invites you to a reseller relationship",
        "Reminder: reseller relationship invitation from Contoso K.K.",
        "Reminder: reseller relationship invitation from Contoso K.K.",
        f"Customer invitation by PartnerID {RESELLER} lapsed",
    ]
    invitation, reminder = bodies(stack.sink)[:2]
    assert JOINT_LINK in invitation and JOINT_LINK in reminder  # CUS-02: the link intact
    assert "its indirect provider (PartnerID 3456789)" in invitation
    stages = {change.stage: change.at for change in status.history}
    assert stages["expired"] - stages["awaiting_acceptance"] >= timedelta(days=30)
    record = await stack.registry.get_customer_relationship(RESELLER, str(CUSTOMER))
    assert record is not None and record.status is CustomerInvitationStage.EXPIRED


async def test_joint_invitation_accepted_then_mca_attested_is_active(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    client = time_env.client
    async with stack.worker(client):
        handle = await start_invitation(client, invitation_request())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)

        with pytest.raises(WorkflowUpdateFailedError) as wrong_customer:
            await update(
                handle,
                names.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED,
                _accepted(customer_tenant_id="00000000-0000-4000-8000-000000000009"),
                Acknowledgement,
            )
        assert isinstance(wrong_customer.value.cause, ApplicationError)
        assert wrong_customer.value.cause.type == "DecisionInvalid"
        with pytest.raises(WorkflowUpdateFailedError) as too_early:
            await update(
                handle, names.UPDATE_ATTEST_CUSTOMER_AGREEMENT, agreement(), Acknowledgement
            )
        assert isinstance(too_early.value.cause, ApplicationError)
        assert too_early.value.cause.type == "WrongStage"

        ack = await update(
            handle,
            names.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED,
            _accepted(),
            Acknowledgement,
        )
        assert ack.message == "indirect-reseller-relationship-accepted-by-customer recorded"
        # The other event for the same acceptance (a joint invitation creates both) is a no-op.
        again = await update(
            handle, names.UPDATE_RESELLER_RELATIONSHIP_ACCEPTED, _accepted(), Acknowledgement
        )
        assert "already recorded" in again.message

        await wait_for_stage(
            handle, CustomerInvitationStage.AWAITING_CUSTOMER_AGREEMENT, CustomerInvitationStatus
        )
        await eventually(
            lambda: stack.registry.get_customer_relationship(RESELLER, str(CUSTOMER)),
            lambda record: record is not None and record.status.is_accepted,
        )

        with pytest.raises(WorkflowUpdateFailedError) as future:
            await update(
                handle,
                names.UPDATE_ATTEST_CUSTOMER_AGREEMENT,
                agreement(accepted_at="2999-01-01T00:00:00Z"),
                Acknowledgement,
            )
        assert isinstance(future.value.cause, ApplicationError)
        assert "after now" in future.value.cause.message
        await update(handle, names.UPDATE_ATTEST_CUSTOMER_AGREEMENT, agreement(), Acknowledgement)
        result = await handle.result()

    assert result.outcome is CustomerInvitationStage.ACTIVE
    record = await stack.registry.get_customer_relationship(RESELLER, str(CUSTOMER))
    assert record is not None
    assert record.status is CustomerInvitationStage.ACTIVE
    assert record.kind is InvitationKind.JOINT and record.provider_partner_id == PROVIDER
    assert record.acceptance_event == "indirect-reseller-relationship-accepted-by-customer"
    mca = await stack.registry.get_customer_agreement(str(CUSTOMER))
    assert mca is not None and mca.signer_name == "Taro Suzuki"


async def test_reseller_only_invitation_without_mca_ends_mca_pending(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)  # no partnership needed for a reseller-only invitation
    client = time_env.client
    async with stack.worker(client):
        handle = await start_invitation(
            client, invitation_request(kind="reseller_only", provider_partner_id=None)
        )
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        await update(
            handle, names.UPDATE_RESELLER_RELATIONSHIP_ACCEPTED, _accepted(), Acknowledgement
        )
        result = await handle.result()
        status = await _status(handle)
    assert result.outcome is CustomerInvitationStage.MCA_PENDING
    assert "CUS-04" in (result.reason or "")
    assert "invType=ResellerRelationship" in bodies(stack.sink)[0]
    stages = {change.stage: change.at for change in status.history}
    waited = stages["mca_pending"] - stages["awaiting_customer_agreement"]
    assert timedelta(days=30) <= waited < timedelta(days=30, minutes=1)
    record = await stack.registry.get_customer_relationship(RESELLER, str(CUSTOMER))
    assert record is not None and record.status is CustomerInvitationStage.MCA_PENDING
    assert record.provider_partner_id is None


async def test_a_customer_with_an_attested_mca_is_active_on_acceptance(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER, UNSIGNED_RESELLER))
    client = time_env.client
    async with stack.worker(client):
        first = await start_invitation(client, invitation_request())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        await update(
            first, names.UPDATE_RESELLER_RELATIONSHIP_ACCEPTED, _accepted(), Acknowledgement
        )
        await wait_for_stage(
            first, CustomerInvitationStage.AWAITING_CUSTOMER_AGREEMENT, CustomerInvitationStatus
        )
        await update(first, names.UPDATE_ATTEST_CUSTOMER_AGREEMENT, agreement(), Acknowledgement)
        assert (await first.result()).outcome is CustomerInvitationStage.ACTIVE

        def sign(data: dict[str, Any]) -> None:  # MPA-02: a reseller transacts once signed
            data["agreements"][UNSIGNED_RESELLER] = {"isAgreementSigned": True}

        stack.edit_partner_center(sign)
        second = await start_invitation(
            client, invitation_request(reseller_partner_id=UNSIGNED_RESELLER)
        )
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await update(
            second, names.UPDATE_RESELLER_RELATIONSHIP_ACCEPTED, _accepted(), Acknowledgement
        )
        result = await second.result()
        history = [change.stage for change in (await _status(second)).history]
    assert result.outcome is CustomerInvitationStage.ACTIVE
    assert "awaiting_customer_agreement" not in history


async def test_a_pending_invitation_can_be_withdrawn(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack, partnerships=(RESELLER,))
    async with stack.worker(time_env.client):
        handle = await start_invitation(time_env.client, invitation_request())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        await update(
            handle,
            names.UPDATE_WITHDRAW,
            {"reason": "wrong contact", "requested_by": "sales"},
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is CustomerInvitationStage.WITHDRAWN


@pytest.mark.parametrize(
    ("partnerships", "overrides", "error_type", "words"),
    [
        # SELF-02: the invited tenant is the reseller's own CSP tenant.
        ((RESELLER,), {"customer_tenant_id": str(RESELLER_TENANT)}, "SelfDealing", "SELF-02"),
        ((RESELLER,), {"customer_partner_id": RESELLER}, "SelfDealing", "SELF-01"),
        ((RESELLER,), {"customer_is_affiliate": True}, "SelfDealing", "affiliate"),
        (
            (RESELLER, UNSIGNED_RESELLER),
            {"customer_partner_id": UNSIGNED_RESELLER},
            "SelfDealing",
            "SELF-03",
        ),
        ((RESELLER,), {"customer_country": "US"}, "RegionMismatch", "is in US"),
        ((), {}, "PartnershipNotActive", "there is no partnership"),
        ((US_RESELLER,), {"reseller_partner_id": US_RESELLER}, "RegionMismatch", "REG-01"),
        ((), {"reseller_partner_id": "6345678"}, "ResellerNotOnboarded", "ResellerEnrollment"),
    ],
)
async def test_prechecks_refuse(
    time_env: WorkflowEnvironment,
    stack: Stack,
    partnerships: tuple[str, ...],
    overrides: dict[str, Any],
    error_type: str,
    words: str,
) -> None:
    await prepare(stack, partnerships=partnerships)
    async with stack.worker(time_env.client):
        handle = await start_invitation(time_env.client, invitation_request(**overrides))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == error_type and cause.non_retryable
    assert words in cause.message
    assert stack.sink.messages() == []


@pytest.mark.parametrize(
    ("unsigned", "words"),
    [
        (UNSIGNED_RESELLER, f"PartnerID {UNSIGNED_RESELLER} cannot transact new business yet"),
        (PROVIDER, f"provider {PROVIDER} has not signed the Microsoft Partner Agreement"),
    ],
    ids=["reseller", "provider"],
)
async def test_a_joint_invitation_needs_both_partners_ready_to_transact(
    time_env: WorkflowEnvironment, stack: Stack, unsigned: str, words: str
) -> None:
    """ENR-09 / MPA-02 (seed 001: the reseller transacts once onboarded, enrolled and the
    Microsoft Partner Agreement is signed) and MPA-01 for the provider itself: a joint
    invitation with a reseller or a provider whose MPA is unsigned is refused before any email."""
    await prepare(stack, partnerships=(RESELLER, UNSIGNED_RESELLER))

    def unsign(data: dict[str, Any]) -> None:
        data["agreements"][unsigned] = {"isAgreementSigned": False}

    stack.edit_partner_center(unsign)
    async with stack.worker(time_env.client):
        reseller = UNSIGNED_RESELLER if unsigned == UNSIGNED_RESELLER else RESELLER
        handle = await start_invitation(
            time_env.client, invitation_request(reseller_partner_id=reseller)
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "MpaNotSigned"
    assert words in cause.message
    assert stack.sink.messages() == []
