"""Production `Mailer` that hands messages to an SMTP relay with aiosmtplib."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
import structlog

from adapters.mail import MailRejected, OutgoingEmail

MESSAGE_ID_DOMAIN = "csp-orchestrator"


def message_id_for(idempotency_key: str) -> str:
    """Deterministic Message-ID, so every retry of one send carries the same id."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def build_message(message: OutgoingEmail, sender: str) -> EmailMessage:
    """The MIME message for `message`, From `sender`: the plain-text UTF-8 body, and with an HTML
    body multipart/alternative (text first, HTML preferred). No header names an internal id."""
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = str(message.to)
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(datetime.now(UTC))
    mime["Message-ID"] = message_id_for(message.idempotency_key)
    mime.set_content(message.body, subtype="plain", charset="utf-8")
    if message.html is not None:
        mime.add_alternative(message.html, subtype="html", charset="utf-8")
    return mime


class SmtpRelayMailer:
    """Sends each message in its own SMTP session.

    Connection and transient SMTP errors propagate unchanged so the calling activity retries;
    a permanent rejection of the recipient raises `MailRejected`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        use_tls: bool = False,
        allow_plaintext_auth: bool = False,
        timeout_seconds: float = 30.0,
        local_hostname: str | None = None,
    ) -> None:
        if starttls and use_tls:
            raise ValueError("starttls and use_tls are mutually exclusive")
        if (username is None) != (password is None):
            raise ValueError("username and password must be given together")
        if username is not None and not (starttls or use_tls) and not allow_plaintext_auth:
            raise ValueError(
                "SMTP authentication without TLS would send the password in the clear: use "
                "starttls or use_tls (or allow_plaintext_auth on a trusted local link only)"
            )
        envelope_sender = parseaddr(sender)[1]
        if not envelope_sender:
            raise ValueError(f"not an address: {sender!r}")
        self._host = host
        self._port = port
        self._sender = sender
        self._envelope_sender = envelope_sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._use_tls = use_tls
        self._timeout = timeout_seconds
        # None makes aiosmtplib use socket.getfqdn(), which can block on slow DNS.
        self._local_hostname = local_hostname

    async def send(self, message: OutgoingEmail) -> None:
        mime = build_message(message, self._sender)
        recipient = str(message.to)
        try:
            await aiosmtplib.send(
                mime,
                sender=self._envelope_sender,
                recipients=[recipient],
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                use_tls=self._use_tls,
                start_tls=self._starttls,
                timeout=self._timeout,
                local_hostname=self._local_hostname,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            permanent = [err for err in exc.recipients if 500 <= err.code < 600]
            if permanent and len(permanent) == len(exc.recipients):
                raise MailRejected(recipient, permanent[0].code, permanent[0].message) from exc
            raise
        except aiosmtplib.SMTPRecipientRefused as exc:
            if 500 <= exc.code < 600:
                raise MailRejected(recipient, exc.code, exc.message) from exc
            raise
        structlog.get_logger().info(
            "mail.sent",
            # the domain only: addresses are personal data and logs are kept long
            to_domain=recipient.rpartition("@")[2],
            message_id=mime["Message-ID"],
            relay=f"{self._host}:{self._port}",
        )
