"""The direct-bill application, one per PGA and region (DOMAIN.md DB-01..DB-11, RA-03).

gate (window, cooldown, region) -> eligibility checks -> Microsoft's initial review ->
capability assessment -> Microsoft's decision -> enrollment form -> credit review (child) ->
support plan (only after credit approval) -> MPA acceptance -> tenant activation -> active.

A refusal by our own gate or eligibility checks fails the workflow with its stable error type and
starts no cooldown; a rejection by Microsoft (initial review, decision, credit) ends it `rejected`
and starts the one-year cooldown. Deadlines end it `expired`; a withdrawal ends it `withdrawn`.
Microsoft's requests for more information pause the review stages until answered or expired.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, CancelledError, ChildWorkflowError

from workflows import pipeline
from workflows.pipeline import PipelineEnded, StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities.checks import CHECK_TENANT_ADMIN, TenantCheck
    from contract.activities.direct_bill import (
        ACTIVATE_DIRECT_BILL_TENANT,
        CHECK_DIRECT_BILL_DESIGNATIONS,
        CHECK_DIRECT_BILL_PROGRAM,
        CHECK_DIRECT_BILL_REVENUE,
        CHECK_DIRECT_BILL_SECURITY,
        CHECK_DIRECT_BILL_TENURE,
        LOAD_DIRECT_BILL_GATE_FACTS,
        SAVE_DIRECT_BILL_RECORD,
        START_DIRECT_BILL_COOLDOWN,
        ActivationRequest,
        GateFactsRequest,
        PgaRequest,
        ProgramCheckRequest,
        RevenueCheckRequest,
        TenureCheckRequest,
    )
    from contract.activities.policies import LOAD_DIRECT_BILL_POLICY
    from domain import direct_bill_rules as rules
    from domain.calendar import business_date, show_instant
    from domain.capability_assessment import (
        AssessmentScore,
        CapabilityQuestionnaire,
        score_assessment,
    )
    from domain.direct_bill import (
        Cooldown,
        CreditReviewRequest,
        CreditReviewResult,
        DirectBillApplication,
        DirectBillPolicy,
        DirectBillRecord,
        DirectBillRegistryStatus,
        DirectBillResult,
        DirectBillStage,
        DirectBillStatus,
        EligibilityCheck,
        EnrollmentForm,
        InformationAnswer,
        InformationRequest,
        MicrosoftDecision,
        MpaAcceptance,
        SupportPlan,
        SupportPlanPurchase,
    )
    from domain.errors import (
        ApplicantNotGlobalAdmin,
        DecisionLimitReached,
        MpaBeforeSupportPlan,
        SupportPlanBeforeCreditApproval,
        WrongStage,
    )
    from domain.messages import Acknowledgement, Withdrawal
    from domain.notifications import EmailFacts, EmailKind, reader
    from workflows.credit_review import CreditReviewWorkflow


_REGISTRY_STATUS = {
    DirectBillStage.ACTIVE: DirectBillRegistryStatus.ACTIVE,
    DirectBillStage.REFUSED: DirectBillRegistryStatus.REFUSED,
    DirectBillStage.REJECTED: DirectBillRegistryStatus.REJECTED,
    DirectBillStage.EXPIRED: DirectBillRegistryStatus.EXPIRED,
    DirectBillStage.WITHDRAWN: DirectBillRegistryStatus.WITHDRAWN,
    DirectBillStage.CANCELLED: DirectBillRegistryStatus.CANCELLED,
}
_OUTCOME_EMAIL = {
    DirectBillStage.ACTIVE: EmailKind.DB_ACTIVE,
    DirectBillStage.REFUSED: EmailKind.DB_REFUSED,
    DirectBillStage.REJECTED: EmailKind.DB_REJECTED,
    DirectBillStage.EXPIRED: EmailKind.DB_EXPIRED,
    DirectBillStage.WITHDRAWN: EmailKind.DB_WITHDRAWN,
    DirectBillStage.CANCELLED: EmailKind.DB_CANCELLED,
}
_REVIEW_STEPS = {
    DirectBillStage.INITIAL_REVIEW,
    DirectBillStage.ASSESSMENT,
    DirectBillStage.DECISION,
}


GLOBAL_ADMIN_PATCH = "db-applicant-global-admin-verified"
"""004: the applicant's Global admin role is checked against the tenant in Partner Center.
Histories recorded before it trusted the declared role and replay that way."""


INFORMATION_REQUESTS_PER_APPLICATION = 10
"""Each request pauses the review and moves its deadline, so request/answer rounds could go on
forever, each adding to the history; past this many the next request is refused (issue 12)."""


@workflow.defn(name=names.DIRECT_BILL_APPLICATION)
class DirectBillApplicationWorkflow(pipeline.DecisionSignals):
    @pipeline.init_with_input
    def __init__(self, application: DirectBillApplication) -> None:
        self._app = application
        self._policy = DirectBillPolicy()
        self._stages = StageTracker(DirectBillStage.GATE)
        self._step = DirectBillStage.GATE  # the pipeline step; `_stage` also shows pauses
        self._registered = False
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._csp_onboarded_at: datetime | None = None
        self._eligibility: tuple[EligibilityCheck, ...] = ()
        self._initial_review: MicrosoftDecision | None = None
        self._assessment: AssessmentScore | None = None
        self._decision: MicrosoftDecision | None = None
        self._form: EnrollmentForm | None = None
        self._credit_approved = False
        self._plan: SupportPlan | None = application.existing_support_plan
        self._mpa: MpaAcceptance | None = None
        self._info_request: InformationRequest | None = None
        self._info_answer: InformationAnswer | None = None
        self._info_requests = 0
        self._withdrawal: Withdrawal | None = None
        self._ended: PipelineEnded | None = None
        self._cooldown_until: datetime | None = None
        self._activated_at: datetime | None = None
        self._child: workflow.ChildWorkflowHandle[Any, CreditReviewResult] | None = None

    # ---- the pipeline -------------------------------------------------------------------------

    @workflow.run
    async def run(self, application: DirectBillApplication) -> DirectBillResult:
        pipeline.require_business_id(names.direct_bill_id(application.pga_id, application.region))
        self._lean = pipeline.lean_lookups()
        pipeline.show_partner(application.pga_id, application.region)
        self._stages.enter(DirectBillStage.GATE, "the application gate (window, cooldown, region)")
        self._policy = await pipeline.load_policy(LOAD_DIRECT_BILL_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks,
            steps=self._steps,
            refused=DirectBillStage.REFUSED,
            finish=self._finish,
            cancelled=DirectBillStage.CANCELLED,
            lean=self._lean,
        )
        return DirectBillResult(
            pga_id=application.pga_id,
            region=application.region,
            outcome=DirectBillStage(ended.outcome),
            reason=ended.reason,
            error_type=ended.error_type,
            cooldown_until=self._cooldown_until,
        )

    async def _prechecks(self) -> None:
        """Our own gate and eligibility checks: a refusal fails the pipeline, no cooldown."""
        await self._gate()
        await self._save(DirectBillRegistryStatus.APPLYING)
        self._registered = True
        await self._check_eligibility()

    async def _steps(self) -> PipelineEnded:
        await self._email(EmailKind.DB_SUBMITTED, "submitted")
        await self._microsoft_reviews()
        await self._enrollment_form()
        await self._credit_review()
        await self._support_plan()
        await self._mpa_acceptance()
        await self._activate()
        return PipelineEnded(DirectBillStage.ACTIVE, "direct-bill tenant activated")

    async def _gate(self) -> None:
        app = self._app
        now = workflow.now()
        pipeline.enforce(rules.require_global_admin, app.applicant_role)
        if pipeline.patched_unless_lean(GLOBAL_ADMIN_PATCH, self._lean):
            # 004: only a Global admin applies; verified against the tenant, as the reseller
            # enrollment does (ENR-02), not taken from the applicant's word.
            if app.tenant_id is None:
                raise pipeline.refuse(
                    ApplicantNotGlobalAdmin(
                        "a direct-bill application names the partner's CSP tenant (tenant_id) so "
                        f"that {app.applicant_email}'s Global admin role can be verified",
                        role=app.applicant_role.value,
                    )
                )
            await pipeline.check(
                CHECK_TENANT_ADMIN,
                TenantCheck(tenant_id=app.tenant_id, global_admin=app.applicant_email),
                local=self._lean,
            )
        pipeline.enforce(
            rules.require_window_open,
            now,
            self._policy.window_closures,
            self._policy.business_time_zone,
        )
        facts = await pipeline.lookup(
            LOAD_DIRECT_BILL_GATE_FACTS,
            GateFactsRequest(pga_id=app.pga_id, region=app.region),
            local=self._lean,
        )
        pipeline.enforce(
            rules.require_no_cooldown,
            app.pga_id,
            now,
            facts.cooldown_until,
            self._policy.business_time_zone,
        )
        pipeline.enforce(
            rules.require_region_free,
            pga_id=app.pga_id,
            region=app.region,
            existing_status=facts.existing_status,
            existing_workflow_id=facts.existing_workflow_id,
            workflow_id=workflow.info().workflow_id,
        )

    async def _check_eligibility(self) -> None:
        self._stages.enter(DirectBillStage.ELIGIBILITY, "the eligibility checks (DB-01..DB-05)")
        app = self._app
        pga = PgaRequest(pga_id=app.pga_id)
        checks = await pipeline.reads(
            [
                pipeline.check(
                    CHECK_DIRECT_BILL_TENURE,
                    TenureCheckRequest(
                        pga_id=app.pga_id,
                        pla_id=app.pla_id,
                        as_of=workflow.now(),
                        business_time_zone=self._policy.business_time_zone,
                    ),
                    local=self._lean,
                ),
                pipeline.check(
                    CHECK_DIRECT_BILL_REVENUE,
                    RevenueCheckRequest(
                        pga_id=app.pga_id,
                        as_of=workflow.now(),
                        business_time_zone=self._policy.business_time_zone,
                        max_age_days=self._policy.revenue_max_age_days,
                    ),
                    local=self._lean,
                ),
                pipeline.check(CHECK_DIRECT_BILL_SECURITY, pga, local=self._lean),
                pipeline.check(CHECK_DIRECT_BILL_DESIGNATIONS, pga, local=self._lean),
                pipeline.check(
                    CHECK_DIRECT_BILL_PROGRAM,
                    ProgramCheckRequest(
                        pga_id=app.pga_id,
                        pla_id=app.pla_id,
                        region=app.region,
                        authority_to_accept_agreements=app.authority_to_accept_agreements,
                        first_level_support=app.first_level_support,
                    ),
                    local=self._lean,
                ),
            ],
            local=self._lean,
        )
        self._eligibility = tuple(checks)
        pipeline.enforce(rules.require_eligible, checks)

    async def _microsoft_reviews(self) -> None:
        """DB-08: initial requirements, then the assessment, then the decision."""
        await self._await_step(
            DirectBillStage.INITIAL_REVIEW,
            "Microsoft's check of the initial requirements (report_initial_review)",
            self._policy.initial_review_deadline,
            lambda: self._initial_review is not None,
        )
        assert self._initial_review is not None
        await self._reject_if(self._initial_review, "the initial requirements review")

        await self._email(
            EmailKind.DB_ASSESSMENT_REQUESTED,
            "assessment-requested",
            deadline=workflow.now() + self._policy.assessment_deadline,
        )
        await self._await_step(
            DirectBillStage.ASSESSMENT,
            "the capability assessment questionnaire (submit_assessment)",
            self._policy.assessment_deadline,
            lambda: self._assessment is not None,
            reminder=(self._policy.assessment_reminder_interval, EmailKind.DB_ASSESSMENT_REMINDER),
        )
        await self._await_step(
            DirectBillStage.DECISION,
            "Microsoft's decision on the application (decide_application)",
            self._policy.decision_deadline,
            lambda: self._decision is not None,
        )
        assert self._decision is not None
        await self._reject_if(self._decision, "the application decision")

    async def _enrollment_form(self) -> None:
        await self._email(
            EmailKind.DB_APPROVED,
            "approved",
            deadline=workflow.now() + self._policy.enrollment_form_deadline,
        )
        await self._await_step(
            DirectBillStage.ENROLLMENT_FORM,
            "the enrollment form (submit_enrollment_form)",
            self._policy.enrollment_form_deadline,
            lambda: self._form is not None,
        )

    async def _credit_review(self) -> None:
        self._raise_if_withdrawn()
        deadline = workflow.now() + self._policy.credit_review_deadline
        self._stages.enter(
            DirectBillStage.CREDIT_REVIEW,
            "the credit decision (decide_credit on the child)",
            deadline,
        )
        child = await workflow.start_child_workflow(
            CreditReviewWorkflow.run,
            CreditReviewRequest(
                pga_id=self._app.pga_id, region=self._app.region, deadline=deadline
            ),
            id=names.credit_review_id(workflow.info().workflow_id),
            static_summary=f"Credit review for PGA {self._app.pga_id} in {self._app.region}",
        )
        self._child = child
        await workflow.wait_condition(lambda: child.done() or self._withdrawal is not None)
        if not child.done():
            child.cancel()
            with contextlib.suppress(ChildWorkflowError, CancelledError):
                await child
            self._raise_if_withdrawn()
        result: CreditReviewResult = child.result()
        if result.outcome == "expired":
            raise PipelineEnded(DirectBillStage.EXPIRED, result.reason or "credit review expired")
        if result.outcome == "rejected":
            await self._reject(result.reason or "credit review rejected", "the credit review")
        self._credit_approved = True

    async def _support_plan(self) -> None:
        """DB-09: a premium support plan, bought after credit approval unless already held."""
        if self._plan is not None:
            return
        await self._email(
            EmailKind.DB_CREDIT_APPROVED,
            "credit-approved",
            deadline=workflow.now() + self._policy.support_plan_deadline,
        )
        await self._await_step(
            DirectBillStage.SUPPORT_PLAN,
            "the support-plan purchase (report_support_plan_purchase)",
            self._policy.support_plan_deadline,
            lambda: self._plan is not None,
        )

    async def _mpa_acceptance(self) -> None:
        await self._email(
            EmailKind.DB_ACCEPT_MPA,
            "accept-mpa",
            deadline=workflow.now() + self._policy.mpa_acceptance_deadline,
        )
        await self._await_step(
            DirectBillStage.MPA_ACCEPTANCE,
            "the Microsoft Partner Agreement acceptance (report_mpa_accepted)",
            self._policy.mpa_acceptance_deadline,
            lambda: self._mpa is not None,
        )

    async def _activate(self) -> None:
        self._raise_if_withdrawn()
        self._stages.enter(DirectBillStage.ACTIVATION, "the direct-bill tenant activation")
        activation = await pipeline.execute(
            ACTIVATE_DIRECT_BILL_TENANT,
            ActivationRequest(
                pga_id=self._app.pga_id,
                region=self._app.region,
                idempotency_key=pipeline.step_key("activate"),
            ),
        )
        self._activated_at = activation.activated_at

    # ---- waiting -------------------------------------------------------------------------------

    async def _await_step(
        self,
        step: DirectBillStage,
        waiting_for: str,
        window: timedelta,
        done: Callable[[], bool],
        *,
        reminder: tuple[timedelta, EmailKind] | None = None,
    ) -> None:
        """Wait for a human or backend step until its deadline, sending reminders; an open
        information request pauses the step and moves its deadline by the pause."""
        self._raise_if_withdrawn()
        self._step = step
        deadline = workflow.now() + window
        self._stages.enter(step, waiting_for, deadline)
        reminders = 0
        while not done():
            self._raise_if_withdrawn()
            if self._info_request is not None:
                paused_at = workflow.now()
                await self._await_information()
                deadline += workflow.now() - paused_at
                self._stages.enter(step, waiting_for, deadline)
                continue
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                raise PipelineEnded(
                    DirectBillStage.EXPIRED,
                    f"the pipeline waited for {waiting_for} until {show_instant(deadline)} and "
                    "nothing arrived",
                )
            timeout = min(remaining, reminder[0]) if reminder else remaining
            try:
                await workflow.wait_condition(
                    lambda: (
                        done() or self._withdrawal is not None or self._info_request is not None
                    ),
                    timeout=timeout,
                    timeout_summary=f"{step.value} deadline",
                )
            except TimeoutError:
                if reminder and workflow.now() < deadline:
                    reminders += 1
                    await self._email(
                        reminder[1], f"{step.value}-reminder-{reminders}", deadline=deadline
                    )
        self._raise_if_withdrawn()

    async def _await_information(self) -> None:
        request = self._info_request
        assert request is not None
        deadline = workflow.now() + self._policy.information_deadline
        self._stages.enter(
            DirectBillStage.INFORMATION_REQUESTED,
            "the applicant's answer to Microsoft's request (answer_information_request)",
            deadline,
        )
        await self._email(
            EmailKind.DB_INFORMATION_REQUESTED,
            f"information-request-{self._info_requests}",
            reason=request.question,
            deadline=deadline,
        )
        try:
            await workflow.wait_condition(
                lambda: self._info_answer is not None or self._withdrawal is not None,
                timeout=self._policy.information_deadline,
                timeout_summary="information request deadline",
            )
        except TimeoutError:
            raise PipelineEnded(
                DirectBillStage.EXPIRED,
                f"Microsoft's request for information was not answered by {show_instant(deadline)}",
            ) from None
        self._raise_if_withdrawn()
        self._info_request = None
        self._info_answer = None

    # ---- outcomes ------------------------------------------------------------------------------

    async def _reject_if(self, decision: MicrosoftDecision, what: str) -> None:
        if decision.decision == "reject":
            await self._reject(decision.reason or "rejected", what)

    async def _reject(self, reason: str, what: str) -> None:
        """Microsoft's rejection: the one-year cooldown starts now (RA-03)."""
        now = workflow.now()
        cooldown = await pipeline.execute(
            START_DIRECT_BILL_COOLDOWN,
            Cooldown(
                pga_id=self._app.pga_id,
                until=rules.cooldown_end(now, self._policy.business_time_zone),
                reason=f"direct-bill application for {self._app.region} rejected in {what}",
                started_at=now,
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )
        self._cooldown_until = cooldown.until
        raise PipelineEnded(
            DirectBillStage.REJECTED, f"rejected in {what}: {reason}", "ApplicationRejected"
        )

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        outcome = DirectBillStage(ended.outcome)
        self._stages.end(outcome)
        if outcome is DirectBillStage.CANCELLED:
            await self._cancel_child()
            if not self._registered:  # cancelled at the gate: no record of ours, nothing sent
                return
        if self._registered:  # a gate refusal must not touch another pipeline's record
            await self._save(_REGISTRY_STATUS[outcome], ended.reason)
        await self._email(
            _OUTCOME_EMAIL[outcome],
            f"outcome-{outcome.value}",
            reason=ended.reason,
            allowed_from=(
                business_date(self._cooldown_until, self._policy.business_time_zone)
                if self._cooldown_until
                else None
            ),
        )

    async def _cancel_child(self) -> None:
        """Cancel a running credit review with its parent."""
        child = self._child
        if child is None or child.done():
            return
        child.cancel()
        with contextlib.suppress(ChildWorkflowError, CancelledError, asyncio.CancelledError):
            await child

    def _raise_if_withdrawn(self) -> None:
        if self._withdrawal is not None:
            raise pipeline.withdrawn(DirectBillStage.WITHDRAWN, self._withdrawal)

    # ---- side-effect helpers -------------------------------------------------------------------

    async def _email(
        self,
        kind: EmailKind,
        step: str,
        *,
        reason: str | None = None,
        deadline: datetime | None = None,
        allowed_from: date | None = None,
    ) -> None:
        facts = EmailFacts(
            kind=kind,
            to=self._app.applicant_email,
            partner_id=self._app.pga_id,
            recipient_name=self._app.applicant_name,
            legal_name=self._app.legal_name,
            reason=reason,
            deadline=deadline,
            allowed_from=allowed_from,
            region=self._app.region,
            **reader(self._app.applicant_locale, self._app.applicant_time_zone, self._app.region),
        )
        await pipeline.send_email(facts, step)

    async def _save(self, status: DirectBillRegistryStatus, reason: str | None = None) -> None:
        plan = self._plan if status is DirectBillRegistryStatus.ACTIVE else None
        await pipeline.execute(
            SAVE_DIRECT_BILL_RECORD,
            DirectBillRecord(
                pga_id=self._app.pga_id,
                region=self._app.region,
                status=status,
                workflow_id=workflow.info().workflow_id,
                pla_id=self._app.pla_id,
                legal_name=self._app.legal_name,
                contact_name=self._app.applicant_name,
                contact_email=self._app.applicant_email,
                status_reason=reason,
                support_plan_kind=plan.kind.value if plan else None,
                support_plan_contract_id=plan.contract_id if plan else None,
                support_plan_renewal_date=plan.renewal_date if plan else None,
                renewal_month=plan.renewal_date.month if plan else None,
                onboarding_anniversary_month=self._onboarding_month()
                if status is DirectBillRegistryStatus.ACTIVE
                else None,
                activated_at=self._activated_at,
                next_reassessment_due=plan.renewal_date.replace(day=1) if plan else None,
                updated_at=workflow.now(),
            ),
            start_to_close=pipeline.LOOKUP_TIMEOUT,
        )

    def _onboarding_month(self) -> int | None:
        """The month of the original CSP onboarding: the security re-validation clock (DB-04)."""
        tenure = next((c for c in self._eligibility if c.rule == "DB-01"), None)
        return rules.onboarding_anniversary_month(
            tenure.since if tenure else None, self._policy.business_time_zone
        )

    # ---- updates and query --------------------------------------------------------------------

    def _wrong_stage(self, expected: str) -> ApplicationError:
        stage = self._stages.stage.value
        return pipeline.wrong_stage(
            f"PGA {self._app.pga_id} ({self._app.region}) is at stage {stage}, "
            f"not awaiting {expected}",
            stage,
        )

    def _require_step(self, step: DirectBillStage, expected: str) -> None:
        if self._ended is not None or self._step is not step or self._info_request is not None:
            raise self._wrong_stage(expected)

    @workflow.update(name=names.UPDATE_REPORT_INITIAL_REVIEW)
    def report_initial_review(self, decision: MicrosoftDecision) -> Acknowledgement:
        self._initial_review = decision
        return Acknowledgement(
            stage=self._stages.stage.value, message=decision.sentence("initial review")
        )

    @report_initial_review.validator
    def _validate_initial_review(self, decision: MicrosoftDecision) -> None:
        self._require_step(DirectBillStage.INITIAL_REVIEW, "the initial requirements review")
        if self._initial_review is not None:
            raise self._wrong_stage("the initial requirements review")

    @workflow.update(name=names.UPDATE_SUBMIT_ASSESSMENT)
    def submit_assessment(self, answers: CapabilityQuestionnaire) -> AssessmentScore:
        self._assessment = score_assessment(answers, self._policy.weights)
        return self._assessment

    @submit_assessment.validator
    def _validate_assessment(self, answers: CapabilityQuestionnaire) -> None:
        self._require_step(DirectBillStage.ASSESSMENT, "the capability assessment")
        if self._assessment is not None:
            raise self._wrong_stage("the capability assessment")

    @workflow.update(name=names.UPDATE_REQUEST_INFORMATION)
    def request_information(self, request: InformationRequest) -> Acknowledgement:
        self._info_requests += 1
        self._info_request = request
        return Acknowledgement(stage=self._stages.stage.value, message="the application is paused")

    @request_information.validator
    def _validate_request_information(self, request: InformationRequest) -> None:
        if self._ended is not None or self._step not in _REVIEW_STEPS:
            raise self._wrong_stage("Microsoft's review")
        if self._info_request is not None:
            raise pipeline.refuse(
                WrongStage("an information request is already open; wait for its answer")
            )
        if self._info_requests >= INFORMATION_REQUESTS_PER_APPLICATION:
            raise pipeline.refuse(
                DecisionLimitReached(
                    f"this application has had {self._info_requests} information requests, "
                    f"the most one application takes; decide it, or withdraw it and apply again",
                    update=names.UPDATE_REQUEST_INFORMATION,
                )
            )

    @workflow.update(name=names.UPDATE_ANSWER_INFORMATION)
    def answer_information_request(self, answer: InformationAnswer) -> Acknowledgement:
        self._info_answer = answer
        return Acknowledgement(
            stage=self._stages.stage.value, message="answer recorded; review resumes"
        )

    @answer_information_request.validator
    def _validate_answer(self, answer: InformationAnswer) -> None:
        if self._ended is not None or self._info_request is None or self._info_answer is not None:
            raise pipeline.refuse(WrongStage("no information request is open"))

    @workflow.update(name=names.UPDATE_DECIDE_APPLICATION)
    def decide_application(self, decision: MicrosoftDecision) -> Acknowledgement:
        self._decision = decision
        return Acknowledgement(
            stage=self._stages.stage.value, message=decision.sentence("application")
        )

    @decide_application.validator
    def _validate_decide_application(self, decision: MicrosoftDecision) -> None:
        self._require_step(DirectBillStage.DECISION, "the application decision")
        if self._decision is not None:
            raise self._wrong_stage("the application decision")

    @workflow.update(name=names.UPDATE_SUBMIT_ENROLLMENT_FORM)
    def submit_enrollment_form(self, form: EnrollmentForm) -> Acknowledgement:
        self._form = form
        return Acknowledgement(stage=self._stages.stage.value, message="enrollment form recorded")

    @submit_enrollment_form.validator
    def _validate_form(self, form: EnrollmentForm) -> None:
        self._require_step(DirectBillStage.ENROLLMENT_FORM, "the enrollment form")
        if self._form is not None:
            raise self._wrong_stage("the enrollment form")

    @workflow.update(name=names.UPDATE_REPORT_SUPPORT_PLAN)
    def report_support_plan_purchase(self, purchase: SupportPlanPurchase) -> Acknowledgement:
        self._plan = purchase.plan
        return Acknowledgement(stage=self._stages.stage.value, message="support plan recorded")

    @report_support_plan_purchase.validator
    def _validate_support_plan(self, purchase: SupportPlanPurchase) -> None:
        if self._ended is None and not self._credit_approved:
            raise pipeline.refuse(
                SupportPlanBeforeCreditApproval(
                    f"PGA {self._app.pga_id} ({self._app.region}) has not passed the credit "
                    "review; buy the support plan only after credit approval (DB-09)",
                    stage=self._stages.stage.value,
                )
            )
        self._require_step(DirectBillStage.SUPPORT_PLAN, "the support-plan purchase")

    @workflow.update(name=names.UPDATE_REPORT_MPA_ACCEPTED)
    def report_mpa_accepted(self, acceptance: MpaAcceptance) -> Acknowledgement:
        self._mpa = acceptance
        return Acknowledgement(stage=self._stages.stage.value, message="MPA acceptance recorded")

    @report_mpa_accepted.validator
    def _validate_mpa(self, acceptance: MpaAcceptance) -> None:
        if self._ended is None and (self._plan is None or not self._credit_approved):
            raise pipeline.refuse(
                MpaBeforeSupportPlan(
                    f"PGA {self._app.pga_id} ({self._app.region}) has no support plan recorded "
                    "after credit approval; the MPA comes after the support plan (DB-09)",
                    stage=self._stages.stage.value,
                )
            )
        self._require_step(DirectBillStage.MPA_ACCEPTANCE, "the MPA acceptance")

    @workflow.update(name=names.UPDATE_WITHDRAW)
    def withdraw(self, withdrawal: Withdrawal) -> Acknowledgement:
        self._withdrawal = withdrawal
        return Acknowledgement(stage=self._stages.stage.value, message="withdrawal accepted")

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if self._ended is not None or self._withdrawal is not None:
            raise pipeline.refuse(
                WrongStage(f"the application has already ended ({self._stages.stage.value})")
            )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> DirectBillStatus:
        return DirectBillStatus(
            workflow_id=workflow.info().workflow_id,
            pga_id=self._app.pga_id,
            region=self._app.region,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            eligibility=self._eligibility,
            assessment=self._assessment,
            credit_approved=self._credit_approved,
            support_plan=self._plan,
            open_information_request=self._info_request.question if self._info_request else None,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            cooldown_until=self._cooldown_until,
            signal_refusals=self.signal_refusals(),
        )
