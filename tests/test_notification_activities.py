"""Email activities against the real SMTP sink and registry outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities
from adapters.mail.smtp_sink import verification_links
from contract import names
from contract.activities.notifications import EmailRequest, VerificationLinkRequest
from domain.locale import Locale
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
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    # A workflow without a short key (not a reseller enrollment's) keeps the long link.
    assert "https://gateway.example/verify-email?token=" in body
    token = token_from(message)
    assert sent.token_digest == token_digest(token)
    claims = read_token([TOKEN_SECRET.encode()], token, now=datetime.now(UTC))
    assert (claims.workflow_id, claims.token_id, claims.expires_at) == (
        "wf-email-verification",
        "link-1",
        expires,
    )


async def test_enrollment_link_is_short_html_and_free_of_internal_ids(stack: Stack) -> None:
    """The link a reseller enrollment's contact gets: under 100 characters, resolving to the
    verification workflow, in both alternatives, and no workflow or run id in any header or body
    (the PartnerID is the partner's own and may appear)."""
    activities = _activities(stack)
    workflow_id = names.email_verification_id(names.reseller_enrollment_id("1234567"))
    run_id = "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b"
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    sent = await ActivityEnvironment().run(
        activities.send_verification_link,
        VerificationLinkRequest(
            idempotency_key=f"{workflow_id}:{run_id}:link-1",
            workflow_id=workflow_id,
            token_id="link-1",
            expires_at=expires,
            facts=FACTS.model_copy(update={"locale": Locale.JA, "time_zone": "Asia/Tokyo"}),
        ),
    )
    [message] = await stack.sink.wait_for_messages(1, timeout_seconds=10)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    [link] = verification_links(message)
    assert link.startswith("https://gateway.example/v/")
    assert len(link) < 100, link
    assert link in text and f'href="{link}"' in html
    token = token_from(message)
    assert sent.token_digest == token_digest(token)
    claims = read_token(
        [TOKEN_SECRET.encode()],
        token,
        now=datetime.now(UTC),
        workflow_for_key=names.workflow_for_link_key,
    )
    assert (claims.workflow_id, claims.token_id, claims.expires_at) == (
        workflow_id,
        "link-1",
        expires,
    )
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    for shown in (headers, text, html):
        assert run_id not in shown and "reseller-enrollment" not in shown
    assert str(message["Subject"]).startswith("【要確認】Contoso K.K.")
    assert "メールアドレスを確認する" in html


async def test_a_legal_name_with_a_line_break_is_refused_for_good_and_mails_nothing(
    stack: Stack,
) -> None:
    """The Japanese verification subject carries the legal name as the partner typed it; a line
    break in it would write headers of its own (a Bcc to anyone). The send fails for good with
    the field named, and nothing is mailed or recorded."""
    key = "wf:run:link-1"
    facts = FACTS.model_copy(
        update={"legal_name": "Contoso K.K.\r\nBcc: someone@attacker.example", "locale": Locale.JA}
    )
    request = VerificationLinkRequest(
        idempotency_key=key,
        workflow_id="wf-email-verification",
        token_id="link-1",
        expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=30),
        facts=facts,
    )
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(_activities(stack).send_verification_link, request)

    assert (refused.value.type, refused.value.non_retryable) == ("UnsafeMailHeader", True)
    assert "the Subject header" in str(refused.value) and "partner 1234567" in str(refused.value)
    assert not await stack.registry.was_message_sent(key)
    with pytest.raises(TimeoutError):
        await stack.sink.wait_for_messages(1, timeout_seconds=0.5)
