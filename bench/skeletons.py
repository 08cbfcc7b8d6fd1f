"""Bench-only workflows: no-op skeletons of exactly the production shapes, and the trivial
per-partner re-assessment the sweep benchmark uses as its baseline.

They run only on the bench task queues (bench/harness.py), beside the production worker. A
skeleton issues the same commands to the server in the same order as its pipeline (the
lean patch marker, activities and local activities, search-attribute upserts, child workflow,
updates, timers) but each activity, local or not, is `bench_noop` and there is no business
logic, no SMTP, no registry, no Partner Center. Where the pipeline reads through
`pipeline.lookup` or writes its own record through `pipeline.record` as a local activity, the
skeleton runs `bench_noop` as a local activity with the same timeout and retry policy; its other
writes stay normal activities. tests/test_bench_skeleton_shape.py holds the enrollment skeleton
to production's history shape.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import activity, workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from contract import names
    from domain.email_verification import EmailVerificationRequest, VerifyEmail
    from domain.messages import Acknowledgement
    from domain.reassessment import ReassessmentOutcome, ReassessmentRequest
    from domain.reseller_enrollment import ResellerEnrollmentApplication, ReviewDecision
    from workflows.pipeline import (
        LEAN_LOOKUPS_PATCH,
        LEAN_STEPS_PATCH,
        LOCAL_RETRY_THRESHOLD,
        LOOKUP_TIMEOUT,
        RETRY,
        STEP_TIMEOUT,
        partner_attributes_not_set,
        started_lean,
    )

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
    """A write: a normal activity (its own scheduled/started/completed events)."""
    await workflow.execute_activity(noop, NoopStep(step=step), start_to_close_timeout=_STEP)


async def _lookup(step: str, start_to_close: timedelta = LOOKUP_TIMEOUT) -> None:
    """A read as `pipeline.lookup` runs it in a lean run: a local activity (one marker), with the
    read's timeout, the bounded `RETRY` and the same local retry threshold."""
    await workflow.execute_local_activity(
        noop,
        NoopStep(step=step),
        start_to_close_timeout=start_to_close,
        retry_policy=RETRY,
        local_retry_threshold=LOCAL_RETRY_THRESHOLD,
    )


def _lean(patch: str = LEAN_LOOKUPS_PATCH) -> None:
    """The lean patch the pipeline takes, checked once at the start of `run` as production does
    (its marker). The skeleton has only the lean shape, so the answer is not used."""
    workflow.patched(patch)


def _partner(partner_id: str, region: str) -> list[SearchAttributeUpdate[Any]]:
    return [names.SA_PARTNER_ID.value_set(partner_id), names.SA_REGION.value_set(region)]


def _enter(stage: str, also: Sequence[SearchAttributeUpdate[Any]] = ()) -> None:
    """The stage's upsert; `also`: more search attributes in the same upsert (one event)."""
    workflow.upsert_search_attributes(
        [names.SA_STAGE.value_set(stage), names.SA_NEXT_DEADLINE.value_unset(), *also]
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
    """The shape of a passing security-only `PartnerReassessment` in a lean run: the
    `lean-steps` marker only when the sweep did not start it (it does here), 3 reads and the
    status change as local activities (policy, direct-bill record, security check; the status
    change with `pipeline.record`'s timeout), one upsert (the
    passed stage and its outcome, with the partner and its region unless the sweep started the
    run with them, as it does: production enters the security
    check without showing it, as it leaves that stage in the same workflow task), one activity
    (the passed email), then one signal to the sweep, after the email as production sends it."""

    @workflow.run
    async def run(self, request: ReassessmentRequest) -> ReassessmentOutcome:
        if not started_lean():
            _lean(LEAN_STEPS_PATCH)  # the sweep starts it lean: no marker
        await _lookup("load_reassessment_policy")
        await _lookup("get_direct_bill_record", STEP_TIMEOUT)
        await _lookup("check_direct_bill_security", STEP_TIMEOUT)
        await _lookup("change_direct_bill_status")
        passed = [names.SA_OUTCOME.value_set("passed")]
        partner = partner_attributes_not_set(request.pga_id, request.region)
        _enter("reassessment_passed", [*partner, *passed])
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
    """`ResellerEnrollment`'s shape on the full path in a lean run: the `lean-steps` marker, 5
    reads and the 2 record saves as local activities (policy, registry record, PartnerID, tenant
    admin, agreement status), 4 activities (3 emails, Admin agent; the approval mailed alongside
    the Admin agent step), 5 upserts (the partner and region with the first stage, the outcome
    with the last; the region is not shown again, as production does when the tenant's country
    is the address's; the MPA stage, left in the task it was entered in, is never shown), the
    child, the review update raced against its deadline."""

    def __init__(self) -> None:
        self._stage = "prechecks"
        self._decision: ReviewDecision | None = None

    @workflow.run
    async def run(self, application: ResellerEnrollmentApplication) -> SkeletonResult:
        _lean(LEAN_STEPS_PATCH)
        self._go("prechecks", _partner(application.partner_id, application.address.country))
        await _lookup("load_enrollment_policy")
        await _lookup("get_reseller_record")
        await _lookup("verify_partner_id")
        await _lookup("check_tenant_admin")
        await _lookup("save_reseller_record")
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
        self._go("admin_agent_setup")
        await asyncio.gather(_noop("send_email"), _noop("ensure_admin_agent"))
        self._stage = "mpa_signature"
        await _lookup("check_agreement_status")
        self._go("active", [names.SA_OUTCOME.value_set("active")])
        await _lookup("save_reseller_record")
        await _noop("send_email")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return SkeletonResult(partner_id=application.partner_id, outcome="active")

    def _go(self, stage: str, also: Sequence[SearchAttributeUpdate[Any]] = ()) -> None:
        self._stage = stage
        _enter(stage, also)

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
