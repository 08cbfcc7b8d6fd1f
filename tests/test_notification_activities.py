"""Email activities against the real SMTP sink and registry outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities
from contract.activities.notifications import EmailRequest, VerificationLinkRequest
from domain.notifications import EmailFacts, EmailKind
from domain.verification_token import read_token, token_digest
from tests.conftest import TOKEN_SECRET, Stack
from tests.enrollment_driver import token_from
from worker import mailer_from_settings

FACTS = EmailFacts(
    kind=EmailKind.UNDER_REVIEW,
    to="hanako.yamada@contoso.example",
    partner_id="1234567",
    recipient_name="Hanako Yamada",
    legal_name="Contoso K.K.",
)


def _activities(stack: Stack) -> NotificationActivities:
    return NotificationActivities(
        mailer_from_settings(stack.settings),
        stack.registry,
        public_base_url="https://gateway.example/",
        signing_secrets=[TOKEN_SECRET.encode()],
    )


async def test_a_retried_send_mails_once(stack: Stack) -> None:
    activities = _activities(stack)
    env = ActivityEnvironment()
    request = EmailRequest(idempotency_key="wf:run:email:under-review", facts=FACTS)
    first = await env.run(activities.send_email, request)
    second = await env.run(activities.send_email, request)
    assert (first.already_sent, second.already_sent) == (False, True)
    assert len(await stack.sink.wait_for_messages(1, timeout_seconds=10)) == 1


async def test_verification_link_is_signed_for_the_waiting_workflow(stack: Stack) -> None:
    activities = _activities(stack)
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    sent = await ActivityEnvironment().run(
        activities.send_verification_link,
        VerificationLinkRequest(
            idempotency_key="wf:run:link-1",
            workflow_id="wf-email-verification",
            token_id="link-1",
            expires_at=expires,
            facts=FACTS,
        ),
    )
    [message] = await stack.sink.wait_for_messages(1, timeout_seconds=10)
    body = message.get_content()
    assert "https://gateway.example/verify-email?token=" in body
    token = token_from(message)
    assert sent.token_digest == token_digest(token)
    claims = read_token([TOKEN_SECRET.encode()], token, now=datetime.now(UTC))
    assert (claims.workflow_id, claims.token_id, claims.expires_at) == (
        "wf-email-verification",
        "link-1",
        expires,
    )
