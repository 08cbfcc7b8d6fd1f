"""Bench-only workflows: no-op skeletons of exactly the production shapes, and the trivial
per-partner re-assessment the sweep benchmark uses as its baseline.

They run only on the bench task queues (bench/harness.py), beside the production worker. A
skeleton issues the same commands to the server in the same order as its pipeline (activities,
search-attribute upserts, child workflow, updates, timers) but each activity is `bench_noop`
and there is no business logic, no SMTP, no registry, no Partner Center.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from contract import names
    from domain.email_verification import EmailVerificationRequest, VerifyEmail
    from domain.messages import Acknowledgement
    from domain.reassessment import ReassessmentOutcome, ReassessmentRequest
    from domain.reseller_enrollment import ResellerEnrollmentApplication, ReviewDecision

SKELETON_ENROLLMENT = "BenchSkeletonEnrollment"
SKELETON_EMAIL_VERIFICATION = "BenchSkeletonEmailVerification"
EMPTY_WORKFLOW = "BenchEmptyWorkflow"

_STEP = timedelta(minutes=2)
_WAIT = timedelta(days=30)


class NoopStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    step: str


class NoopDone(BaseModel):
    step: str


class SkeletonStatus(BaseModel):
    stage: str


@activity.defn(name="bench_noop")
async def noop(step: NoopStep) -> NoopDone:
    return NoopDone(step=step.step)


async def _noop(step: str) -> None:
    await workflow.execute_activity(noop, NoopStep(step=step), start_to_close_timeout=_STEP)


def _enter(stage: str) -> None:
    workflow.upsert_search_attributes(
        [names.SA_STAGE.value_set(stage), names.SA_NEXT_DEADLINE.value_unset()]
    )
    workflow.set_current_details(f"**{stage}**")


# ---- the sweep's per-partner workflow -----------------------------------------------------------


def _outcome(request: ReassessmentRequest) -> ReassessmentOutcome:
    return ReassessmentOutcome(
        workflow_id=workflow.info().workflow_id,
        pga_id=request.pga_id,
        region=request.region,
        passed=True,
    )


async def _report(request: ReassessmentRequest, outcome: ReassessmentOutcome) -> None:
    assert request.sweep_workflow_id is not None
    await workflow.get_external_workflow_handle(request.sweep_workflow_id).signal(
        names.SIGNAL_REASSESSMENT_OUTCOME, outcome
    )


@workflow.defn(name=EMPTY_WORKFLOW)
class EmptyWorkflow:
    """Starts and completes in its first workflow task: what a server does per workflow at the
    least (its rate is the ceiling a pipeline's rate is read against, bench/limits.py)."""

    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn(name=names.PARTNER_REASSESSMENT)
class TrivialPartnerReassessment:
    """The sweep benchmark's baseline: report "passed" to the sweep, nothing else."""

    @workflow.run
    async def run(self, request: ReassessmentRequest) -> ReassessmentOutcome:
        outcome = _outcome(request)
        await _report(request, outcome)
        return outcome


@workflow.defn(name=names.PARTNER_REASSESSMENT)
class SkeletonPartnerReassessment:
    """The shape of a passing security-only `PartnerReassessment`: 5 activities, 4 upserts, one
    signal to the sweep."""

    @workflow.run
    async def run(self, request: ReassessmentRequest) -> ReassessmentOutcome:
        workflow.upsert_search_attributes(
            [
                names.SA_PARTNER_ID.value_set(request.pga_id),
                names.SA_REGION.value_set(request.region),
            ]
        )
        await _noop("load_reassessment_policy")
        await _noop("get_direct_bill_record")
        _enter("reassessment_security_check")
        await _noop("check_security")
        await _noop("change_direct_bill_status")
        _enter("reassessment_passed")
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("passed")])
        await _noop("send_email")
        outcome = _outcome(request)
        await _report(request, outcome)
        return outcome


# ---- the reseller enrollment ---------------------------------------------------------------------


class SkeletonResult(BaseModel):
    partner_id: str
    outcome: str


@workflow.defn(name=SKELETON_EMAIL_VERIFICATION)
class SkeletonEmailVerification:
    """`EmailVerification`'s shape: one activity (the link), then the `verify_email` update raced
    against the deadline."""

    def __init__(self) -> None:
        self._sent = False
        self._verified = False

    @workflow.run
    async def run(self, request: EmailVerificationRequest) -> SkeletonStatus:
        await _noop("send_verification_link")
        self._sent = True
        workflow.set_current_details("Waiting for the link")
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._verified, timeout=_WAIT)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return SkeletonStatus(stage="verified" if self._verified else "expired")

    @workflow.update(name=names.UPDATE_VERIFY_EMAIL)
    async def verify_email(self, request: VerifyEmail) -> Acknowledgement:
        await workflow.wait_condition(lambda: self._sent)
        self._verified = True
        return Acknowledgement(stage="email_verified", message="email address verified")

    @verify_email.validator
    def _validate(self, request: VerifyEmail) -> None:
        if self._verified:
            raise ValueError("already verified")


@workflow.defn(name=SKELETON_ENROLLMENT)
class SkeletonEnrollment:
    """`ResellerEnrollment`'s shape on the full path: 11 activities, 9 upserts, the child, the
    review update raced against its deadline."""

    def __init__(self) -> None:
        self._stage = "prechecks"
        self._decision: ReviewDecision | None = None

    @workflow.run
    async def run(self, application: ResellerEnrollmentApplication) -> SkeletonResult:
        workflow.upsert_search_attributes(
            [
                names.SA_PARTNER_ID.value_set(application.partner_id),
                names.SA_REGION.value_set(application.address.country),
            ]
        )
        self._go("prechecks")
        await _noop("load_enrollment_policy")
        await _noop("get_reseller_record")
        await _noop("verify_partner_id")
        await _noop("check_tenant_admin")
        workflow.upsert_search_attributes([names.SA_REGION.value_set(application.address.country)])
        await _noop("save_reseller_record")
        self._go("email_verification")
        contact = application.primary_contact
        await workflow.execute_child_workflow(
            SkeletonEmailVerification.run,
            EmailVerificationRequest(
                partner_id=application.partner_id,
                recipient=contact.email,
                recipient_name=f"{contact.first_name} {contact.last_name}",
                legal_name=application.legal_name,
                deadline=workflow.now() + _WAIT,
            ),
            id=names.email_verification_id(workflow.info().workflow_id),
        )
        self._go("review")
        await _noop("send_email")
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._decision is not None, timeout=_WAIT)
        await _noop("send_email")
        self._go("admin_agent_setup")
        await _noop("ensure_admin_agent")
        self._go("mpa_signature")
        await _noop("check_agreement_status")
        self._go("active")
        workflow.upsert_search_attributes([names.SA_OUTCOME.value_set("active")])
        await _noop("save_reseller_record")
        await _noop("send_email")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return SkeletonResult(partner_id=application.partner_id, outcome="active")

    def _go(self, stage: str) -> None:
        self._stage = stage
        _enter(stage)

    @workflow.update(name=names.UPDATE_DECIDE_REVIEW)
    async def decide_review(self, decision: ReviewDecision) -> Acknowledgement:
        await workflow.wait_condition(lambda: self._stage == "review")
        self._decision = decision
        return Acknowledgement(stage=self._stage, message=f"review {decision.decision}d")

    @decide_review.validator
    def _validate(self, decision: ReviewDecision) -> None:
        if self._decision is not None:
            raise ValueError("already decided")

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> SkeletonStatus:
        return SkeletonStatus(stage=self._stage)
