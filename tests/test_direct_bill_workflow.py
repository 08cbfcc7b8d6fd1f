"""The direct-bill application on the time-skipping test server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import text_of
from adapters.partner_programs.local import ttm_revenue_entry
from contract import names
from domain.calendar import show_instant
from domain.direct_bill import DirectBillRegistryStatus, DirectBillStage
from domain.locale import Locale, human_day
from tests.conftest import DB_PGA, DB_PLA, Stack
from tests.direct_bill_driver import (
    APPROVE,
    PLAN,
    db_application,
    db_status,
    send,
    start_direct_bill,
    through_activation,
    through_credit,
    through_decision,
    wait_stage,
)
from tests.enrollment_driver import subjects
from workflows.direct_bill_application import INFORMATION_REQUESTS_PER_APPLICATION


@pytest.fixture
def workflow_id() -> str:
    """The business-key id of the default application (one pipeline per PGA and region)."""
    return names.direct_bill_id(DB_PGA, "JP")


def _refusal(error: BaseException) -> ApplicationError:
    cause = (
        error.cause if isinstance(error, WorkflowUpdateFailedError | WorkflowFailureError) else None
    )
    assert isinstance(cause, ApplicationError), error
    return cause


async def test_full_pipeline_to_an_active_direct_bill_tenant(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, db_application())
        await through_activation(client, handle)
        result = await handle.result()
        final = await db_status(handle)

    assert result.outcome is DirectBillStage.ACTIVE
    assert [c.passed for c in final.eligibility] == [True] * 5
    assert final.assessment is not None and final.assessment.passed
    record = await stack.registry.get_direct_bill(DB_PGA, "JP")
    assert record is not None
    assert record.status is DirectBillRegistryStatus.ACTIVE
    assert record.support_plan_contract_id == "ASfP-2026-0042"
    assert record.renewal_month == 6  # the re-assessment month (RA-01)
    assert record.onboarding_anniversary_month == 1  # IR since 2024-01-15 (DB-04 clock)
    assert record.next_reassessment_due == date(2027, 6, 1)
    assert record.activated_at is not None
    assert subjects(stack.sink) == [
        "Direct-bill application for JP: requirements met",
        "Complete the direct-bill capability assessment for JP",
        "Direct-bill application for JP approved",
        "Credit review passed: purchase your support plan (JP)",
        "Accept the Microsoft Partner Agreement for direct bill (JP)",
        "Your direct-bill tenant for JP is active",
    ]


async def test_support_plan_before_credit_approval_is_refused_and_state_unchanged(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, db_application())
        await through_decision(handle)
        before = await wait_stage(handle, DirectBillStage.ENROLLMENT_FORM)

        with pytest.raises(WorkflowUpdateFailedError) as early_plan:
            await send(handle, names.UPDATE_REPORT_SUPPORT_PLAN, PLAN)
        refusal = _refusal(early_plan.value)
        assert refusal.type == "SupportPlanBeforeCreditApproval"
        assert refusal.non_retryable
        assert "only after credit approval" in refusal.message

        with pytest.raises(WorkflowUpdateFailedError) as early_mpa:
            await send(handle, names.UPDATE_REPORT_MPA_ACCEPTED, {"accepted_by": "applicant"})
        assert _refusal(early_mpa.value).type == "MpaBeforeSupportPlan"

        after = await db_status(handle)
        assert after == before
        assert after.support_plan is None

        await send(handle, names.UPDATE_WITHDRAW, {"reason": "test", "requested_by": "ops"})
        assert (await handle.result()).outcome is DirectBillStage.WITHDRAWN


async def test_mpa_deadline_expires_the_application(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, db_application())
        await through_credit(client, handle)
        await wait_stage(handle, DirectBillStage.SUPPORT_PLAN)
        await send(handle, names.UPDATE_REPORT_SUPPORT_PLAN, PLAN)
        waiting = await wait_stage(handle, DirectBillStage.MPA_ACCEPTANCE)
        result = await handle.result()
    assert result.outcome is DirectBillStage.EXPIRED
    assert waiting.deadline is not None
    # Dates in reasons are shown to the second, without microseconds (issue 13 item 2).
    assert show_instant(waiting.deadline) in (result.reason or "")
    assert "waited for the Microsoft Partner Agreement acceptance" in (result.reason or "")
    assert result.cooldown_until is None
    record = await stack.registry.get_direct_bill(DB_PGA, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.EXPIRED


async def test_an_existing_support_plan_skips_the_purchase(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    app = db_application(existing_support_plan=PLAN["plan"])
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, app)
        await through_credit(client, handle)
        await wait_stage(handle, DirectBillStage.MPA_ACCEPTANCE)
        with pytest.raises(WorkflowUpdateFailedError) as wrong:
            await send(handle, names.UPDATE_REPORT_SUPPORT_PLAN, PLAN)
        assert _refusal(wrong.value).type == "WrongStage"
        await send(handle, names.UPDATE_REPORT_MPA_ACCEPTED, {"accepted_by": "applicant"})
        assert (await handle.result()).outcome is DirectBillStage.ACTIVE


async def test_the_security_clock_month_is_the_onboarding_month_in_the_business_time_zone(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """DB-04 ("Re-validated every year in the month of the partner's original CSP onboarding
    anniversary") with DB-07's business time zone: authorised at 2024-10-31T16:00Z, which is
    2024-11-01 01:00 in Asia/Tokyo, the partner's security clock runs in November (tenure says
    "since 2024-11-01" too), not in the October of the UTC instant."""
    stack.settings = stack.settings.model_copy(update={"business_time_zone": "Asia/Tokyo"})

    def authorised_at_tokyo_midnight(data: dict[str, Any]) -> None:
        location = data["partners"][DB_PGA]["locations"][DB_PLA]
        location["irAuthorizedAt"] = "2024-10-31T16:00:00+00:00"

    stack.edit_partner_programs(authorised_at_tokyo_midnight)
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, db_application())
        await through_activation(client, handle)
        assert (await handle.result()).outcome is DirectBillStage.ACTIVE
        final = await db_status(handle)
    tenure = next(c for c in final.eligibility if c.rule == "DB-01")
    assert tenure.figure == "indirect reseller since 2024-11-01"
    record = await stack.registry.get_direct_bill(DB_PGA, "JP")
    assert record is not None and record.onboarding_anniversary_month == 11


async def test_rejection_starts_a_one_year_cooldown(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """RA-03 (seed 004: "移行したパートナーは、直接請求資格を再申請するには 1 年待つ必要があります。
    同じ待機期間は、... オンボードが承認されていない直接請求申請者にも適用されます。"; DOMAIN.md
    RA-03: "One year is a calendar year counted in dates: rejected on 2025-10-20, the partner
    may apply again
    from 2026-10-20 (any time that day)"). Rejected at some hour of day D, the re-application is
    refused one minute before D+1 year begins and accepted at 00:00 (UTC) on the anniversary
    date, hours before the hour of the rejection. The rejection email names the same date to an
    applicant reading in New York, where the cooldown's first instant (00:00 UTC) is still the
    evening before."""
    client = time_env.client
    # The cooldown is relative to now: time moves only when this test sleeps.
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(client):
            handle = await start_direct_bill(
                client, workflow_id, db_application(applicant_time_zone="America/New_York")
            )
            await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
            await send(handle, names.UPDATE_REPORT_INITIAL_REVIEW, APPROVE)
            await wait_stage(handle, DirectBillStage.ASSESSMENT)
            await send(
                handle,
                names.UPDATE_SUBMIT_ASSESSMENT,
                {**_answers(), "submitted_by": "assessor"},
            )
            await wait_stage(handle, DirectBillStage.DECISION)
            await send(
                handle,
                names.UPDATE_DECIDE_APPLICATION,
                {"decision": "reject", "reason": "support capability", "decided_by": "ms"},
            )
            rejected = await handle.result()
            assert rejected.outcome is DirectBillStage.REJECTED
            assert rejected.cooldown_until is not None
            assert "Reason: rejected in the application decision" in subjects_body(stack)

            again = await start_direct_bill(client, workflow_id, db_application())
            with pytest.raises(WorkflowFailureError) as refused:
                await again.result()
            refusal = _refusal(refused.value)
            assert refusal.type == "CooldownActive"
            anniversary = rejected.cooldown_until
            assert (anniversary.hour, anniversary.minute, anniversary.microsecond) == (0, 0, 0)
            assert (
                f"apply again from {anniversary.date().isoformat()} (any time that day, UTC)"
                in (refusal.message)
            )
            allowed_on = human_day(anniversary.date(), Locale.EN)
            assert f"A new application is possible from {allowed_on}." in subjects_body(stack)

            now = await time_env.get_current_time()
            await time_env.sleep(anniversary - now - timedelta(minutes=1))
            eve = await start_direct_bill(client, workflow_id, db_application())
            with pytest.raises(WorkflowFailureError) as still_refused:
                await eve.result()
            assert _refusal(still_refused.value).type == "CooldownActive"

            await time_env.sleep(timedelta(minutes=1))
            # DB-03: a year on, the partner program states a current revenue figure.
            today = (await time_env.get_current_time()).date()

            def current_figure(data: dict[str, dict[str, dict[str, Any]]]) -> None:
                partner = data["partners"][DB_PGA]
                partner["ttmRevenue"] = ttm_revenue_entry(partner["ttmRevenue"]["tenants"], today)

            stack.edit_partner_programs(current_figure)
            after_a_year = await start_direct_bill(client, workflow_id, db_application())
            await wait_stage(after_a_year, DirectBillStage.INITIAL_REVIEW)
            await send(after_a_year, names.UPDATE_WITHDRAW, {"reason": "t", "requested_by": "o"})
            assert (await after_a_year.result()).outcome is DirectBillStage.WITHDRAWN


def _answers() -> dict[str, object]:
    from tests.test_direct_bill_rules import questionnaire

    return questionnaire().model_dump(exclude={"submitted_by"})


def subjects_body(stack: Stack) -> str:
    return "\n".join(text_of(m) for m in stack.sink.messages())


async def test_our_eligibility_refusal_reports_every_failure_and_starts_no_cooldown(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    def weaken(data: dict[str, dict[str, dict[str, object]]]) -> None:
        partner = data["partners"][DB_PGA]
        partner["ttmRevenue"] = ttm_revenue_entry(
            [{"tenantId": "t-1", "cloudUsd": "999999.99", "perpetualSoftwareUsd": "0"}],
            datetime.now(UTC).date(),
        )
        partner["securityRequirements"] = {
            "adminsRequiredNotUsingMfaCount": 1,
            "securityContactProvided": True,
            "securityAlertsPromptlyResolved": True,
        }

    stack.edit_partner_programs(weaken)
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, db_application())
        with pytest.raises(WorkflowFailureError) as refused:
            await handle.result()
    refusal = _refusal(refused.value)
    assert refusal.type == "EligibilityNotMet"
    assert "USD 999,999.99" in refusal.message and "1 admin(s) without MFA" in refusal.message
    assert await stack.registry.get_cooldown(DB_PGA) is None
    record = await stack.registry.get_direct_bill(DB_PGA, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.REFUSED
    assert subjects(stack.sink) == ["Direct-bill application for JP cannot proceed"]


async def test_the_window_gate_refuses_without_touching_the_registry(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    now = await time_env.get_current_time()
    closure = f"{(now - timedelta(days=1)).isoformat()}/{(now + timedelta(days=30)).isoformat()}"
    stack.settings = stack.settings.model_copy(update={"db_window_closures": closure})
    async with stack.worker(time_env.client):
        handle = await start_direct_bill(time_env.client, workflow_id, db_application())
        with pytest.raises(WorkflowFailureError) as refused:
            await handle.result()
    assert _refusal(refused.value).type == "ApplicationWindowClosed"
    assert await stack.registry.get_direct_bill(DB_PGA, "JP") is None


async def test_a_window_given_as_dates_in_the_business_zone_gates_without_a_crash(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """DB-07 (seed 004: "2025 年 5 月 1 日から 2025 年 10 月 1 日までの間、新しい直接請求申請は
    受け付けられません。"; DOMAIN.md DB-07: "a setting given without a zone means that zone, never a
    crash"): closure dates without a zone, read in Asia/Tokyo, refuse the application with the
    reopening date in words."""
    now = await time_env.get_current_time()
    start, end = (now - timedelta(days=2)).date(), (now + timedelta(days=30)).date()
    stack.settings = stack.settings.model_copy(
        update={"db_window_closures": f"{start}/{end}", "business_time_zone": "Asia/Tokyo"}
    )
    async with stack.worker(time_env.client):
        handle = await start_direct_bill(time_env.client, workflow_id, db_application())
        with pytest.raises(WorkflowFailureError) as refused:
            await handle.result()
    refusal = _refusal(refused.value)
    assert refusal.type == "ApplicationWindowClosed"
    assert f"apply from {end.isoformat()}" in refusal.message and "Asia/Tokyo" in refusal.message


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"applicant_email": "sales@contoso.example"}, "is not a Global admin of tenant"),
        ({"tenant_id": None}, "names the partner's CSP tenant (tenant_id)"),
    ],
    ids=["not-an-admin-of-the-tenant", "no-tenant-named"],
)
async def test_the_applicants_global_admin_role_is_verified_not_trusted(
    time_env: WorkflowEnvironment,
    stack: Stack,
    workflow_id: str,
    overrides: dict[str, object],
    words: str,
) -> None:
    """Seed 004 ("適切なロール: グローバル管理者"; DOMAIN.md DB-02, and ENR-02 for how the
    reseller enrollment checks it): an applicant declaring the Global admin role is checked
    against the tenant in Partner Center, as the reseller enrollment does; a declared role alone
    is refused."""
    async with stack.worker(time_env.client):
        handle = await start_direct_bill(time_env.client, workflow_id, db_application(**overrides))
        with pytest.raises(WorkflowFailureError) as refused:
            await handle.result()
    refusal = _refusal(refused.value)
    assert refusal.type in {"NotGlobalAdmin", "ApplicantNotGlobalAdmin"}
    assert words in refusal.message
    assert await stack.registry.get_direct_bill(DB_PGA, "JP") is None


async def test_information_request_pauses_then_expires(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, db_application())
        await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
        await send(
            handle,
            names.UPDATE_REQUEST_INFORMATION,
            {"question": "Send your 2025 audited revenue statement", "requested_by": "ms"},
        )
        paused = await wait_stage(handle, DirectBillStage.INFORMATION_REQUESTED)
        assert paused.open_information_request == "Send your 2025 audited revenue statement"
        with pytest.raises(WorkflowUpdateFailedError) as while_paused:
            await send(handle, names.UPDATE_REPORT_INITIAL_REVIEW, APPROVE)
        assert _refusal(while_paused.value).type == "WrongStage"

        await send(
            handle,
            names.UPDATE_ANSWER_INFORMATION,
            {"answer": "attached", "answered_by": "applicant"},
        )
        resumed = await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
        assert resumed.open_information_request is None
        await send(
            handle,
            names.UPDATE_REQUEST_INFORMATION,
            {"question": "And the 2024 one", "requested_by": "ms"},
        )
        result = await handle.result()
    assert result.outcome is DirectBillStage.EXPIRED
    assert "request for information was not answered" in (result.reason or "")


async def test_assessment_reminders_then_expiry(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, db_application())
        await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
        await send(handle, names.UPDATE_REPORT_INITIAL_REVIEW, APPROVE)
        result = await handle.result()
    assert result.outcome is DirectBillStage.EXPIRED
    reminders = [s for s in subjects(stack.sink) if s.startswith("Reminder")]
    assert len(reminders) == 4  # every 7 days of a 30-day window: days 7, 14, 21, 28


@pytest.mark.parametrize(
    ("age_days", "passes"), [(90, True), (91, False)], ids=["at-limit", "over"]
)
async def test_a_revenue_figure_at_the_age_limit_counts_and_one_day_older_is_refused(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str, age_days: int, passes: bool
) -> None:
    """DB-03 (seed 004: "組織では、前の 12 か月間に、PGA レベルで CSP プログラムのトランザクション
    収益が少なくとも 100 万米ドル必要です。"): the application reads the figure with its period and
    as-of date; stated exactly `revenue_max_age_days` (90) days before today it is judged on its
    amount, one day older it is unknown and the application is refused, not passed."""
    with time_env.auto_time_skipping_disabled():
        today = (await time_env.get_current_time()).date()
        as_of = today - timedelta(days=age_days)

        def dated(data: dict[str, dict[str, dict[str, Any]]]) -> None:
            partner = data["partners"][DB_PGA]
            partner["ttmRevenue"] = ttm_revenue_entry(partner["ttmRevenue"]["tenants"], as_of)

        stack.edit_partner_programs(dated)
        client = time_env.client
        async with stack.worker(client):
            handle = await start_direct_bill(client, workflow_id, db_application())
            if passes:
                status = await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
            else:
                with pytest.raises(WorkflowFailureError) as refused:
                    await handle.result()
    if passes:
        [revenue] = [c for c in status.eligibility if c.rule == "DB-03"]
        assert revenue.passed and revenue.error_type is None
        assert revenue.figure.endswith(f", as of {as_of.isoformat()}")
        assert "USD 1,000,000.00 over 2 CSP tenant(s) for " in revenue.figure
        return
    refusal = _refusal(refused.value)
    assert refusal.type == "EligibilityNotMet"
    assert "DB-03 RevenueFigureStale: unknown" in refusal.message
    assert f"stated as of {as_of.isoformat()}" in refusal.message
    [failure] = refusal.details[0]["failures"]
    assert "beyond the limit of 90 day(s)" in failure["message"]
    assert "ask the partner program for a current figure" in failure["message"]
    assert await stack.registry.get_cooldown(DB_PGA) is None


async def test_information_requests_are_bounded_so_the_history_is(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """Issue 12: every request pauses the review and moves its deadline; without a bound the
    request/answer rounds could grow the history forever."""
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, workflow_id, db_application())
        await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
        for n in range(INFORMATION_REQUESTS_PER_APPLICATION):
            question = {"question": f"Document {n}", "requested_by": "ms"}
            await send(handle, names.UPDATE_REQUEST_INFORMATION, question)
            await wait_stage(handle, DirectBillStage.INFORMATION_REQUESTED)
            answer = {"answer": "attached", "answered_by": "applicant"}
            await send(handle, names.UPDATE_ANSWER_INFORMATION, answer)
            await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
        with pytest.raises(WorkflowUpdateFailedError) as limited:
            await send(
                handle,
                names.UPDATE_REQUEST_INFORMATION,
                {"question": "One more", "requested_by": "ms"},
            )
        refusal = _refusal(limited.value)
        assert refusal.type == "DecisionLimitReached"
        assert f"{INFORMATION_REQUESTS_PER_APPLICATION} information requests" in refusal.message
        await send(handle, names.UPDATE_REPORT_INITIAL_REVIEW, APPROVE)
        await wait_stage(handle, DirectBillStage.ASSESSMENT)
        await send(handle, names.UPDATE_WITHDRAW, {"reason": "t", "requested_by": "o"})
        assert (await handle.result()).outcome is DirectBillStage.WITHDRAWN
