"""The partnership pipeline on the time-skipping server: request, reminders and expiry, acceptance
by update or by Partner Center's relationships list, suspension (POR-04) and removal (END-01/02)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
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
    NOT_ENROLLED,
    PARTNERSHIP_LINK,
    PROVIDER,
    RESELLER,
    UNSIGNED_RESELLER,
    US_RESELLER,
    attestations,
    bodies,
    partnership_request,
    prepare,
    start_partnership,
    subjects,
    update,
)

OTHER_CUSTOMER = "0b6e5d4c-3a2b-4c1d-8e9f-a0b1c2d3e4f5"


async def _status(handle: object) -> PartnershipStatus:
    status: PartnershipStatus = await handle.query(  # type: ignore[attr-defined]
        names.QUERY_STATUS, result_type=PartnershipStatus
    )
    return status


async def test_request_expires_after_30_days_with_reminders_on_days_7_and_14(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)
    async with stack.worker(time_env.client):
        handle = await start_partnership(time_env.client, partnership_request())
        result = await handle.result()
        status = await _status(handle)

    assert result.outcome is PartnershipStage.EXPIRED
    assert "did not accept" in (result.reason or "") and "2 reminder(s)" in (result.reason or "")
    assert subjects(stack.sink) == [
        "Tokyo Cloud Distribution K.K. requests a CSP indirect partnership with your company",
        "Reminder: Tokyo Cloud Distribution K.K. awaits your CSP partnership acceptance",
        "Reminder: Tokyo Cloud Distribution K.K. awaits your CSP partnership acceptance",
        f"Partnership request to PartnerID {RESELLER} lapsed",
    ]
    messages = stack.sink.messages()
    assert [str(m["To"]) for m in messages[:3]] == ["partners@contoso.example"] * 3
    assert str(messages[3]["To"]) == "ops@csp.example"
    request_body, first_reminder = bodies(stack.sink)[:2]
    # REL-03: the text is the requester's, the link Partner Center's, byte for byte.
    assert "We look forward to serving Japanese customers together." in request_body
    assert PARTNERSHIP_LINK in request_body and PARTNERSHIP_LINK in first_reminder

    stages = {change.stage: change.at for change in status.history}
    waited = stages["expired"] - stages["awaiting_acceptance"]
    assert timedelta(days=30) <= waited < timedelta(days=30, minutes=1)
    assert status.reminders_sent == 2
    record = await stack.registry.get_partnership(PROVIDER, RESELLER)
    assert record is not None and record.status is PartnershipStage.EXPIRED
    assert record.ended_at is not None


async def _customer(reseller: str, customer: str) -> CustomerRelationshipRecord:
    now = datetime.now(UTC)
    return CustomerRelationshipRecord(
        reseller_partner_id=reseller,
        customer_tenant_id=customer,
        kind=InvitationKind.JOINT,
        provider_partner_id=PROVIDER,
        customer_country="JP",
        status=CustomerInvitationStage.ACTIVE,
        workflow_id=f"customer-invitation-{reseller}-{customer}",
        invited_at=now,
        accepted_at=now,
        updated_at=now,
    )


async def test_accepted_suspended_reinstated_then_removed_with_customers_untouched(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)
    customers = [
        await _customer(RESELLER, str(CUSTOMER)),
        await _customer(RESELLER, OTHER_CUSTOMER),
    ]
    for customer in customers:
        await stack.registry.save_customer_relationship(customer)
    client = time_env.client
    async with stack.worker(client):
        handle = await start_partnership(client, partnership_request())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        with pytest.raises(WorkflowUpdateFailedError) as too_early:
            await update(
                handle,
                names.UPDATE_REMOVE_PARTNERSHIP,
                {
                    "requested_by": {"user": "ops", "role": "admin_agent"},
                    "reason": "x",
                    "attestations": attestations(),
                },
                Acknowledgement,
            )
        assert isinstance(too_early.value.cause, ApplicationError)
        assert too_early.value.cause.type == "WrongStage"

        await update(
            handle,
            names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
            {"reported_by": "reseller-success-team"},
            Acknowledgement,
        )
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        status = await _status(handle)
        assert status.stage is PartnershipStage.ACTIVE
        assert status.accepted_via == "reported by reseller-success-team"
        partnership = await stack.registry.get_partnership(PROVIDER, RESELLER)
        assert partnership is not None and partnership.status is PartnershipStage.ACTIVE

        # POR-04: the suspension is recorded with its consequence on every customer.
        ack = await update(
            handle,
            names.UPDATE_REPORT_RESELLER_SUSPENDED,
            {"reported_by": "pc-webhook", "reason": "non-payment"},
            Acknowledgement,
        )
        assert "GDAP) revoked on 2 customer(s)" in ack.message
        assert (await _status(handle)).stage is PartnershipStage.RESELLER_SUSPENDED
        suspension = await stack.registry.get_reseller_suspension(RESELLER)
        assert suspension is not None and suspension.in_force
        for revoked in await stack.registry.list_customer_relationships(str(CUSTOMER)):
            assert revoked.gdap_revoked_at is not None
            assert revoked.status is CustomerInvitationStage.ACTIVE
        assert "Reseller PartnerID 1234567: tenant suspended" in subjects(stack.sink)

        ack = await update(
            handle,
            names.UPDATE_REPORT_RESELLER_REINSTATED,
            {"reported_by": "pc-webhook", "reason": "paid"},
            Acknowledgement,
        )
        assert "reinstated" in ack.message
        assert (await _status(handle)).stage is PartnershipStage.ACTIVE
        suspension = await stack.registry.get_reseller_suspension(RESELLER)
        assert suspension is not None and not suspension.in_force

        # END-02: one attestation false, or the wrong role, changes nothing.
        for requested_by, attested, error_type in [
            ({"user": "ops", "role": "sales_agent"}, attestations(good_faith=False), None),
            ({"user": "desk", "role": "helpdesk_agent"}, attestations(), "RoleForbidden"),
            ({"user": "ga", "role": "global_admin"}, attestations(), "RoleForbidden"),
        ]:
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await update(
                    handle,
                    names.UPDATE_REMOVE_PARTNERSHIP,
                    {"requested_by": requested_by, "reason": "x", "attestations": attested},
                    Acknowledgement,
                )
            cause = refused.value.cause
            assert isinstance(cause, ApplicationError)
            assert cause.type == (error_type or "AttestationMissing")
            if error_type is None:
                assert "good_faith" in cause.message
        assert (await _status(handle)).stage is PartnershipStage.ACTIVE

        ack = await update(
            handle,
            names.UPDATE_REMOVE_PARTNERSHIP,
            {
                "requested_by": {"user": "sales@tokyo-cloud.example", "role": "sales_agent"},
                "reason": "the reseller left the Japanese market",
                "attestations": attestations(),
            },
            Acknowledgement,
        )
        assert "delegated admin privileges are unchanged" in ack.message
        result = await handle.result()

    assert result.outcome is PartnershipStage.REMOVED
    assert "sales_agent" in (result.reason or "")
    removed = await stack.registry.get_partnership(PROVIDER, RESELLER)
    assert removed is not None and removed.status is PartnershipStage.REMOVED
    # END-01: the customers are still there, unchanged but for the POR-04 mark.
    after = await stack.registry.list_customer_relationships(str(CUSTOMER))
    assert [r.model_copy(update={"gdap_revoked_at": None}) for r in after] == [customers[0]]
    assert subjects(stack.sink)[-1] == f"Partnership with PartnerID {RESELLER} removed"
    assert "legal notice" in bodies(stack.sink)[-1]


async def test_acceptance_found_on_the_relationships_list(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)
    client = time_env.client
    async with stack.worker(client):
        handle = await start_partnership(client, partnership_request())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        await time_env.sleep(timedelta(days=2))
        assert (await _status(handle)).stage is PartnershipStage.AWAITING_ACCEPTANCE
        stack.edit_partner_center(
            lambda d: d["relationships"].update({PROVIDER: {RESELLER: {"state": "Active"}}})
        )
        await time_env.sleep(timedelta(days=1, minutes=1))
        status = await _status(handle)
        assert status.stage is PartnershipStage.ACTIVE
        assert status.accepted_via == "found on Partner Center's relationships list"
        assert status.reminders_sent == 0
        await update(
            handle,
            names.UPDATE_REMOVE_PARTNERSHIP,
            {
                "requested_by": {"user": "ops", "role": "admin_agent"},
                "reason": "test over",
                "attestations": attestations(),
            },
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is PartnershipStage.REMOVED


async def test_a_pending_request_can_be_withdrawn(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)
    async with stack.worker(time_env.client):
        handle = await start_partnership(time_env.client, partnership_request())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        await update(
            handle,
            names.UPDATE_WITHDRAW,
            {"reason": "sent to the wrong reseller", "requested_by": "ops"},
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is PartnershipStage.WITHDRAWN
    record = await stack.registry.get_partnership(PROVIDER, RESELLER)
    assert record is not None and record.status is PartnershipStage.WITHDRAWN


@pytest.mark.parametrize(
    ("overrides", "error_type", "words"),
    [
        (
            {"requested_by": {"user": "s", "role": "sales_agent"}},
            "RoleForbidden",
            "only an Admin agent",
        ),
        ({"reseller_partner_id": NOT_ENROLLED}, "ResellerNotOnboarded", "ResellerEnrollment"),
        ({"reseller_partner_id": US_RESELLER}, "RegionMismatch", "is in US"),
        ({"reseller_partner_id": "9999999"}, "PartnerIdNotFound", "9999999"),
    ],
)
async def test_prechecks_refuse_before_anything_is_sent(
    time_env: WorkflowEnvironment,
    stack: Stack,
    overrides: dict[str, object],
    error_type: str,
    words: str,
) -> None:
    await prepare(stack)
    async with stack.worker(time_env.client):
        handle = await start_partnership(time_env.client, partnership_request(**overrides))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        status = await _status(handle)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == error_type and cause.non_retryable
    assert words in cause.message
    assert status.stage is PartnershipStage.REFUSED and status.error_type == error_type
    assert stack.sink.messages() == []
    assert (
        await stack.registry.get_partnership(
            PROVIDER, str(overrides.get("reseller_partner_id", RESELLER))
        )
        is None
    )


async def test_an_established_partnership_resumes_after_continue_as_new(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)
    accepted = datetime(2026, 1, 10, tzinfo=UTC)
    resume = {
        "stage": "reseller_suspended",
        "region": "JP",
        "provider_name": "Tokyo Cloud Distribution K.K.",
        "reseller_name": "Contoso K.K.",
        "requested_at": "2026-01-01T00:00:00Z",
        "accepted_at": accepted.isoformat(),
        "accepted_via": "reported by ops",
        "suspended_at": "2026-02-01T00:00:00Z",
    }
    async with stack.worker(time_env.client):
        handle = await start_partnership(time_env.client, partnership_request(resume=resume))
        await update(
            handle,
            names.UPDATE_REPORT_RESELLER_REINSTATED,
            {"reported_by": "ops", "reason": "reinstated"},
            Acknowledgement,
        )
        status = await _status(handle)
        assert status.stage is PartnershipStage.ACTIVE and status.accepted_at == accepted
        await update(
            handle,
            names.UPDATE_REMOVE_PARTNERSHIP,
            {
                "requested_by": {"user": "ops", "role": "admin_agent"},
                "reason": "done",
                "attestations": attestations(),
            },
            Acknowledgement,
        )
        result = await handle.result()
    assert result.outcome is PartnershipStage.REMOVED
    assert stack.sink.messages()[0]["Subject"] == f"Partnership with PartnerID {RESELLER} removed"
    record = await stack.registry.get_partnership(PROVIDER, RESELLER)
    assert record is not None and record.accepted_at == accepted


async def test_a_german_provider_partners_with_a_french_reseller_in_the_europe_region(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """REG-01 (DOMAIN.md section 6, Microsoft's regional authorization overview): "Partners can
    transact only within their CSP region" - and Germany and France are one CSP region (Europe),
    so a DE provider and an FR reseller partner; the region is not the ISO country."""
    await prepare(stack)

    def europe(data: dict[str, object]) -> None:
        profiles = data["profiles"]
        assert isinstance(profiles, dict)
        profiles[PROVIDER] = {"partnerName": "Berlin Cloud Distribution GmbH", "country": "DE"}
        profiles[RESELLER] = {"partnerName": "Contoso France SAS", "country": "FR"}

    stack.edit_partner_center(europe)
    async with stack.worker(time_env.client):
        handle = await start_partnership(time_env.client, partnership_request())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        await update(
            handle,
            names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
            {"reported_by": "reseller-success-team"},
            Acknowledgement,
        )
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        status = await _status(handle)
    assert status.stage is PartnershipStage.ACTIVE and status.error_type is None
    record = await stack.registry.get_partnership(PROVIDER, RESELLER)
    assert record is not None and record.status is PartnershipStage.ACTIVE


async def test_a_japanese_provider_cannot_partner_with_a_us_reseller_and_is_told_both_regions(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """REG-01: "Partners can transact only within their CSP region"; Japan and the United States
    are each a CSP region of their own. The refusal names both countries and both regions."""
    await prepare(stack)
    async with stack.worker(time_env.client):
        handle = await start_partnership(
            time_env.client, partnership_request(reseller_partner_id=US_RESELLER)
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "RegionMismatch"
    assert f"provider {PROVIDER} is in JP (Japan region)" in cause.message
    assert f"reseller {US_RESELLER} is in US (United States region)" in cause.message
    assert stack.sink.messages() == []


@pytest.mark.parametrize(
    ("unsigned", "reseller", "words"),
    [
        ("reseller", UNSIGNED_RESELLER, "missing Microsoft Partner Agreement signature"),
        ("provider", RESELLER, f"provider {PROVIDER} has not signed the Microsoft Partner"),
    ],
)
async def test_a_partnership_needs_both_partners_under_a_signed_mpa(
    time_env: WorkflowEnvironment, stack: Stack, unsigned: str, reseller: str, words: str
) -> None:
    """ENR-09 / MPA-02 (a reseller transacts only once onboarded, enrolled and under a signed
    Microsoft Partner Agreement) and MPA-01 for the provider's own agreement: the request is
    refused before anything is sent, naming who must sign."""
    await prepare(stack)
    if unsigned == "provider":

        def unsign(data: dict[str, Any]) -> None:
            data["agreements"][PROVIDER] = {"isAgreementSigned": False}

        stack.edit_partner_center(unsign)
    async with stack.worker(time_env.client):
        handle = await start_partnership(
            time_env.client, partnership_request(reseller_partner_id=reseller)
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "MpaNotSigned"
    assert words in cause.message
    assert stack.sink.messages() == []
