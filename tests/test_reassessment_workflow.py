"""The monthly re-assessment sweep on the time-skipping server, called as the schedule would."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
)
from temporalio.converter import decode_search_attributes
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import subject_of, text_of
from adapters.partner_programs.local import ttm_revenue_entry
from contract import names
from domain.calendar import add_months_to_date, start_of_day
from domain.direct_bill import DirectBillRegistryStatus
from domain.reassessment import (
    DueKind,
    ReassessmentRequest,
    ReassessmentStage,
    ReassessmentStatus,
)
from domain.reassessment_rules import month_of
from tests.conftest import Stack
from tests.direct_bill_driver import db_application, start_direct_bill, wait_until_running
from tests.reassessment_fixtures import Partner, renewal_payload, seed, start_sweep
from tests.test_direct_bill_rules import questionnaire

TOKYO = ZoneInfo("Asia/Tokyo")
PASSES = Partner("5100001", revenue_usd="1000000.00")
REVENUE_SHORT = Partner("5100002", revenue_usd="999999.99")
NO_ANSWER = Partner("5100003")
PLAN_NOT_RENEWED = Partner("5100004")
SECURITY_ONLY = Partner("5100005")
YEARLY = Partner("5300001")
NOTHING = frozenset(
    f"{category}.{name}"
    for category, names_ in {
        "sell": ["certified_staff", "dedicated_sales_team", "managed_services"],
        "secure": ["mfa_enforced", "compliance_resources"],
        "support": ["ticketing_and_escalation", "certified_support_staff", "sla_metrics"],
    }.items()
    for name in names_
)
"""Capabilities answered "no": the local scoring fails these answers."""
PASSING_NOTICE = {
    "passed": True,
    "decided_by": "microsoft-partner-assessment",
    "score": "82/100",
}  # each test its own PGAs: the time-skipping server is shared


@pytest.fixture
def workflow_id() -> str:
    """A manual sweep's id: the sweep's business id and a suffix (as a schedule's timestamp)."""
    return f"{names.SWEEP_WORKFLOW_ID}-test"


async def _at_stage(client: Client, workflow_id: str, stage: ReassessmentStage) -> None:
    await wait_until_running(client, workflow_id)
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(400):
        current = await handle.query(names.QUERY_STATUS, result_type=ReassessmentStatus)
        if current.stage is stage:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{workflow_id} never reached {stage}")


async def _answer(client: Client, pga_id: str, month: date, *, renew: bool) -> None:
    workflow_id = names.reassessment_id(pga_id, "JP", month.year)
    await _at_stage(client, workflow_id, ReassessmentStage.QUESTIONNAIRE)
    handle = client.get_workflow_handle(workflow_id)
    await handle.execute_update(names.UPDATE_SUBMIT_REASSESSMENT, questionnaire().model_dump())
    await _at_stage(client, workflow_id, ReassessmentStage.SCORE_NOTICE)
    await handle.execute_update(names.UPDATE_REPORT_PASSING_SCORE, PASSING_NOTICE)
    if renew:
        await _at_stage(client, workflow_id, ReassessmentStage.PLAN_RENEWAL)
        await handle.execute_update(names.UPDATE_REPORT_PLAN_RENEWAL, renewal_payload(month))


async def test_a_month_of_reassessments_and_transitions(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    due = [PASSES, REVENUE_SHORT, NO_ANSWER, PLAN_NOT_RENEWED]
    await seed(
        stack, month, [Partner(p.pga_id, p.revenue_usd, renewal_month=month.month) for p in due]
    )
    await seed(stack, month, [Partner(SECURITY_ONLY.pga_id, anniversary_month=month.month)])
    await seed(stack, month, [Partner("5100006")])  # due in another month
    # Time moves only when the test says so: the test server otherwise skips ahead freely
    # while a result is awaited, and the cooldown checked below is relative to "now".
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(client):
            sweep = await start_sweep(client, month, workflow_id)
            await _answer(client, PASSES.pga_id, month, renew=True)
            await _answer(client, PLAN_NOT_RENEWED.pga_id, month, renew=False)
            await time_env.sleep(timedelta(days=75))  # past the questionnaire and renewal deadlines
            summary = await sweep.result()

            assert summary.model_dump() == {
                "month": month,
                "due": 5,
                "started": 5,
                "already_done": 0,
                "passed": 2,
                "failed": 3,
                "errors": 0,
                "unfinished": 0,
            }
            # The sweep starts each re-assessment with its partner and region set: found from
            # its first event on, before any upsert of its own.
            run = client.get_workflow_handle(names.reassessment_id(PASSES.pga_id, "JP", month.year))
            first = (await run.fetch_history()).events[0]
            started = first.workflow_execution_started_event_attributes.search_attributes
            assert decode_search_attributes(started)[names.SA_PARTNER_ID.name] == [PASSES.pga_id]
            assert decode_search_attributes(started)[names.SA_REGION.name] == ["JP"]
            # A failed partner's direct-bill application is refused until the cooldown ends.
            refused = await start_direct_bill(
                client,
                names.direct_bill_id(REVENUE_SHORT.pga_id, "JP"),
                db_application(pga_id=REVENUE_SHORT.pga_id),
            )
            with pytest.raises(WorkflowFailureError) as failure:
                await refused.result()
            assert isinstance(failure.value.cause, ApplicationError)
            assert failure.value.cause.type == "CooldownActive"

            # The same month again: nobody is re-assessed twice (REJECT_DUPLICATE business ids).
            again = await (await start_sweep(client, month, f"{workflow_id}-again")).result()
            assert (again.due, again.started, again.already_done) == (2, 0, 2)

    passed = await stack.registry.get_direct_bill(PASSES.pga_id, "JP")
    assert passed is not None and passed.status is DirectBillRegistryStatus.ACTIVE
    assert passed.next_reassessment_due == date(month.year + 1, month.month, 1)
    assert passed.support_plan_contract_id == "PSfP-renewed"
    for partner, reason in [
        (REVENUE_SHORT, "USD 999,999.99"),
        (NO_ANSWER, "questionnaire: not submitted"),
        (PLAN_NOT_RENEWED, "premium support plan: not renewed"),
    ]:
        record = await stack.registry.get_direct_bill(partner.pga_id, "JP")
        assert record is not None
        assert record.status is DirectBillRegistryStatus.INDIRECT_RESELLER
        assert record.status_reason is not None and reason in record.status_reason
        cooldown = await stack.registry.get_cooldown(partner.pga_id)
        assert cooldown is not None and cooldown.reason.startswith("transition")
        [mail] = [
            m
            for m in stack.sink.messages()
            if str(m["To"]) == f"contact-{partner.pga_id}@partner.example"
            and "transition" in subject_of(m)
        ]
        assert reason in text_of(mail)
    security = await stack.registry.get_direct_bill(SECURITY_ONLY.pga_id, "JP")
    assert security is not None and security.status is DirectBillRegistryStatus.ACTIVE


async def test_a_year_later_the_partner_is_due_again(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    await seed(stack, month, [Partner(YEARLY.pga_id, renewal_month=month.month)])
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(client):
            first = await start_sweep(client, month, workflow_id)
            await _answer(client, YEARLY.pga_id, month, renew=True)
            assert (await first.result()).passed == 1

            await time_env.sleep(timedelta(days=365))
            next_year = date(month.year + 1, month.month, 1)
            # DB-03: the partner program states a current figure for the new year.
            today = (await time_env.get_current_time()).date()

            def current_figure(data: dict[str, Any]) -> None:
                revenue = data["partners"][YEARLY.pga_id]["ttmRevenue"]
                data["partners"][YEARLY.pga_id]["ttmRevenue"] = ttm_revenue_entry(
                    revenue["tenants"], today
                )

            stack.edit_partner_programs(current_figure)
            second = await start_sweep(client, next_year, f"{workflow_id}-next-year")
            await _answer(client, YEARLY.pga_id, next_year, renew=True)
            summary = await second.result()
    assert (summary.due, summary.started, summary.passed) == (1, 1, 1)
    record = await stack.registry.get_direct_bill(YEARLY.pga_id, "JP")
    assert record is not None
    assert record.next_reassessment_due == date(month.year + 2, month.month, 1)


async def test_security_revalidation_failure_transitions(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    await seed(
        stack, month, [Partner("5200001", anniversary_month=month.month, admins_without_mfa=1)]
    )
    async with stack.worker(client):
        summary = await (await start_sweep(client, month, workflow_id)).result()
    assert (summary.started, summary.failed) == (1, 1)
    record = await stack.registry.get_direct_bill("5200001", "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.INDIRECT_RESELLER
    assert record.status_reason is not None and "1 admin(s) without MFA" in record.status_reason
    # DB-04: the failure stayed open through the remediation period (with reminders) first.
    sent = [subject_of(m) for m in stack.sink.messages()]
    opened = next(i for i, t in enumerate(sent) if t.startswith("Security re-validation failed"))
    ended = next(i for i, t in enumerate(sent) if t.startswith("Direct bill in JP ends"))
    reminders = [t for t in sent[opened:ended] if t.startswith("Reminder: security remediation")]
    assert opened < ended and len(reminders) == 4  # days 7, 14, 21, 28 of 30


async def test_a_plan_renewal_not_later_than_the_one_on_record_is_refused_state_unchanged(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """RA-01 (seed 004: "パートナーのプレミアム サポート プラン契約の更新 (合格評価スコアの通知に
    従う)"): a renewal is a contract renewing later than the one on record; a report dated on
    (or before) the recorded renewal date is refused with that date, the state unchanged, and a
    real renewal is then accepted."""
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    pga = "5300002"
    await seed(stack, month, [Partner(pga, renewal_month=month.month)])
    on_record = date(month.year, month.month, 28)
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(client):
            sweep = await start_sweep(client, month, workflow_id)
            reassessment_id = names.reassessment_id(pga, "JP", month.year)
            await _at_stage(client, reassessment_id, ReassessmentStage.QUESTIONNAIRE)
            handle = client.get_workflow_handle(reassessment_id)
            await handle.execute_update(
                names.UPDATE_SUBMIT_REASSESSMENT, questionnaire().model_dump()
            )
            await _at_stage(client, reassessment_id, ReassessmentStage.SCORE_NOTICE)
            await handle.execute_update(names.UPDATE_REPORT_PASSING_SCORE, PASSING_NOTICE)
            await _at_stage(client, reassessment_id, ReassessmentStage.PLAN_RENEWAL)
            stale = renewal_payload(month)
            stale["plan"]["renewal_date"] = on_record.isoformat()
            with pytest.raises(WorkflowUpdateFailedError) as refused:
                await handle.execute_update(names.UPDATE_REPORT_PLAN_RENEWAL, stale)
            cause = refused.value.cause
            assert isinstance(cause, ApplicationError) and cause.type == "PlanRenewalNotLater"
            assert f"not later than the renewal on record ({on_record.isoformat()})" in (
                cause.message
            )
            status = await handle.query(names.QUERY_STATUS, result_type=ReassessmentStatus)
            assert status.stage is ReassessmentStage.PLAN_RENEWAL
            await handle.execute_update(names.UPDATE_REPORT_PLAN_RENEWAL, renewal_payload(month))
            summary = await sweep.result()
    assert (summary.passed, summary.failed) == (1, 0)
    record = await stack.registry.get_direct_bill(pga, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.ACTIVE
    assert record.support_plan_renewal_date == date(month.year + 1, month.month, 28)


async def test_microsofts_score_notice_decides_and_the_local_score_is_advice(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """RA-01 (seed 004: "パートナーのプレミアム サポート プラン契約の更新 (合格評価スコアの通知に
    従う)"; DOMAIN.md RA-01: "The passing score is Microsoft's notice; ... A locally computed
    score may be shown as advice, never decide"): answers the local scoring passes, then
    Microsoft's notice says not passed -> the partner fails with Microsoft's reason; and a
    partner whose local score fails but whose notice passes goes on to the plan renewal."""
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    failing, passing = "5300003", "5300004"
    await seed(stack, month, [Partner(p, renewal_month=month.month) for p in (failing, passing)])
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(client):
            sweep = await start_sweep(client, month, workflow_id)
            for pga, answers, notice in (
                (failing, questionnaire(), {"passed": False, "decided_by": "ms", "reason": "Sell"}),
                (passing, questionnaire(NOTHING), PASSING_NOTICE),
            ):
                reassessment_id = names.reassessment_id(pga, "JP", month.year)
                await _at_stage(client, reassessment_id, ReassessmentStage.QUESTIONNAIRE)
                handle = client.get_workflow_handle(reassessment_id)
                advice = await handle.execute_update(
                    names.UPDATE_SUBMIT_REASSESSMENT, answers.model_dump()
                )
                await _at_stage(client, reassessment_id, ReassessmentStage.SCORE_NOTICE)
                ack = await handle.execute_update(names.UPDATE_REPORT_PASSING_SCORE, notice)
                assert "is advice only" in ack["message"]
                assert advice["passed"] is (pga == failing)
            passing_id = names.reassessment_id(passing, "JP", month.year)
            await _at_stage(client, passing_id, ReassessmentStage.PLAN_RENEWAL)
            await client.get_workflow_handle(passing_id).execute_update(
                names.UPDATE_REPORT_PLAN_RENEWAL, renewal_payload(month)
            )
            # RA-04: the failed partner's transition waits for its choice of provider.
            await time_env.sleep(timedelta(days=31))
            summary = await sweep.result()
    assert (summary.passed, summary.failed) == (1, 1)
    failed = await stack.registry.get_direct_bill(failing, "JP")
    assert failed is not None and failed.status_reason is not None
    assert "Microsoft's score notice says not passed: Sell" in failed.status_reason
    kept = await stack.registry.get_direct_bill(passing, "JP")
    assert kept is not None and kept.status is DirectBillRegistryStatus.ACTIVE


async def test_a_failed_security_revalidation_opens_a_remediation_period(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """DB-04 (seed 004: "必須のセキュリティ要件への準拠は、パートナーの元の CSP オンボードの記念日の
    月に毎年検証されます。"; DOMAIN.md open points: "A failed yearly security re-validation (DB-04)
    opens a remediation period (30 days) with reminders; only a failure still open at its end
    starts the transition"): a remediation reported while the admin still lacks MFA is checked
    and does not close the failure; once MFA is on, the next report closes it and the partner
    stays direct bill."""
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    pga = "5200002"
    await seed(stack, month, [Partner(pga, anniversary_month=month.month, admins_without_mfa=1)])
    reassessment_id = names.reassessment_id(pga, "JP", month.year, security_only=True)
    with time_env.auto_time_skipping_disabled():
        async with stack.worker(client):
            sweep = await start_sweep(client, month, workflow_id)
            await _at_stage(client, reassessment_id, ReassessmentStage.SECURITY_REMEDIATION)
            handle = client.get_workflow_handle(reassessment_id)
            await time_env.sleep(timedelta(days=8))  # one reminder
            report = {"reported_by": "partner-security-team"}
            await handle.execute_update(names.UPDATE_REPORT_SECURITY_REMEDIATED, report)
            for _ in range(200):
                status = await handle.query(names.QUERY_STATUS, result_type=ReassessmentStatus)
                if status.security_rechecks == 1:
                    break
                await asyncio.sleep(0.05)
            assert status.stage is ReassessmentStage.SECURITY_REMEDIATION
            [security] = [c for c in status.checks if c.rule == "DB-04"]
            assert not security.passed and "1 admin(s) without MFA" in security.figure

            def mfa_on(data: dict[str, Any]) -> None:
                data["partners"][pga]["securityRequirements"]["adminsRequiredNotUsingMfaCount"] = 0

            stack.edit_partner_programs(mfa_on)
            await handle.execute_update(names.UPDATE_REPORT_SECURITY_REMEDIATED, report)
            summary = await sweep.result()
    assert (summary.passed, summary.failed) == (1, 0)
    record = await stack.registry.get_direct_bill(pga, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.ACTIVE
    subjects_sent = [subject_of(m) for m in stack.sink.messages()]
    assert any(s.startswith("Security re-validation failed (JP)") for s in subjects_sent)
    assert any(s.startswith("Reminder: security remediation due") for s in subjects_sent)


async def test_a_stale_revenue_figure_is_unknown_in_the_reassessment(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """RA-01 with DB-03 (seed 004: "組織では、前の 12 か月間に、PGA レベルで CSP プログラムの
    トランザクション収益が少なくとも 100 万米ドル必要です。"): the re-assessment reads the same
    figure with its period and as-of date; stated 91 days ago (one over the 90-day limit), the
    amount is not judged: the requirement is failed as unknown, naming the as-of date."""
    client = time_env.client
    now = await time_env.get_current_time()
    month = month_of(now)
    pga = "5300005"
    stale = now.date() - timedelta(days=91)
    await seed(stack, month, [Partner(pga, renewal_month=month.month, revenue_as_of=stale)])
    async with stack.worker(client):
        summary = await (await start_sweep(client, month, workflow_id)).result()
    assert (summary.started, summary.failed) == (1, 1)
    record = await stack.registry.get_direct_bill(pga, "JP")
    assert record is not None and record.status is DirectBillRegistryStatus.INDIRECT_RESELLER
    assert record.status_reason is not None
    assert "DB-03 ttm_revenue: unknown: the TTM revenue for " in record.status_reason
    assert f"stated as of {stale.isoformat()}" in record.status_reason


async def test_a_lean_run_failing_in_its_checks_shows_the_partner_and_the_stage(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """Issue 17, `lean-steps`: the partner and the security-check stage wait for the next stage's
    upsert (a pass shows them with its outcome); a run that fails in its checks still shows
    them, in the workflow task it fails in."""
    client = time_env.client
    month = month_of(await time_env.get_current_time())
    pga = "5100007"  # no direct-bill record: the record read fails for good
    workflow_id = names.reassessment_id(pga, "JP", month.year, security_only=True)
    async with stack.worker(client):
        handle = await client.start_workflow(
            names.PARTNER_REASSESSMENT,
            ReassessmentRequest(
                pga_id=pga, region="JP", pla_id="5100009", kind=DueKind.SECURITY, month=month
            ),
            id=workflow_id,
            task_queue=names.TASK_QUEUE,
        )
        with pytest.raises(WorkflowFailureError):
            await handle.result()
        history = await handle.fetch_history()
    shown: dict[str, object] = {}
    for event in history.events:
        if event.HasField("upsert_workflow_search_attributes_event_attributes"):
            fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
            shown |= decode_search_attributes(fields)
    assert any(e.HasField("marker_recorded_event_attributes") for e in history.events)
    assert shown[names.SA_PARTNER_ID.name] == [pga]
    assert shown[names.SA_REGION.name] == ["JP"]
    assert shown[names.SA_STAGE.name] == ["reassessment_security_check"]


async def test_the_questionnaire_is_due_when_the_month_ends_in_the_business_time_zone(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """RA-01 with the open point "assessment questionnaire due by the end of the renewal month"
    and DB-07 ("treat every date rule ... as calendar dates in one configured business time
    zone"): in Asia/Tokyo the month ends at 00:00 JST on the next month's first day, nine hours
    before midnight UTC, and the run waits for the questionnaire until then, not until
    midnight UTC. The run records the zone patch (new runs); a history without it replays."""
    stack.settings = stack.settings.model_copy(update={"business_time_zone": "Asia/Tokyo"})
    client = time_env.client
    month = add_months_to_date(month_of(await time_env.get_current_time()), 1)
    pga = "5300011"
    await seed(stack, month, [Partner(pga, renewal_month=month.month)])
    workflow_id = names.reassessment_id(pga, "JP", month.year)
    async with stack.worker(client):
        await client.start_workflow(
            names.PARTNER_REASSESSMENT,
            ReassessmentRequest(
                pga_id=pga, region="JP", pla_id="5300019", kind=DueKind.RENEWAL, month=month
            ),
            id=workflow_id,
            task_queue=names.TASK_QUEUE,
        )
        await _at_stage(client, workflow_id, ReassessmentStage.QUESTIONNAIRE)
        handle = client.get_workflow_handle(workflow_id)
        status = await handle.query(names.QUERY_STATUS, result_type=ReassessmentStatus)
        await handle.terminate("test done")
    next_month = add_months_to_date(month, 1)
    assert status.deadline == datetime(next_month.year, next_month.month, 1, tzinfo=TOKYO)
    assert status.deadline == start_of_day(next_month, "Asia/Tokyo")
