"""The no-op skeleton of `ResellerEnrollment` on its full path (tests/test_bench_skeleton_shape)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from bench.skeleton_email_verification import SkeletonEmailVerification
    from bench.skeletons import (
        SKELETON_ENROLLMENT,
        WAIT,
        SkeletonResult,
        SkeletonStatus,
        enter,
        lean,
        lookup,
        partner_attributes,
        write,
    )
    from contract import names
    from domain.email_verification import EmailVerificationRequest
    from domain.messages import Acknowledgement
    from domain.reseller_enrollment import ResellerEnrollmentApplication, ReviewDecision
    from workflows.pipeline import LEAN_STEPS_PATCH


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
        lean(LEAN_STEPS_PATCH)
        self._go(
            "prechecks", partner_attributes(application.partner_id, application.address.country)
        )
        await lookup("load_enrollment_policy")
        await lookup("get_reseller_record")
        await lookup("verify_partner_id")
        await lookup("check_tenant_admin")
        await lookup("save_reseller_record")
        self._go("email_verification")
        contact = application.primary_contact
        await workflow.execute_child_workflow(
            SkeletonEmailVerification.run,
            EmailVerificationRequest(
                partner_id=application.partner_id,
                recipient=contact.email,
                recipient_name=f"{contact.first_name} {contact.last_name}",
                legal_name=application.legal_name,
                deadline=workflow.now() + WAIT,
            ),
            id=names.email_verification_id(workflow.info().workflow_id),
        )
        self._go("review")
        await write("send_email")
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._decision is not None, timeout=WAIT)
        self._go("admin_agent_setup")
        await asyncio.gather(write("send_email"), write("ensure_admin_agent"))
        self._stage = "mpa_signature"
        await lookup("check_agreement_status")
        self._go("active", [names.SA_OUTCOME.value_set("active")])
        await lookup("save_reseller_record")
        await write("send_email")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return SkeletonResult(partner_id=application.partner_id, outcome="active")

    def _go(self, stage: str, also: Sequence[SearchAttributeUpdate[Any]] = ()) -> None:
        self._stage = stage
        enter(stage, also)

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
