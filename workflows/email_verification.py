"""Email verification (ENR-06) as a reusable child workflow.

Mails a signed, expiring link, then waits for the link to be redeemed through the `verify_email`
update until a fixed deadline. A resend (after one business day) mails a fresh link with the same
deadline and supersedes the previous one. Only token digests are kept in workflow state.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow

from domain.calendar import show_instant
from domain.email_verification import (
    EmailVerificationRequest,
    EmailVerificationResult,
    EmailVerificationStatus,
    ResendVerification,
    VerifyEmail,
)
from workflows import pipeline

with workflow.unsafe.imports_passed_through():
    from contract import names
    from contract.activities.notifications import SEND_VERIFICATION_LINK, VerificationLinkRequest
    from contract.display import display_time
    from domain.enrollment_rules import earliest_resend, require_resend_allowed
    from domain.errors import (
        ResendTooSoon,
        TokenAlreadyUsed,
        TokenExpired,
        TokenInvalid,
        WrongStage,
    )
    from domain.messages import Acknowledgement
    from domain.notifications import EmailFacts, EmailKind, reader
    from domain.verification_token import token_digest

_MAIL_TIMEOUT = timedelta(minutes=2)


@workflow.defn(name=names.EMAIL_VERIFICATION)
class EmailVerificationWorkflow(pipeline.DecisionSignals):
    @pipeline.init_with_input
    def __init__(self, request: EmailVerificationRequest) -> None:
        self._request = request
        self._issued: list[str] = []  # digests, oldest first; the last one is live
        self._used: str | None = None
        self._verified_at: datetime | None = None
        self._last_sent_at: datetime | None = None
        self._sending = False

    @workflow.run
    async def run(self, request: EmailVerificationRequest) -> EmailVerificationResult:
        pipeline.require_business_id(
            names.email_verification_id(names.reseller_enrollment_id(request.partner_id))
        )
        await self._send_link()
        remaining = request.deadline - workflow.now()
        try:
            await workflow.wait_condition(
                lambda: self._verified_at is not None,
                timeout=max(remaining, timedelta(seconds=1)),
                timeout_summary="email verification deadline",
            )
        except TimeoutError:
            workflow.logger.info("verification link expired unused")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return EmailVerificationResult(
            verified=self._verified_at is not None,
            verified_at=self._verified_at,
            links_sent=len(self._issued),
        )

    async def _send_link(self) -> None:
        self._sending = True
        try:
            info = workflow.info()
            token_id = f"link-{len(self._issued) + 1}"
            sent = await pipeline.execute(
                SEND_VERIFICATION_LINK,
                VerificationLinkRequest(
                    idempotency_key=f"{info.workflow_id}:{info.run_id}:{token_id}",
                    workflow_id=info.workflow_id,
                    token_id=token_id,
                    expires_at=self._request.deadline,
                    facts=EmailFacts(
                        kind=EmailKind.VERIFICATION_LINK,
                        to=self._request.recipient,
                        partner_id=self._request.partner_id,
                        recipient_name=self._request.recipient_name,
                        legal_name=self._request.legal_name,
                        **reader(self._request.locale, self._request.time_zone, None),
                    ),
                ),
                start_to_close=_MAIL_TIMEOUT,
            )
            self._issued.append(sent.token_digest)
            self._last_sent_at = workflow.now()
            workflow.set_current_details(
                f"Waiting for the primary contact to open link {len(self._issued)} "
                f"until {display_time(self._request.deadline)}"
            )
        finally:
            self._sending = False

    @workflow.update(name=names.UPDATE_VERIFY_EMAIL)
    async def verify_email(self, request: VerifyEmail) -> Acknowledgement:
        # A link opened while its own email is still being recorded is checked once that is done.
        await workflow.wait_condition(lambda: not self._sending)
        self._check_token(request.token)
        self._used = token_digest(request.token)
        self._verified_at = workflow.now()
        return Acknowledgement(stage="email_verified", message="email address verified")

    @verify_email.validator
    def _validate_verify_email(self, request: VerifyEmail) -> None:
        if not self._sending:
            self._check_token(request.token)

    def _check_token(self, token: str) -> None:
        digest = token_digest(token)
        if self._used is not None:
            if digest == self._used:
                raise pipeline.refuse(
                    TokenAlreadyUsed(
                        "this verification link was already used; the email is verified"
                    )
                )
            raise pipeline.refuse(WrongStage("the email address is already verified"))
        if workflow.now() >= self._request.deadline:
            raise pipeline.refuse(
                TokenExpired(
                    f"the verification link expired at {show_instant(self._request.deadline)}",
                    expired_at=self._request.deadline,
                )
            )
        if not self._issued or digest != self._issued[-1]:
            superseded = digest in self._issued
            raise pipeline.refuse(
                TokenInvalid(
                    "this link was replaced by a newer one; use the latest email"
                    if superseded
                    else "this verification link is not valid for this enrollment"
                )
            )

    @workflow.update(name=names.UPDATE_RESEND_VERIFICATION)
    async def resend_verification_email(self, request: ResendVerification) -> Acknowledgement:
        workflow.logger.info("verification link resend requested by %s", request.requested_by)
        await self._send_link()
        return Acknowledgement(stage="email_verification", message=f"link {len(self._issued)} sent")

    @resend_verification_email.validator
    def _validate_resend(self, request: ResendVerification) -> None:
        if self._verified_at is not None:
            raise pipeline.refuse(WrongStage("the email address is already verified"))
        if self._sending or self._last_sent_at is None:
            raise pipeline.refuse(WrongStage("a verification email is being sent right now"))
        if workflow.now() >= self._request.deadline:
            raise pipeline.refuse(
                TokenExpired(f"verification closed at {show_instant(self._request.deadline)}")
            )
        try:
            require_resend_allowed(
                now=workflow.now(),
                last_sent_at=self._last_sent_at,
                business_days=self._request.resend_after_business_days,
                zone_name=self._request.business_time_zone,
            )
        except ResendTooSoon as err:
            raise pipeline.refuse(err) from err

    @workflow.query(name=names.QUERY_STATUS)
    def status(self) -> EmailVerificationStatus:
        return EmailVerificationStatus(
            verified=self._verified_at is not None,
            links_sent=len(self._issued),
            deadline=self._request.deadline,
            resend_allowed_from=(
                earliest_resend(
                    self._last_sent_at,
                    self._request.resend_after_business_days,
                    self._request.business_time_zone,
                )
                if self._last_sent_at
                else None
            ),
            signal_refusals=self.signal_refusals(),
            legal_name=self._request.legal_name,
            partner_id=self._request.partner_id,
            **reader(self._request.locale, self._request.time_zone, None),
        )
