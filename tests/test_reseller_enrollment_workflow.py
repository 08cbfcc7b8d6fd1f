"""The reseller enrollment pipeline on the time-skipping test server: timers take seconds."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import text_of
from contract import names
from domain.email_verification import EmailVerificationResult, ResendVerification
from domain.messages import Withdrawal
from domain.reseller_enrollment import EnrollmentStage, MpaSignatureReport, ResellerStatus
from tests.conftest import JP_PARTNER, UNSIGNED_PARTNER, UNSIGNED_TENANT, Stack, application
from tests.enrollment_driver import (
    decide,
    latest_token,
    links_recorded,
    start_enrollment,
    status,
    subjects,
    verify,
)


async def test_enrollment_runs_to_active(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        token = await latest_token(stack.sink, 1)
        assert (await status(handle)).stage is EnrollmentStage.EMAIL_VERIFICATION
        await verify(client, workflow_id, token)
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "approve")
        result = await handle.result()

    assert result.outcome is EnrollmentStage.ACTIVE
    assert subjects(stack.sink) == [
        "Confirm your email address for your CSP reseller enrollment",
        "Your CSP reseller enrollment is under review",
        "Your CSP reseller enrollment is approved",
        "Your CSP reseller account is active",
    ]
    record = await stack.registry.get_reseller(JP_PARTNER)
    assert record is not None
    assert record.status is ResellerStatus.ACTIVE
    assert record.country == "JP"
    assert record.ir_authorized_at is not None and record.mpa_signed_at is not None


async def test_unverified_email_abandons_after_30_days(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        result = await handle.result()
        history = {change.stage: change.at for change in (await status(handle)).history}

    assert result.outcome is EnrollmentStage.ABANDONED
    assert "not verified" in (result.reason or "")
    waited = history[EnrollmentStage.ABANDONED] - history[EnrollmentStage.EMAIL_VERIFICATION]
    assert timedelta(days=30) - timedelta(seconds=1) <= waited < timedelta(days=30, minutes=1)
    assert subjects(stack.sink) == [
        "Confirm your email address for your CSP reseller enrollment",
        "Your CSP reseller enrollment has lapsed",
    ]
    record = await stack.registry.get_reseller(JP_PARTNER)
    assert record is not None and record.status is ResellerStatus.ABANDONED


async def test_resend_waits_one_business_day_and_supersedes_the_old_link(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """ENR-06: "resend allowed after 1 business day", business days being weekdays in the
    business time zone (DB-07), which the enrollment's policy hands to its verification child."""
    stack.settings = stack.settings.model_copy(update={"business_time_zone": "Asia/Tokyo"})
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        first = await latest_token(stack.sink, 1)
        await links_recorded(client, workflow_id, 1)
        child = client.get_workflow_handle(names.email_verification_id(workflow_id))

        with pytest.raises(WorkflowUpdateFailedError) as too_soon:
            await child.execute_update(
                names.UPDATE_RESEND_VERIFICATION, ResendVerification(requested_by="ops")
            )
        assert isinstance(too_soon.value.cause, ApplicationError)
        assert too_soon.value.cause.type == "ResendTooSoon"
        assert "can be resent from" in too_soon.value.cause.message
        assert "business day(s), weekdays in Asia/Tokyo" in too_soon.value.cause.message

        await time_env.sleep(timedelta(days=3, hours=1))  # one business day, whatever the weekday
        await child.execute_update(
            names.UPDATE_RESEND_VERIFICATION, ResendVerification(requested_by="ops")
        )
        second = await latest_token(stack.sink, 2)
        await links_recorded(client, workflow_id, 2)
        assert second != first

        with pytest.raises(WorkflowUpdateFailedError) as superseded:
            await verify(client, workflow_id, first)
        assert isinstance(superseded.value.cause, ApplicationError)
        assert superseded.value.cause.type == "TokenInvalid"

        await verify(client, workflow_id, second)
        verification = await client.get_workflow_handle(
            child.id, result_type=EmailVerificationResult
        ).result()
        assert verification.verified and verification.links_sent == 2
        await stack.sink.wait_for_messages(3, timeout_seconds=30)
        assert (await status(handle)).stage is EnrollmentStage.REVIEW
        await handle.execute_update(
            names.UPDATE_WITHDRAW, Withdrawal(reason="duplicate", requested_by="ops")
        )
        result = await handle.result()
    assert result.outcome is EnrollmentStage.WITHDRAWN


async def test_review_reminders_then_rejection(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await time_env.sleep(timedelta(days=7))
        reminders = [m for m in stack.sink.messages() if "Reminder" in str(m["Subject"])]
        assert len(reminders) == 2
        assert all(str(m["To"]) == "ops@csp.example" for m in reminders)

        with pytest.raises(WorkflowUpdateFailedError) as no_reason:
            await handle.execute_update(
                names.UPDATE_DECIDE_REVIEW,
                {"decision": "reject", "decided_by": "review-backend"},
            )
        assert "reason" in str(no_reason.value.cause)
        await decide(handle, "reject", "the company's legal name does not match its registration")
        result = await handle.result()

    assert result.outcome is EnrollmentStage.REJECTED
    assert result.reason == "the company's legal name does not match its registration"
    rejection = stack.sink.messages()[-1]
    assert "legal name does not match" in text_of(rejection)
    record = await stack.registry.get_reseller(JP_PARTNER)
    assert record is not None and record.status is ResellerStatus.REJECTED


async def test_review_without_decision_abandons_at_deadline(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        result = await handle.result()
    assert result.outcome is EnrollmentStage.ABANDONED
    assert "no review decision" in (result.reason or "")
    # 30 days with a reminder every 3 days: reminders on days 3..27, none at the deadline itself.
    assert sum("Reminder" in s for s in subjects(stack.sink)) == 9


UNSIGNED_ID = names.reseller_enrollment_id(UNSIGNED_PARTNER)


def _unsigned_application() -> dict[str, object]:
    return application(partner_id=UNSIGNED_PARTNER, tenant_id=str(UNSIGNED_TENANT))


async def test_unsigned_mpa_abandons_after_its_window(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, UNSIGNED_ID, _unsigned_application())
        await verify(client, UNSIGNED_ID, await latest_token(stack.sink, 1))
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "approve")
        result = await handle.result()
    assert result.outcome is EnrollmentStage.ABANDONED
    assert result.error_type == "MpaNotSigned"
    assert "Action needed: sign the Microsoft Partner Agreement" in subjects(stack.sink)
    record = await stack.registry.get_reseller(UNSIGNED_PARTNER)
    assert record is not None and record.ir_authorized_at is not None
    assert record.mpa_signed_at is None


async def test_reported_mpa_signature_is_rechecked_and_activates(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, UNSIGNED_ID, _unsigned_application())
        await verify(client, UNSIGNED_ID, await latest_token(stack.sink, 1))
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "approve")
        await stack.sink.wait_for_messages(4, timeout_seconds=30)  # approved, sign MPA
        assert (await status(handle)).stage is EnrollmentStage.MPA_SIGNATURE

        stack.edit_partner_center(
            lambda d: d["agreements"].update({UNSIGNED_PARTNER: {"isAgreementSigned": True}})
        )
        await handle.execute_update(
            names.UPDATE_REPORT_MPA_SIGNED, MpaSignatureReport(reported_by="pc-webhook")
        )
        result = await handle.result()
    assert result.outcome is EnrollmentStage.ACTIVE


@pytest.mark.parametrize(
    ("overrides", "error_type"),
    [
        ({"partner_id": "9999999"}, "PartnerIdNotFound"),
        ({"partner_id": "7654321"}, "RegionMismatch"),
        ({"global_admin": "someone.else@contoso.onmicrosoft.com"}, "NotGlobalAdmin"),
        ({"tenant_id": "00000000-0000-4000-8000-000000000000"}, "TenantNotFound"),
    ],
)
async def test_prechecks_refuse_with_a_stable_error_type(
    time_env: WorkflowEnvironment,
    stack: Stack,
    overrides: dict[str, str],
    error_type: str,
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(
            client,
            names.reseller_enrollment_id(overrides.get("partner_id", JP_PARTNER)),
            application(**overrides),
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == error_type
    assert cause.non_retryable
    assert subjects(stack.sink) == ["Your CSP reseller enrollment was not accepted"]
    record = await stack.registry.get_reseller(overrides.get("partner_id", JP_PARTNER))
    assert record is not None and record.status is ResellerStatus.REJECTED


async def test_region_mismatch_names_both_regions(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    async with stack.worker(time_env.client):
        handle = await start_enrollment(
            time_env.client,
            names.reseller_enrollment_id("7654321"),
            application(partner_id="7654321"),
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    message = str(failure.value.cause)
    assert "registered in US" in message and "tenant is in JP" in message


async def test_already_active_partner_is_refused_without_touching_its_record(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """Issue 12: a start for an active PartnerID is refused as `AlreadyEnrolling`; the refusal
    writes nothing to the active partner's record (status, tenure dates) and mails nobody."""
    client = time_env.client
    async with stack.worker(client):
        first = await start_enrollment(client, workflow_id, application(already_in_csp=True))
        assert (await first.result()).outcome is EnrollmentStage.ACTIVE
        active = await stack.registry.get_reseller(JP_PARTNER)
        mails_before = subjects(stack.sink)
        again = await start_enrollment(client, workflow_id, application())
        with pytest.raises(WorkflowFailureError) as failure:
            await again.result()
    assert isinstance(failure.value.cause, ApplicationError)
    assert failure.value.cause.type == "AlreadyEnrolling"
    after = await stack.registry.get_reseller(JP_PARTNER)
    assert active is not None and after == active
    assert after.status is ResellerStatus.ACTIVE and after.active_since is not None
    assert after.ir_authorized_at is not None and after.mpa_signed_at is not None
    assert subjects(stack.sink) == mails_before == ["Your CSP reseller account is active"]


async def test_a_second_start_for_a_running_enrollment_is_refused_by_temporal(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """One pipeline per PartnerID: the same business id while the first runs is refused at the
    start (workflow id conflict policy FAIL); the running pipeline goes on untouched."""
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        await latest_token(stack.sink, 1)
        with pytest.raises(WorkflowAlreadyStartedError):
            await start_enrollment(client, workflow_id, application())
        assert (await status(handle)).stage is EnrollmentStage.EMAIL_VERIFICATION
        assert len(stack.sink.messages()) == 1
        await handle.terminate("test done")


async def test_an_enrollment_under_another_id_fails_at_once_and_writes_nothing(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, f"enroll-{JP_PARTNER}-copy", application())
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.non_retryable
    assert cause.type == "WorkflowIdMismatch"
    assert names.reseller_enrollment_id(JP_PARTNER) in cause.message
    assert f"enroll-{JP_PARTNER}-copy" in cause.message
    assert await stack.registry.get_reseller(JP_PARTNER) is None
    assert stack.sink.messages() == []


async def test_short_path_for_a_partner_already_in_csp(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    async with stack.worker(time_env.client):
        handle = await start_enrollment(
            time_env.client, workflow_id, application(already_in_csp=True)
        )
        result = await handle.result()
        stages = [change.stage for change in (await status(handle)).history]
    assert result.outcome is EnrollmentStage.ACTIVE
    assert EnrollmentStage.EMAIL_VERIFICATION not in stages
    assert EnrollmentStage.REVIEW not in stages
    assert subjects(stack.sink) == ["Your CSP reseller account is active"]


async def test_short_path_needs_partner_centers_evidence_not_the_flag(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    # UNSIGNED_PARTNER has a profile but no indirect-reseller account (agreementstatus 2204).
    app = application(
        partner_id=UNSIGNED_PARTNER, tenant_id=str(UNSIGNED_TENANT), already_in_csp=True
    )
    async with stack.worker(time_env.client):
        handle = await start_enrollment(time_env.client, UNSIGNED_ID, app)
        await latest_token(stack.sink, 1)  # the verification email: the full path
        assert (await status(handle)).stage is EnrollmentStage.EMAIL_VERIFICATION
        await handle.terminate("test done")


async def test_tenant_created_during_enrollment(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    app = application(tenant_id=None, new_tenant_domain="contosojp")
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, app)
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "approve")
        assert (await handle.result()).outcome is EnrollmentStage.ACTIVE
    record = await stack.registry.get_reseller(JP_PARTNER)
    assert record is not None and record.tenant_id is not None
    tenant = await stack.partner_center.get_tenant(uuid.UUID(record.tenant_id))
    assert tenant.default_domain == "contosojp.onmicrosoft.com"


async def test_malformed_input_fails_the_workflow_instead_of_retrying(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    bad = application()
    bad["primary_contact"]["is_employee"] = False
    async with stack.worker(client):
        handle = await client.start_workflow(
            names.RESELLER_ENROLLMENT, bad, id=workflow_id, task_queue=names.TASK_QUEUE
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert "primary contact must be an employee" in str(failure.value.cause)
    assert stack.sink.messages() == []


async def test_an_approved_reseller_signing_after_its_mpa_window_is_completed_by_a_report(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """ENR-09 / MPA-01 (DOMAIN.md section 2: the reseller transacts once the Microsoft Partner
    Agreement is signed; issue 13: "an approved reseller that signs the MPA after its 30-day
    window can be completed by a later report without enrolling again"): 40 days after the
    approval the reseller signs and a report completes the same enrollment."""
    client = time_env.client
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(client):
            handle = await start_enrollment(client, UNSIGNED_ID, _unsigned_application())
            await verify(client, UNSIGNED_ID, await latest_token(stack.sink, 1))
            await stack.sink.wait_for_messages(2, timeout_seconds=30)
            await decide(handle, "approve")
            await stack.sink.wait_for_messages(4, timeout_seconds=30)  # approved, sign MPA
            first = await status(handle)
            assert first.deadline is not None
            await time_env.sleep(timedelta(days=40))
            late = await status(handle)
            assert late.stage is EnrollmentStage.MPA_SIGNATURE
            assert late.deadline is not None and late.deadline > first.deadline

            stack.edit_partner_center(
                lambda d: d["agreements"].update({UNSIGNED_PARTNER: {"isAgreementSigned": True}})
            )
            await handle.execute_update(
                names.UPDATE_REPORT_MPA_SIGNED, MpaSignatureReport(reported_by="pc-webhook")
            )
            result = await handle.result()
    assert result.outcome is EnrollmentStage.ACTIVE
    record = await stack.registry.get_reseller(UNSIGNED_PARTNER)
    assert record is not None and record.status is ResellerStatus.ACTIVE
