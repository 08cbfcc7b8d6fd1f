"""Outgoing mail: the `Mailer` interface and the message it sends."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, EmailStr


class OutgoingEmail(BaseModel):
    """One message. `idempotency_key` is stable across retries of the activity that sends it; a
    digest of it becomes the Message-ID so a relay or the sink can recognise a repeat (the key
    itself names internal runs and never appears in a header). `html`, when given, is sent as the
    preferred alternative to the plain-text `body`."""

    model_config = ConfigDict(frozen=True)

    idempotency_key: str
    to: EmailStr
    subject: str
    body: str
    html: str | None = None


class Mailer(Protocol):
    async def send(self, message: OutgoingEmail) -> None:
        """Hand the message to the mail system; raise on failure so the activity retries."""
        ...

    async def aclose(self) -> None:
        """Release what the mailer keeps open between messages (the worker is stopping)."""
        ...


class MailRejected(Exception):
    """The relay permanently (5xx) refused the recipient (at RCPT TO), our sender (at MAIL FROM)
    or the message (at DATA); RFC 5321 4.2.1: the client "SHOULD NOT repeat the exact request"."""

    def __init__(self, recipient: str, code: int, reason: str, stage: str = "RCPT TO") -> None:
        # The message reaches logs and workflow history: the address's domain only (personal
        # data), and the relay's reason with the address taken out.
        domain = recipient.rpartition("@")[2]
        shown = reason.replace(recipient, "<recipient>")
        if stage == "RCPT TO":
            text = f"a recipient at {domain} was rejected with {code}: {shown}"
        else:
            text = (
                f"the message to a recipient at {domain} was refused at {stage} with {code}: "
                f"{shown}"
            )
        super().__init__(text)
        self.stage = stage
        self.recipient = recipient
        self.code = code
        self.reason = reason
