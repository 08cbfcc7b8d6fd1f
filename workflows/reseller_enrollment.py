"""Indirect-reseller enrollment (DOMAIN.md ENR-01..09, MPA-01..02, IND-01).

prechecks (PartnerID, tenant + Global admin, region) -> email verification (child workflow)
-> review (backend decision, reminders) -> Admin agent group -> MPA signature -> active.
Terminal outcomes: active, rejected, abandoned, withdrawn. A pre-check refusal is recorded as
rejected and fails the workflow with the rule's stable error type, except `AlreadyEnrolling`
(the partner is active, or enrolling in another pipeline): that refusal writes no record and sends
no email, since both belong to the other pipeline. One pipeline per PartnerID: the workflow runs
only under `reseller-enrollment-<PartnerID>` (pipeline.require_business_id).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import (
    CancelledError,
    ChildWorkflowError,
)

from workflows import pipeline
from workflows.pipeline import PipelineEnded, StageTracker

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities.checks import (
        CHECK_AGREEMENT_STATUS,
        CHECK_TENANT_ADMIN,
        CREATE_TENANT,
        ENSURE_ADMIN_AGENT,
        VERIFY_PARTNER_ID,
        AdminAgentSetup,
        PartnerIdCheck,
        TenantCheck,
        TenantCreation,
    )
    from contract.activities.policies import LOAD_ENROLLMENT_POLICY
    from contract.activities.registry import (
        GET_RESELLER_RECORD,
        SAVE_RESELLER_RECORD,
        ResellerLookup,
    )
    from contract.errors import business_rejection
    from domain.calendar import show_instant
    from domain.email_verification import EmailVerificationRequest, EmailVerificationResult
    from domain.enrollment_rules import require_same_region
    from domain.errors import AlreadyEnrolling, RepeatedReport, WrongStage
    from domain.messages import Acknowledgement, Withdrawal
    from domain.notifications import EmailFacts, EmailKind, Reader, reader
    from domain.partner_center import AgreementVerdict, TenantInfo
    from domain.reseller_enrollment import (
        EnrollmentPolicy,
        EnrollmentResult,
        EnrollmentStage,
        EnrollmentStatus,
        MpaSignatureReport,
        ResellerEnrollmentApplication,
        ResellerRecord,
        ResellerStatus,
        ReviewDecision,
    )
    from workflows.email_verification import EmailVerificationWorkflow


_REGISTRY_STATUS = {
    EnrollmentStage.ACTIVE: ResellerStatus.ACTIVE,
    EnrollmentStage.REJECTED: ResellerStatus.REJECTED,
    EnrollmentStage.ABANDONED: ResellerStatus.ABANDONED,
    EnrollmentStage.WITHDRAWN: ResellerStatus.WITHDRAWN,
    EnrollmentStage.CANCELLED: ResellerStatus.CANCELLED,
}


DUPLICATE_REFUSAL_PATCH = "already-enrolling-refusal-writes-nothing"
"""Issue 12: an `AlreadyEnrolling` refusal writes no record and sends no email (both belong to the
other pipeline). Histories recorded before it saved `rejected` and mailed, and replay that way."""

LATE_MPA_PATCH = "enr-mpa-late-signature-completes"
"""ENR-09: an approved reseller that signs the MPA after its window is completed by a later report
without enrolling again. Histories recorded before it ended at the window and replay that way."""


@workflow.defn(name=names.RESELLER_ENROLLMENT)
class ResellerEnrollmentWorkflow(pipeline.DecisionSignals):
    @pipeline.init_with_input
    def __init__(self, application: ResellerEnrollmentApplication) -> None:
        self._app = application
        self._policy = EnrollmentPolicy()
        self._stages = StageTracker(
            EnrollmentStage.PRECHECKS, "pre-checks (PartnerID, tenant, region)"
        )
        self._region = application.address.country
        self._tenant: TenantInfo | None = None
        self._decision: ReviewDecision | None = None
        self._withdrawal: Withdrawal | None = None
        self._mpa_reported = False
        self._mpa_report_accepted_at: datetime | None = None
        self._mpa_reports_accepted = 0
        self._ir_authorized_at: datetime | None = None
        self._mpa_signed_at: datetime | None = None
        self._ended: PipelineEnded | None = None
        self._registered = False
        self._refused_as_duplicate = False
        """Refused because the partner is active or enrolling elsewhere: that record and that
        contact belong to the other pipeline, so this refusal writes and sends nothing."""
        self._child: workflow.ChildWorkflowHandle[Any, EmailVerificationResult] | None = None
        self._lean = False
        """Reads run as local activities (pipeline.lean_lookups, decided once per run)."""
        self._lean_steps = False
        """The registry record is written as a local activity, the approval mailed while the
        Admin agent is set up, the MPA stage shown only when it waits (pipeline.lean_steps)."""

    # ---- the pipeline -------------------------------------------------------------------------

    @workflow.run
    async def run(self, application: ResellerEnrollmentApplication) -> EnrollmentResult:
        pipeline.require_business_id(names.reseller_enrollment_id(application.partner_id))
        self._lean, self._lean_steps = pipeline.lean_steps()
        prechecks = "pre-checks (PartnerID, tenant, region)"
        if self._lean:  # one upsert: the partner, its region and the stage
            partner = pipeline.partner_attributes(application.partner_id, self._region)
            self._stages.enter(EnrollmentStage.PRECHECKS, prechecks, also=partner)
        else:
            pipeline.show_partner(application.partner_id, self._region)
            self._stages.enter(EnrollmentStage.PRECHECKS, prechecks)
        self._policy = await pipeline.load_policy(LOAD_ENROLLMENT_POLICY, local=self._lean)
        ended = await pipeline.run_pipeline(
            prechecks=self._prechecks,
            steps=self._steps,
            refused=EnrollmentStage.REJECTED,
            finish=self._finish,
            cancelled=EnrollmentStage.CANCELLED,
            lean=self._lean,
        )
        return EnrollmentResult(
            partner_id=application.partner_id,
            outcome=EnrollmentStage(ended.outcome),
            reason=ended.reason,
            error_type=ended.error_type,
        )

    async def _steps(self) -> PipelineEnded:
        await self._save(ResellerStatus.ENROLLING)
        self._registered = True
        full_path = not await self._short_path_evidenced()
        if full_path:
            await self._verify_email()
            await self._review()
        await self._admin_agent(approved=full_path)
        await self._mpa()
        return PipelineEnded(EnrollmentStage.ACTIVE, "enrolled, Admin agent set up and MPA signed")

    async def _short_path_evidenced(self) -> bool:
        """ENR-01: the short path needs evidence, not the applicant's `already_in_csp` flag:
        Partner Center must know an indirect-reseller account for the PartnerID (agreementstatus
        answers signed, or 2203 not signed). Without it the full path (email, review) runs."""
        if not self._app.already_in_csp:
            return False
        if not self._patched("enr-01-short-path-evidence"):
            return True
        status = await pipeline.lookup(
            CHECK_AGREEMENT_STATUS,
            PartnerIdCheck(partner_id=self._app.partner_id),
            local=self._lean,
        )
        return status.verdict is not None and AgreementVerdict(status.verdict).is_indirect_reseller

    async def _prechecks(self) -> None:
        app = self._app
        existing = await pipeline.lookup(
            GET_RESELLER_RECORD, ResellerLookup(partner_id=app.partner_id), local=self._lean
        )
        record = existing.record
        if record and record.status is ResellerStatus.ACTIVE:
            self._refused_as_duplicate = True
            raise pipeline.refuse(
                AlreadyEnrolling(
                    f"PartnerID {app.partner_id} is already an active indirect reseller "
                    f"(since {record.active_since})",
                    partner_id=app.partner_id,
                )
            )
        if (
            record
            and record.status is ResellerStatus.ENROLLING
            and record.workflow_id != workflow.info().workflow_id
        ):
            # A record of another pipeline (started before one-pipeline-per-PartnerID) is running.
            self._refused_as_duplicate = True
            raise pipeline.refuse(
                AlreadyEnrolling(
                    f"PartnerID {app.partner_id} is already enrolling in {record.workflow_id}",
                    partner_id=app.partner_id,
                )
            )
        profile = await pipeline.check(
            VERIFY_PARTNER_ID, PartnerIdCheck(partner_id=app.partner_id), local=self._lean
        )
        if app.tenant_id is not None:
            self._tenant = await pipeline.check(
                CHECK_TENANT_ADMIN,
                TenantCheck(tenant_id=app.tenant_id, global_admin=app.global_admin),
                local=self._lean,
            )
            tenant_country = self._tenant.country
        else:
            tenant_country = app.address.country
        pipeline.enforce(
            require_same_region,
            partner_id=app.partner_id,
            profile_country=profile.country,
            tenant_country=tenant_country,
        )
        shown = self._region
        self._region = tenant_country
        if not self._lean or tenant_country != shown:  # lean: the region shown already is kept
            workflow.upsert_search_attributes([names.SA_REGION.value_set(self._region)])
        if self._tenant is None and app.new_tenant_domain is not None:
            self._tenant = await pipeline.check(
                CREATE_TENANT,
                TenantCreation(
                    idempotency_key=pipeline.step_key("create-tenant"),
                    domain_prefix=app.new_tenant_domain,
                    country=tenant_country,
                    global_admin=app.global_admin,
                ),
            )

    async def _verify_email(self) -> None:
        self._raise_if_withdrawn()
        deadline = workflow.now().replace(microsecond=0) + self._policy.email_verification_window
        self._stages.enter(
            EnrollmentStage.EMAIL_VERIFICATION,
            "the primary contact to open the verification link",
            deadline,
        )
        contact = self._app.primary_contact
        child = await workflow.start_child_workflow(
            EmailVerificationWorkflow.run,
            EmailVerificationRequest(
                partner_id=self._app.partner_id,
                recipient=contact.email,
                recipient_name=f"{contact.first_name} {contact.last_name}",
                legal_name=self._app.legal_name,
                deadline=deadline,
                resend_after_business_days=self._policy.resend_after_business_days,
                business_time_zone=self._policy.business_time_zone,
                **self._reader(),
            ),
            id=names.email_verification_id(workflow.info().workflow_id),
            static_summary=f"Email verification for PartnerID {self._app.partner_id}",
        )
        self._child = child
        await workflow.wait_condition(lambda: child.done() or self._withdrawal is not None)
        if not child.done():
            child.cancel()
            with contextlib.suppress(ChildWorkflowError, CancelledError):
                await child
            self._raise_if_withdrawn()
        try:
            result: EmailVerificationResult = child.result()
        except ChildWorkflowError as err:
            rejection = business_rejection(err)
            if rejection is None:
                raise
            raise PipelineEnded(
                EnrollmentStage.REJECTED, rejection.message, rejection.type
            ) from err
        if not result.verified:
            raise PipelineEnded(
                EnrollmentStage.ABANDONED,
                f"the email address was not verified by {show_instant(deadline)} "
                f"({result.links_sent} link(s) sent)",
            )

    async def _review(self) -> None:
        deadline = workflow.now() + self._policy.review_deadline
        self._stages.enter(
            EnrollmentStage.REVIEW, "Microsoft's review decision (decide_review)", deadline
        )
        await self._email(EmailKind.UNDER_REVIEW, "under-review")
        reminders = 0
        while not self._decided():
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                raise PipelineEnded(
                    EnrollmentStage.ABANDONED,
                    f"no review decision arrived by {show_instant(deadline)}",
                )
            try:
                await workflow.wait_condition(
                    self._decided,
                    timeout=min(self._policy.review_reminder_interval, remaining),
                    timeout_summary="review reminder",
                )
            except TimeoutError:
                if workflow.now() < deadline:
                    reminders += 1
                    await self._email(
                        EmailKind.REVIEW_REMINDER,
                        f"review-reminder-{reminders}",
                        to=self._policy.operations_email,
                        deadline=deadline,
                    )
        self._raise_if_withdrawn()
        decision = self._decision
        assert decision is not None
        if decision.decision == "reject":
            raise PipelineEnded(EnrollmentStage.REJECTED, decision.reason or "rejected in review")
        self._ir_authorized_at = workflow.now()
        if not self._lean_steps:  # lean: mailed while the Admin agent is set up
            await self._email(EmailKind.APPROVED, "approved")

    async def _admin_agent(self, *, approved: bool) -> None:
        """`approved`: the review approved the partner just now; a lean run mails the approval
        alongside the Admin agent step (one workflow task for both)."""
        self._raise_if_withdrawn()
        self._stages.enter(EnrollmentStage.ADMIN_AGENT_SETUP, "Admin agent group membership", None)
        assert self._app.tenant_id is not None or self._tenant is not None
        tenant_id = self._tenant.tenant_id if self._tenant else self._app.tenant_id
        assert tenant_id is not None
        admin_agent = pipeline.execute(
            ENSURE_ADMIN_AGENT,
            AdminAgentSetup(idempotency_key=pipeline.step_key("admin-agent"), tenant_id=tenant_id),
        )
        if approved and self._lean_steps:
            await asyncio.gather(self._email(EmailKind.APPROVED, "approved"), admin_agent)
        else:
            await admin_agent
        if self._ir_authorized_at is None:  # ENR-01 short path: authorised on enrollment
            self._ir_authorized_at = workflow.now()

    async def _mpa(self) -> None:
        deadline = workflow.now() + self._policy.mpa_acceptance_window
        self._stages.enter(
            EnrollmentStage.MPA_SIGNATURE,
            "the Microsoft Partner Agreement signature",
            deadline,
            show=not self._lean_steps,  # lean: shown below, once it waits for the signature
        )
        asked = False
        late = False
        while True:
            self._raise_if_withdrawn()
            # Reset before the check: a report arriving during the check or the email below
            # must wake the next wait, not be forgotten until the next poll.
            self._mpa_reported = False
            status = await pipeline.lookup(
                CHECK_AGREEMENT_STATUS,
                PartnerIdCheck(partner_id=self._app.partner_id),
                local=self._lean,
            )
            if status.is_agreement_signed:
                self._mpa_signed_at = workflow.now()
                return
            self._stages.show()
            if not asked:
                asked = True
                await self._email(EmailKind.SIGN_MPA, "sign-mpa", deadline=deadline)
            remaining = deadline - workflow.now()
            if remaining <= timedelta(0) and not late and self._patched(LATE_MPA_PATCH):
                # ENR-09 / MPA-01: the approved reseller keeps its approval; a signature
                # reported after the window still completes the enrollment, without enrolling
                # again, until the late-completion window ends.
                late = True
                first_deadline = deadline
                deadline = deadline + self._policy.mpa_late_completion_window
                self._stages.enter(
                    EnrollmentStage.MPA_SIGNATURE,
                    f"the Microsoft Partner Agreement signature (its window closed on "
                    f"{show_instant(first_deadline)}; report_mpa_signed still completes the "
                    "enrollment)",
                    deadline,
                )
                remaining = deadline - workflow.now()
            if remaining <= timedelta(0):
                raise PipelineEnded(
                    EnrollmentStage.ABANDONED,
                    f"the Microsoft Partner Agreement was not signed by {show_instant(deadline)}",
                    "MpaNotSigned",
                )
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._mpa_reported or self._withdrawal is not None,
                    # Late: no daily polling for months; the report wakes the check.
                    timeout=remaining if late else min(self._policy.mpa_poll_interval, remaining),
                    timeout_summary="MPA signature report" if late else "MPA status poll",
                )

    # ---- helpers ------------------------------------------------------------------------------

    def _patched(self, patch_id: str) -> bool:
        """A patch older than lean-lookups (pipeline.patched_unless_lean)."""
        return pipeline.patched_unless_lean(patch_id, self._lean)

    def _decided(self) -> bool:
        return self._decision is not None or self._withdrawal is not None

    def _raise_if_withdrawn(self) -> None:
        if self._withdrawal is not None:
            raise pipeline.withdrawn(EnrollmentStage.WITHDRAWN, self._withdrawal)

    async def _email(
        self,
        kind: EmailKind,
        step: str,
        *,
        to: str | None = None,
        reason: str | None = None,
        deadline: datetime | None = None,
    ) -> None:
        contact = self._app.primary_contact
        facts = EmailFacts(
            kind=kind,
            to=to or contact.email,
            partner_id=self._app.partner_id,
            recipient_name="CSP operations" if to else f"{contact.first_name} {contact.last_name}",
            legal_name=self._app.legal_name,
            reason=reason,
            deadline=deadline,
            **(reader(None, None, None) if to else self._reader()),
        )
        await pipeline.send_email(facts, step)

    def _reader(self) -> Reader:
        contact = self._app.primary_contact
        return reader(contact.locale, contact.time_zone, self._app.address.country)

    async def _save(self, status: ResellerStatus, reason: str | None = None) -> None:
        tenant_id = self._tenant.tenant_id if self._tenant else self._app.tenant_id
        await pipeline.record(
            SAVE_RESELLER_RECORD,
            ResellerRecord(
                partner_id=self._app.partner_id,
                status=status,
                country=self._region,
                tenant_id=str(tenant_id) if tenant_id else None,
                workflow_id=workflow.info().workflow_id,
                status_reason=reason,
                ir_authorized_at=self._ir_authorized_at,
                mpa_signed_at=self._mpa_signed_at,
                active_since=workflow.now() if status is ResellerStatus.ACTIVE else None,
                updated_at=workflow.now(),
            ),
            local=self._lean_steps,
        )

    async def _finish(self, ended: PipelineEnded) -> None:
        self._ended = ended
        outcome = EnrollmentStage(ended.outcome)
        self._stages.end(outcome, one_upsert=self._lean)
        if outcome is EnrollmentStage.CANCELLED:
            await self._cancel_child()
            if not self._registered:  # cancelled in pre-checks: no record, nothing was sent
                return
        if self._refused_as_duplicate and self._patched(DUPLICATE_REFUSAL_PATCH):
            return
        await self._save(_REGISTRY_STATUS[outcome], ended.reason)
        kind = {
            EnrollmentStage.ACTIVE: EmailKind.ACTIVE,
            EnrollmentStage.REJECTED: EmailKind.REJECTED,
            EnrollmentStage.ABANDONED: EmailKind.ABANDONED,
            EnrollmentStage.WITHDRAWN: EmailKind.WITHDRAWN,
            EnrollmentStage.CANCELLED: EmailKind.CANCELLED,
        }[outcome]
        await self._email(kind, f"outcome-{outcome.value}", reason=ended.reason)

    async def _cancel_child(self) -> None:
        """Cancel a running email verification with its parent (its link stops working)."""
        child = self._child
        if child is None or child.done():
            return
        child.cancel()
        with contextlib.suppress(ChildWorkflowError, CancelledError, asyncio.CancelledError):
            await child

    # ---- updates and query --------------------------------------------------------------------

    @workflow.update(name=names.UPDATE_DECIDE_REVIEW)
    def decide_review(self, decision: ReviewDecision) -> Acknowledgement:
        self._decision = decision
        return Acknowledgement(stage=self._stages.stage.value, message=decision.sentence("review"))

    @decide_review.validator
    def _validate_decide_review(self, decision: ReviewDecision) -> None:
        if self._stages.stage is not EnrollmentStage.REVIEW or self._decided():
            raise pipeline.refuse(
                WrongStage(
                    f"PartnerID {self._app.partner_id} is at stage {self._stages.stage.value}, "
                    "not awaiting a review decision",
                    stage=self._stages.stage.value,
                )
            )

    @workflow.update(name=names.UPDATE_REPORT_MPA_SIGNED)
    def report_mpa_signed(self, report: MpaSignatureReport) -> Acknowledgement:
        self._mpa_reported = True
        self._mpa_report_accepted_at = workflow.now()
        self._mpa_reports_accepted += 1
        return Acknowledgement(
            stage=self._stages.stage.value,
            message="MPA status will be re-checked with Partner Center now",
        )

    @report_mpa_signed.validator
    def _validate_report_mpa_signed(self, report: MpaSignatureReport) -> None:
        if self._stages.stage is not EnrollmentStage.MPA_SIGNATURE:
            raise pipeline.refuse(
                WrongStage(
                    f"PartnerID {self._app.partner_id} is at stage {self._stages.stage.value}, "
                    "not awaiting the MPA signature",
                    stage=self._stages.stage.value,
                )
            )
        if self._mpa_reported:
            raise pipeline.refuse(
                RepeatedReport(
                    f"PartnerID {self._app.partner_id}: a signature report is already waiting "
                    "for its Partner Center re-check",
                    update=names.UPDATE_REPORT_MPA_SIGNED,
                )
            )
        last = self._mpa_report_accepted_at
        interval = self._mpa_report_interval()
        if last is not None and workflow.now() - last < interval:
            raise pipeline.refuse(
                RepeatedReport(
                    f"PartnerID {self._app.partner_id}: Partner Center was re-checked for a "
                    f"report at {last.isoformat()}; the next report is accepted from "
                    f"{(last + interval).isoformat()}",
                    update=names.UPDATE_REPORT_MPA_SIGNED,
                    retry_after=(last + interval).isoformat(),
                )
            )

    def _mpa_report_interval(self) -> timedelta:
        """The wait before the next report is accepted: the policy's interval, doubled with each
        accepted report up to the poll interval. Over the late-completion window (months, no
        polling) the accepted reports, each a Partner Center re-check in the history, stay
        bounded: about one a day after the first few."""
        first = self._policy.mpa_report_interval
        doublings = min(max(self._mpa_reports_accepted - 1, 0), 30)
        grown: timedelta = first * (2**doublings)
        return max(first, min(grown, self._policy.mpa_poll_interval))

    @workflow.update(name=names.UPDATE_WITHDRAW)
    def withdraw(self, withdrawal: Withdrawal) -> Acknowledgement:
        self._withdrawal = withdrawal
        return Acknowledgement(stage=self._stages.stage.value, message="withdrawal accepted")

    @withdraw.validator
    def _validate_withdraw(self, withdrawal: Withdrawal) -> None:
        if (
            self._stages.stage.is_terminal
            or self._withdrawal is not None
            or self._ended is not None
        ):
            raise pipeline.refuse(
                WrongStage(f"the enrollment has already ended ({self._stages.stage.value})")
            )

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> EnrollmentStatus:
        return EnrollmentStatus(
            workflow_id=workflow.info().workflow_id,
            partner_id=self._app.partner_id,
            region=self._region,
            stage=self._stages.stage,
            waiting_for=self._stages.waiting_for,
            deadline=self._stages.deadline,
            outcome_reason=self._ended.reason if self._ended else None,
            error_type=self._ended.error_type if self._ended else None,
            history=tuple(self._stages.history),
            signal_refusals=self.signal_refusals(),
        )
