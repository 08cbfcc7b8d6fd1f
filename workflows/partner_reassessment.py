"""One direct-bill partner's yearly re-assessment (RA-01) and/or security re-validation (DB-04).

security score (anniversary month) and TTM revenue (renewal month) first; then the capability
questionnaire by the end of the month, with reminders; then Microsoft's passing-score notice
(report_passing_score: Microsoft decides, the local score is shown as advice); after a
passing notice the renewed premium support plan. Every failed requirement is named; any
failure, a missing questionnaire included, starts the transition to indirect reseller (RA-02).
The outcome is reported to the sweep that started this workflow, whatever happens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import FailureError, is_cancelled_exception

from workflows import pipeline
from workflows.pipeline import StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities import ActivityRef
    from contract.activities.direct_bill import (
        CHECK_DIRECT_BILL_REVENUE,
        CHECK_DIRECT_BILL_SECURITY,
        PgaRequest,
        RevenueCheckRequest,
    )
    from contract.activities.policies import LOAD_REASSESSMENT_POLICY
    from contract.activities.reassessment import (
        CHANGE_DIRECT_BILL_STATUS,
        GET_DIRECT_BILL_RECORD,
        RecordLookup,
        StatusChange,
    )
    from domain import reassessment_rules as rules
    from domain.capability_assessment import (
        AssessmentScore,
        CapabilityQuestionnaire,
        score_assessment,
    )
    from domain.direct_bill import (
        DirectBillRecord,
        DirectBillRegistryStatus,
        EligibilityCheck,
        SupportPlan,
    )
    from domain.errors import BusinessRuleViolation
    from domain.messages import Acknowledgement
    from domain.notifications import EmailFacts, EmailKind
    from domain.reassessment import (
        PassingScoreNotice,
        PlanRenewal,
        ReassessmentOutcome,
        ReassessmentPolicy,
        ReassessmentRequest,
        ReassessmentStage,
        ReassessmentStatus,
        SecurityRemediation,
        TransitionRequest,
    )
    from workflows.transition_to_indirect import TransitionToIndirectResellerWorkflow

_In = TypeVar("_In")
_Out = TypeVar("_Out")


REMEDIATION_PATCH = "db-04-security-remediation-period"
"""DB-04: a failed security re-validation opens a remediation period before any transition.
Histories recorded before it transitioned at once and replay that way."""

SCORE_NOTICE_PATCH = "ra-01-microsoft-score-notice"
"""RA-01: after the questionnaire, wait for Microsoft's passing-score notice (the local score is
advice). Histories recorded before it decided on the local score and replay that way."""

QUESTIONNAIRE_ZONE_PATCH = "ra-01-questionnaire-due-in-business-time-zone"
"""RA-01: the questionnaire is due when the month's last day ends in the business time zone.
Histories recorded before it counted the month's end at midnight UTC, and replay that way (their
timers were set to it). Checked at the start of a run that will ask the questionnaire, before any
local activity (see pipeline.patched_unless_lean), so a security-only run records no marker."""


@workflow.defn(name=names.PARTNER_REASSESSMENT)
class PartnerReassessmentWorkflow(pipeline.DecisionSignals):
    @pipeline.init_with_input
    def __init__(self, request: ReassessmentRequest) -> None:
        self._request = request
        self._policy = ReassessmentPolicy()
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._lean_steps = False
        """The status change of a pass is a local activity, the partner and the security-check
        stage are shown with the next stage, the pass and its `Outcome` in one upsert
        (pipeline.lean_steps)."""
        self._record: DirectBillRecord | None = None
        self._stages = StageTracker(ReassessmentStage.SECURITY_CHECK, prefix="reassessment_")
        self._checks: list[EligibilityCheck] = []
        self._answers_deadline: datetime | None = None
        self._month_ends_in_business_zone = False
        self._score: AssessmentScore | None = None
        self._renewal: SupportPlan | None = None
        self._notice: PassingScoreNotice | None = None
        self._notice_awaited = False
        self._remediation: SecurityRemediation | None = None
        self._remediation_checks = 0
        self._failures: tuple[str, ...] = ()

    @workflow.run
    async def run(self, request: ReassessmentRequest) -> ReassessmentOutcome:
        pipeline.require_business_id(
            names.reassessment_id(
                request.pga_id,
                request.region,
                request.month.year,
                security_only=not request.kind.reassesses,
            )
        )
        self._lean, self._lean_steps = pipeline.lean_steps()
        if not self._lean_steps:  # lean: shown with the first stage that is shown
            pipeline.show_partner(request.pga_id, request.region)
        try:
            outcome = await self._reassess()
        except BaseException as err:
            if is_cancelled_exception(err) and pipeline.patched_unless_lean(
                pipeline.CANCELLATION_PATCH, self._lean
            ):
                await self._cancelled()
                raise asyncio.CancelledError(str(err)) from err
            if isinstance(err, FailureError):
                self._stages.show()  # lean: the partner and the stage the run failed in
                await self._report(self._outcome(passed=False, error=str(err)))
            raise
        await self._report(outcome)
        return outcome

    def _read(self, activity: ActivityRef[_In, _Out], arg: _In) -> Coroutine[Any, Any, _Out]:
        """A read with the step's timeout: a local activity once the run took
        pipeline.lean_lookups, a normal activity in histories recorded before."""
        return pipeline.lookup(
            activity, arg, local=self._lean, start_to_close=pipeline.STEP_TIMEOUT
        )

    async def _reassess(self) -> ReassessmentOutcome:
        request = self._request
        if request.kind.reassesses:
            self._month_ends_in_business_zone = workflow.patched(QUESTIONNAIRE_ZONE_PATCH)
        checks = "the security and revenue checks"
        if self._lean_steps:
            # Entered first, shown with the next stage: the reads are local activities, so a
            # pass leaves this stage in the workflow task it was entered in (one upsert for the
            # partner, the outcome stage and `Outcome`); a failure shows it (run).
            partner = pipeline.partner_attributes_not_set(request.pga_id, request.region)
            self._stages.enter(
                ReassessmentStage.SECURITY_CHECK, checks, None, also=partner, show=False
            )
        self._policy = await pipeline.load_policy(LOAD_REASSESSMENT_POLICY, local=self._lean)
        self._record = await self._read(
            GET_DIRECT_BILL_RECORD, RecordLookup(pga_id=request.pga_id, region=request.region)
        )
        pga = PgaRequest(pga_id=request.pga_id)
        lookups: list[Coroutine[Any, Any, EligibilityCheck]] = []
        if request.kind.revalidates_security:
            lookups.append(self._read(CHECK_DIRECT_BILL_SECURITY, pga))
        if request.kind.reassesses:
            revenue = RevenueCheckRequest(
                pga_id=request.pga_id,
                as_of=workflow.now(),
                business_time_zone=self._policy.business_time_zone,
                max_age_days=self._policy.revenue_max_age_days,
            )
            lookups.append(self._read(CHECK_DIRECT_BILL_REVENUE, revenue))
        if not self._lean_steps:
            self._stages.enter(ReassessmentStage.SECURITY_CHECK, checks, None)
        self._checks = await pipeline.reads(lookups, local=self._lean)
        security_failed = any(c.rule == "DB-04" and not c.passed for c in self._checks)
        if security_failed and pipeline.patched_unless_lean(REMEDIATION_PATCH, self._lean):
            await self._security_remediation(pga)
        passed = False
        if request.kind.reassesses and all(c.passed for c in self._checks):
            await self._questionnaire()
            if pipeline.patched_unless_lean(SCORE_NOTICE_PATCH, self._lean):
                # RA-01: Microsoft's passing-score notice decides; the local score is advice.
                self._notice_awaited = True
                if self._score is not None:
                    await self._await_score_notice()
                passed = self._notice is not None and self._notice.passed
            else:
                passed = self._score is not None and self._score.passed
            if passed:
                await self._plan_renewal()
        failures = rules.reassessment_failures(
            score=self._score,
            questionnaire_deadline=self._answers_deadline,
            checks=self._checks,
            plan_required=passed,
            plan_ok=rules.plan_renewed(
                self._record.support_plan_renewal_date if self._record else None, self._renewal
            ),
            notice_awaited=self._notice_awaited,
            notice=self._notice,
        )
        if failures:
            return await self._transition(failures)
        return await self._pass()

    async def _questionnaire(self) -> None:
        zone_name = self._policy.business_time_zone if self._month_ends_in_business_zone else "UTC"
        deadline = rules.questionnaire_deadline(self._request.month, workflow.now(), zone_name)
        self._answers_deadline = deadline
        self._stages.enter(
            ReassessmentStage.QUESTIONNAIRE,
            "the re-assessment questionnaire (submit_reassessment)",
            deadline,
        )
        await self._email(EmailKind.RA_QUESTIONNAIRE, "questionnaire", deadline=deadline)
        reminders = 0
        while self._score is None:
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return
            try:
                await workflow.wait_condition(
                    lambda: self._score is not None,
                    timeout=min(remaining, self._policy.questionnaire_reminder_interval),
                    timeout_summary="re-assessment questionnaire",
                )
            except TimeoutError:
                if workflow.now() < deadline:
                    reminders += 1
                    await self._email(
                        EmailKind.RA_QUESTIONNAIRE_REMINDER,
                        f"questionnaire-reminder-{reminders}",
                        deadline=deadline,
                    )

    async def _security_remediation(self, pga: PgaRequest) -> None:
        """DB-04: a failed security re-validation opens a remediation period with reminders;
        a reported remediation is checked against the security score again. Only a failure
        still open at the period's end counts (and then starts the transition)."""
        period = self._policy.security_remediation_period
        deadline = workflow.now() + period
        self._stages.enter(
            ReassessmentStage.SECURITY_REMEDIATION,
            "the security failure to be remediated (report_security_remediated)",
            deadline,
        )
        failed = next(c for c in self._checks if c.rule == "DB-04" and not c.passed)
        await self._email(
            EmailKind.RA_SECURITY_REMEDIATION,
            "remediation",
            reason=failed.message,
            deadline=deadline,
        )
        reminders = 0
        while True:
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                return
            try:
                await workflow.wait_condition(
                    lambda: self._remediation is not None,
                    timeout=min(remaining, self._policy.security_remediation_reminder_interval),
                    timeout_summary="security remediation",
                )
            except TimeoutError:
                if workflow.now() < deadline:
                    reminders += 1
                    await self._email(
                        EmailKind.RA_SECURITY_REMEDIATION_REMINDER,
                        f"remediation-reminder-{reminders}",
                        reason=failed.message,
                        deadline=deadline,
                    )
                continue
            check = await self._read(CHECK_DIRECT_BILL_SECURITY, pga)
            self._remediation_checks += 1
            self._remediation = None
            self._checks = [check if c.rule == "DB-04" else c for c in self._checks]
            if check.passed:
                return
            failed = check

    async def _await_score_notice(self) -> None:
        wait = self._policy.score_notice_wait
        self._stages.enter(
            ReassessmentStage.SCORE_NOTICE,
            "Microsoft's passing-score notice (report_passing_score)",
            workflow.now() + wait,
        )
        try:
            await workflow.wait_condition(
                lambda: self._notice is not None,
                timeout=wait,
                timeout_summary="Microsoft's passing-score notice",
            )
        except TimeoutError:
            return

    async def _plan_renewal(self) -> None:
        deadline = workflow.now() + self._policy.plan_renewal_grace
        self._stages.enter(
            ReassessmentStage.PLAN_RENEWAL,
            "the renewed premium support plan (report_support_plan_renewal)",
            deadline,
        )
        await self._email(EmailKind.RA_PASSING_SCORE, "passing-score", deadline=deadline)
        try:
            await workflow.wait_condition(
                lambda: self._renewal is not None,
                timeout=self._policy.plan_renewal_grace,
                timeout_summary="support plan renewal",
            )
        except TimeoutError:
            return

    async def _pass(self) -> ReassessmentOutcome:
        request = self._request
        next_due = rules.next_due(request.month) if request.kind.reassesses else None
        change = StatusChange(
            pga_id=request.pga_id,
            region=request.region,
            status=DirectBillRegistryStatus.ACTIVE,
            reason=f"{request.kind.value} re-assessment passed in {request.month:%Y-%m}",
            next_reassessment_due=next_due,
            renewed_plan=self._renewal,
            updated_at=workflow.now() if self._lean_steps else None,
        )
        if self._lean_steps:
            # The activity writes the partner's whole direct-bill row with this change, stamped
            # with the workflow's time (a repeat writes the same values), and the registry keeps
            # a row with a newer `updated_at` (SqlPartnerRegistry.save_direct_bill).
            await pipeline.record(CHANGE_DIRECT_BILL_STATUS, change, local=True)
            self._stages.end(ReassessmentStage.PASSED, one_upsert=True)
        else:
            await pipeline.execute(CHANGE_DIRECT_BILL_STATUS, change)
            self._stages.enter(ReassessmentStage.PASSED, None, None)
            workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("passed")])
        # Mailed before the sweep hears of the pass: a mail that fails after its retries fails
        # the run, and the sweep counts it as an error, never as passed.
        note = f"Next re-assessment: {next_due:%B %Y}." if next_due else ""
        await self._email(EmailKind.RA_PASSED, "passed", reason=note)
        return self._outcome(passed=True, next_due=next_due)

    async def _transition(self, failures: list[str]) -> ReassessmentOutcome:
        request = self._request
        self._failures = tuple(failures)
        self._stages.enter(
            ReassessmentStage.TRANSITION, "the transition to indirect reseller", None
        )
        result = await workflow.execute_child_workflow(
            TransitionToIndirectResellerWorkflow.run,
            TransitionRequest(
                pga_id=request.pga_id,
                region=request.region,
                pla_id=request.pla_id,
                reasons=tuple(failures),
                business_time_zone=self._policy.business_time_zone,
                year=request.month.year,
            ),
            id=names.transition_id(request.pga_id, request.region, request.month.year),
        )
        self._stages.enter(ReassessmentStage.FAILED, None, None)
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("transitioned")])
        return self._outcome(passed=False, cooldown_until=result.cooldown_until)

    async def _cancelled(self) -> None:
        """An operator cancelled (the Web UI's Request Cancellation): the registry keeps the
        partner's status as it was (nothing was decided), the stage, deadline and `Outcome` say
        so, and the sweep learns it, so its summary names the partner as not re-assessed."""
        reason = pipeline.cancellation_reason()
        self._stages.end(ReassessmentStage.CANCELLED, note=reason)
        await self._report(self._outcome(passed=False, error=reason))

    # ---- helpers ------------------------------------------------------------------------------

    def _outcome(self, **fields: object) -> ReassessmentOutcome:
        return ReassessmentOutcome.model_validate(
            {
                "workflow_id": workflow.info().workflow_id,
                "pga_id": self._request.pga_id,
                "region": self._request.region,
                "failures": self._failures,
                **fields,
            }
        )

    async def _report(self, outcome: ReassessmentOutcome) -> None:
        sweep = self._request.sweep_workflow_id
        if sweep is None:
            return
        try:
            await workflow.get_external_workflow_handle(sweep).signal(
                names.SIGNAL_REASSESSMENT_OUTCOME, outcome
            )
        except FailureError as err:  # the sweep may be gone (terminated, or past its grace)
            workflow.logger.warning("could not report to sweep %s: %s", sweep, err)

    async def _email(
        self,
        kind: EmailKind,
        step: str,
        *,
        reason: str | None = None,
        deadline: datetime | None = None,
    ) -> None:
        record = self._record
        assert record is not None
        facts = EmailFacts(
            kind=kind,
            to=record.contact_email or self._policy.operations_email,
            partner_id=self._request.pga_id,
            recipient_name=record.contact_name or "partner",
            legal_name=record.legal_name or f"PGA {self._request.pga_id}",
            reason=reason,
            deadline=deadline,
            region=self._request.region,
        )
        await pipeline.send_email(facts, step)

    # ---- updates and query --------------------------------------------------------------------

    @workflow.update(name=names.UPDATE_SUBMIT_REASSESSMENT)
    def submit_reassessment(self, answers: CapabilityQuestionnaire) -> AssessmentScore:
        self._score = score_assessment(answers, self._policy.weights)
        return self._score

    @submit_reassessment.validator
    def _validate_answers(self, answers: CapabilityQuestionnaire) -> None:
        if self._stages.stage is not ReassessmentStage.QUESTIONNAIRE or self._score is not None:
            raise pipeline.wrong_stage(
                f"the re-assessment is at {self._stages.stage.value}, "
                "not awaiting the questionnaire"
            )

    @workflow.update(name=names.UPDATE_REPORT_SECURITY_REMEDIATED)
    def report_security_remediated(self, remediation: SecurityRemediation) -> Acknowledgement:
        self._remediation = remediation
        return Acknowledgement(
            stage=self._stages.stage.value,
            message=f"The remediation reported by {remediation.reported_by} was recorded; the "
            "security score is checked again now.",
        )

    @report_security_remediated.validator
    def _validate_remediation(self, remediation: SecurityRemediation) -> None:
        stage = self._stages.stage
        if stage is not ReassessmentStage.SECURITY_REMEDIATION or self._remediation is not None:
            raise pipeline.wrong_stage(
                f"the re-assessment is at {stage.value}; a remediation is reported while a "
                "failed security re-validation is open"
            )

    @workflow.update(name=names.UPDATE_REPORT_PASSING_SCORE)
    def report_passing_score(self, notice: PassingScoreNotice) -> Acknowledgement:
        self._notice = notice
        verdict = "passed" if notice.passed else "not passed"
        advice = (
            f" The local capability score ({self._score.total}, pass mark "
            f"{self._score.pass_mark}) is advice only."
            if self._score is not None
            else ""
        )
        return Acknowledgement(
            stage=self._stages.stage.value,
            message=f"Microsoft's score notice ({verdict}) from {notice.decided_by} was "
            f"recorded.{advice}",
        )

    @report_passing_score.validator
    def _validate_notice(self, notice: PassingScoreNotice) -> None:
        if self._stages.stage is not ReassessmentStage.SCORE_NOTICE or self._notice is not None:
            raise pipeline.wrong_stage(
                f"the re-assessment is at {self._stages.stage.value}; Microsoft's score notice "
                "is reported after the questionnaire"
            )

    @workflow.update(name=names.UPDATE_REPORT_PLAN_RENEWAL)
    def report_support_plan_renewal(self, renewal: PlanRenewal) -> Acknowledgement:
        self._renewal = renewal.plan
        return Acknowledgement(
            stage=self._stages.stage.value, message="support plan renewal recorded"
        )

    @report_support_plan_renewal.validator
    def _validate_renewal(self, renewal: PlanRenewal) -> None:
        if self._stages.stage is not ReassessmentStage.PLAN_RENEWAL or self._renewal is not None:
            raise pipeline.wrong_stage(
                f"the re-assessment is at {self._stages.stage.value}; the plan renewal is "
                "reported after a passing score"
            )
        on_record = self._record.support_plan_renewal_date if self._record else None
        try:
            rules.require_plan_renewed(on_record, renewal.plan)  # RA-01
        except BusinessRuleViolation as violation:
            raise pipeline.refuse(violation) from violation

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> ReassessmentStatus:
        return ReassessmentStatus(
            workflow_id=workflow.info().workflow_id,
            pga_id=self._request.pga_id,
            region=self._request.region,
            kind=self._request.kind,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            checks=tuple(self._checks),
            assessment=self._score,
            score_notice=self._notice,
            security_rechecks=self._remediation_checks,
            failures=self._failures,
            signal_refusals=self.signal_refusals(),
        )
