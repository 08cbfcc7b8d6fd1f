"""The no-op skeleton of `EmailVerification` (tests/test_bench_skeleton_shape.py)."""

from __future__ import annotations

import contextlib

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.skeletons import SKELETON_EMAIL_VERIFICATION, WAIT, SkeletonStatus, write
    from contract import names
    from domain.email_verification import EmailVerificationRequest, VerifyEmail
    from domain.messages import Acknowledgement


@workflow.defn(name=SKELETON_EMAIL_VERIFICATION)
class SkeletonEmailVerification:
    """`EmailVerification`'s shape: one activity (the link), then the `verify_email` update raced
    against the deadline."""

    def __init__(self) -> None:
        self._sent = False
        self._verified = False

    @workflow.run
    async def run(self, request: EmailVerificationRequest) -> SkeletonStatus:
        await write("send_verification_link")
        self._sent = True
        workflow.set_current_details("Waiting for the link")
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._verified, timeout=WAIT)
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
