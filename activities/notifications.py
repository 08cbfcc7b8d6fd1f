"""Email side effects. Each message carries an idempotency key; the registry's outbox remembers
sent keys so a retried activity never mails twice (short of a crash between send and record)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlencode

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.email_templates import render
from adapters.mail import Mailer, MailRejected, OutgoingEmail
from adapters.mail.mime import UnsafeMailHeader
from adapters.registry import PartnerRegistry
from contract import names
from contract.activities.notifications import (
    SEND_EMAIL,
    SEND_VERIFICATION_LINK,
    EmailRequest,
    EmailSent,
    VerificationLinkRequest,
    VerificationLinkSent,
)
from domain.notifications import EmailFacts, EmailKind
from domain.verification_token import TokenClaims, mint_token, token_digest

log = structlog.get_logger(__name__)


def verification_link(public_base_url: str, token: str) -> str:
    """`<base>/v/<token>` for a short token (URL-safe by construction), else the long form."""
    base = public_base_url.rstrip("/")
    if token.count(".") == 3:
        return f"{base}/v/{token}"
    return f"{base}/verify-email?{urlencode({'token': token})}"


class NotificationActivities:
    def __init__(
        self,
        mailer: Mailer,
        registry: PartnerRegistry,
        *,
        public_base_url: str,
        signing_secrets: Sequence[bytes],
    ) -> None:
        self._mailer = mailer
        self._registry = registry
        self._public_base_url = public_base_url.rstrip("/")
        self._signing_secret = signing_secrets[0]

    async def _deliver_once(self, key: str, facts: EmailFacts) -> bool:
        """Send unless the outbox has the key; True when this call sent it."""
        if await self._registry.was_message_sent(key):
            return False
        email = render(facts)
        try:
            await self._mailer.send(
                OutgoingEmail(
                    idempotency_key=key,
                    to=facts.to,
                    subject=email.subject,
                    body=email.text,
                    html=email.html,
                )
            )
        except MailRejected as err:
            raise ApplicationError(str(err), type="MailRejected", non_retryable=True) from err
        except UnsafeMailHeader as err:
            raise ApplicationError(
                f"{err} (email kind {facts.kind.value}, partner {facts.partner_id})",
                type="UnsafeMailHeader",
                non_retryable=True,
            ) from err
        await self._registry.record_message_sent(key, datetime.now(UTC))
        log.info("email_sent", kind=facts.kind.value, partner_id=facts.partner_id, key=key)
        return True

    @activity.defn(name=SEND_EMAIL.name)
    async def send_email(self, request: EmailRequest) -> EmailSent:
        sent = await self._deliver_once(request.idempotency_key, request.facts)
        return EmailSent(idempotency_key=request.idempotency_key, already_sent=not sent)

    @activity.defn(name=SEND_VERIFICATION_LINK.name)
    async def send_verification_link(
        self, request: VerificationLinkRequest
    ) -> VerificationLinkSent:
        # Minting is deterministic, so a retry re-sends (if it must) the very same link. The link
        # is short: the workflow is named by its short key (contract/names.py), not its id.
        token = mint_token(
            self._signing_secret,
            TokenClaims(
                workflow_id=request.workflow_id,
                token_id=request.token_id,
                expires_at=request.expires_at,
            ),
            short_key=names.verification_link_key(request.workflow_id),
        )
        link = verification_link(self._public_base_url, token)
        facts = request.facts.model_copy(
            update={
                "kind": EmailKind.VERIFICATION_LINK,
                "link": link,
                "deadline": request.expires_at,
            }
        )
        await self._deliver_once(request.idempotency_key, facts)
        return VerificationLinkSent(
            token_id=request.token_id,
            token_digest=token_digest(token),
            expires_at=request.expires_at,
        )
