"""The `notifications` activities as workflows call them: registered name, input and output.

Implemented by activities/notifications.py.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict

from contract.activities import ActivityRef
from domain.messages import Message
from domain.notifications import EmailFacts


class EmailRequest(Message):
    idempotency_key: str
    facts: EmailFacts


class EmailSent(Message):
    idempotency_key: str
    already_sent: bool


class VerificationLinkRequest(Message):
    """Mint link `token_id` for the workflow awaiting it and mail it (ENR-06)."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    workflow_id: str
    token_id: str
    expires_at: datetime
    facts: EmailFacts


class VerificationLinkSent(Message):
    token_id: str
    token_digest: str
    expires_at: datetime


SEND_EMAIL = ActivityRef("send_email", EmailRequest, EmailSent)
SEND_VERIFICATION_LINK = ActivityRef(
    "send_verification_link", VerificationLinkRequest, VerificationLinkSent
)
