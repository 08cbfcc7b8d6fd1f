"""Production `Mailer` that hands messages to an SMTP relay with aiosmtplib."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr

import aiosmtplib
import structlog

from adapters.mail import MailRejected, OutgoingEmail
from adapters.mail.mime import build_message, mailbox_header

QUIT_TIMEOUT_SECONDS = 5.0
"""How long ending an idle session waits for the relay's answer to QUIT before dropping it."""
CLOSING_CHANNEL = 421
"""RFC 5321 3.8: the relay is closing the session (an idle timeout, a restart); any command may
get it."""


@dataclass
class _Session:
    client: aiosmtplib.SMTP
    idle_since: float = 0.0
    messages: int = 0


class SmtpRelayMailer:
    """Sends through the relay over a few reused SMTP sessions.

    A session (connect, STARTTLS or TLS, EHLO, AUTH) costs more than the message it carries, so
    after a message its session waits, idle, for the next one: at most `max_idle_sessions` wait,
    none longer than `idle_seconds` (relays drop idle clients after a few minutes; RFC 5321
    4.5.3.2.7 asks servers to wait at least 5), none carries more than `messages_per_session`.
    A session that fails in any way is closed, never reused. When the relay closed a reused
    session under the message (the connection is gone, or it answered 421), the message goes out
    once more on a fresh session, as the activity's own retry would send it (same Message-ID).
    `aclose()` ends the idle sessions (QUIT) when the worker stops.

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
        max_idle_sessions: int = 4,
        idle_seconds: float = 30.0,
        messages_per_session: int = 100,
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
        mailbox_header("From", sender)  # refuses a line break or NUL at start-up, not per email
        envelope_sender = parseaddr(sender)[1]
        if not envelope_sender:
            raise ValueError(f"not an address: {sender!r}")
        if max_idle_sessions < 0 or idle_seconds < 0 or messages_per_session < 1:
            raise ValueError(
                "max_idle_sessions and idle_seconds must be >= 0, messages_per_session >= 1"
            )
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
        self._max_idle = max_idle_sessions
        self._idle_seconds = idle_seconds
        self._messages_per_session = messages_per_session
        self._idle: list[_Session] = []
        self._closed = False

    async def send(self, message: OutgoingEmail) -> None:
        if self._closed:
            raise RuntimeError("the mailer is closed")
        mime = build_message(message, self._sender)
        recipient = str(message.to)
        session = await self._take_idle()
        if session is not None:
            try:
                await self._send_on(session, mime, recipient)
            except aiosmtplib.SMTPServerDisconnected:
                session = None  # ended by the relay while idle: the fresh session below
            except aiosmtplib.SMTPResponseException as exc:
                if exc.code != CLOSING_CHANNEL:
                    raise
                session = None
        if session is None:
            session = await self._open()
            await self._send_on(session, mime, recipient)
        await self._release(session)
        structlog.get_logger().info(
            "mail.sent",
            # the domain only: addresses are personal data and logs are kept long
            to_domain=recipient.rpartition("@")[2],
            message_id=mime["Message-ID"],
            relay=f"{self._host}:{self._port}",
        )

    async def aclose(self) -> None:
        """End every idle session; sends afterwards are refused."""
        self._closed = True
        idle, self._idle = self._idle, []
        for session in idle:
            await self._quit(session)

    async def _open(self) -> _Session:
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            use_tls=self._use_tls,
            start_tls=self._starttls,
            timeout=self._timeout,
            local_hostname=self._local_hostname,
        )
        await client.connect()
        return _Session(client)

    async def _send_on(self, session: _Session, mime: Message, recipient: str) -> None:
        try:
            await session.client.send_message(
                mime, sender=self._envelope_sender, recipients=[recipient]
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            session.client.close()
            permanent = [err for err in exc.recipients if 500 <= err.code < 600]
            if permanent and len(permanent) == len(exc.recipients):
                raise MailRejected(recipient, permanent[0].code, permanent[0].message) from exc
            raise
        except aiosmtplib.SMTPRecipientRefused as exc:
            session.client.close()
            if 500 <= exc.code < 600:
                raise MailRejected(recipient, exc.code, exc.message) from exc
            raise
        except aiosmtplib.SMTPResponseException as exc:  # MAIL FROM, DATA: 5xx is permanent
            session.client.close()
            if 500 <= exc.code < 600:
                raise MailRejected(recipient, exc.code, exc.message, _stage(exc)) from exc
            raise
        except BaseException:
            session.client.close()
            raise
        session.messages += 1

    async def _take_idle(self) -> _Session | None:
        now = time.monotonic()
        while self._idle:
            session = self._idle.pop()  # the most recently used first
            if session.client.is_connected and now - session.idle_since < self._idle_seconds:
                return session
            await self._quit(session)
        return None

    async def _release(self, session: _Session) -> None:
        if (
            self._closed
            or len(self._idle) >= self._max_idle
            or session.messages >= self._messages_per_session
        ):
            await self._quit(session)
            return
        session.idle_since = time.monotonic()
        self._idle.append(session)

    @staticmethod
    async def _quit(session: _Session) -> None:
        if not session.client.is_connected:
            session.client.close()
            return
        try:
            await session.client.quit(timeout=QUIT_TIMEOUT_SECONDS)
        except (aiosmtplib.SMTPException, OSError):
            session.client.close()


def _stage(refusal: aiosmtplib.SMTPResponseException) -> str:
    """The SMTP command a refusal answered, for the operator reading it."""
    if isinstance(refusal, aiosmtplib.SMTPSenderRefused):
        return "MAIL FROM"
    if isinstance(refusal, aiosmtplib.SMTPDataError):
        return "DATA"
    return "the SMTP exchange"
