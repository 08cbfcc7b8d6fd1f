"""Local SMTP server for the embedded default: stores every message as an .eml file."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import socket
import weakref
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import structlog
from aiosmtpd.smtp import SMTP

VERIFICATION_LINK = re.compile(r"""https?://[^\s<>"']*/(?:verify-email\?|v/)[^\s<>"']*""")


def link_token(link: str) -> str:
    """The token in a verification link: `/v/<token>` (short) or `/verify-email?token=<token>`."""
    parts = urlsplit(link)
    if "/v/" in parts.path:
        return unquote(parts.path.rpartition("/v/")[2])
    return parse_qs(parts.query)["token"][0]


def parse_eml(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def subject_of(message: EmailMessage) -> str:
    """The subject as a reader sees it. A subject too long for the first header line is folded
    right after "Subject:"; mail clients drop that folding space, Python's parser keeps it."""
    return str(message.get("Subject", "")).strip()


def text_of(message: EmailMessage) -> str:
    """The plain-text body of `message` (its text/plain alternative when multipart)."""
    part = message.get_body(("plain",))
    if part is None:
        return ""
    assert isinstance(part, EmailMessage)
    text = part.get_content()
    return text if isinstance(text, str) else ""


def verification_links(message: EmailMessage) -> list[str]:
    """Verification URLs in the decoded text parts of `message`, in order of appearance."""
    links: list[str] = []
    for part in message.walk():
        if part.get_content_maintype() != "text" or part.is_multipart():
            continue
        assert isinstance(part, EmailMessage)
        text = part.get_content()
        if isinstance(text, str):
            links.extend(link for link in VERIFICATION_LINK.findall(text) if link not in links)
    return links


class SmtpSink:
    """An SMTP server on the running asyncio loop that accepts everything and files it.

    Each message becomes `<UTC timestamp>-<short hash>.eml` in `folder`; its verification links
    are logged so an operator can click them from the console.
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        server_hostname: str = "csp-sink.localhost",
    ) -> None:
        self._folder = Path(folder)
        self._host = host
        self._requested_port = port
        # aiosmtpd would otherwise call socket.getfqdn() per connection.
        self._server_hostname = server_hostname
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[Any] = weakref.WeakSet()
        self._last_stamp = datetime.min.replace(tzinfo=UTC)

    @property
    def folder(self) -> Path:
        return self._folder

    @property
    def port(self) -> int:
        """The bound port (the OS-chosen one when constructed with port 0)."""
        if self._server is None:
            raise RuntimeError("SmtpSink is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("SmtpSink is already running")
        self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # aiosmtpd logs every sender and recipient address at INFO on "mail.log".
        aiosmtpd_log = logging.getLogger("mail.log")
        if aiosmtpd_log.level < logging.WARNING:  # its own level: NOTSET would follow the root
            aiosmtpd_log.setLevel(logging.WARNING)
        loop = asyncio.get_running_loop()
        host = self._host
        if self._requested_port == 0:
            # A name like "localhost" would bind one socket per address, each on a
            # different free port; bind only the first address so `port` is unambiguous.
            infos = await loop.getaddrinfo(
                host or None, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            host = str(infos[0][4][0])
        self._server = await loop.create_server(
            lambda: self._new_session(loop), host, self._requested_port
        )
        structlog.get_logger().info(
            "smtp_sink.started", host=host, port=self.port, folder=str(self._folder)
        )

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        # Before Python 3.12 wait_closed() does not wait for open connections; close them here.
        handlers: list[asyncio.Task[None]] = []
        for session in list(self._sessions):
            transport = session.transport
            if transport is not None:
                transport.close()
            task = getattr(session, "_handler_coroutine", None)
            if isinstance(task, asyncio.Task) and not task.done():
                handlers.append(task)
        if handlers:
            await asyncio.wait(handlers, timeout=5)
        await server.wait_closed()
        structlog.get_logger().info("smtp_sink.stopped", folder=str(self._folder))

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def messages(self) -> list[EmailMessage]:
        """Every stored message, oldest first."""
        if not self._folder.is_dir():
            return []
        return [parse_eml(path.read_bytes()) for path in sorted(self._folder.glob("*.eml"))]

    async def wait_for_messages(self, count: int, timeout_seconds: float) -> list[EmailMessage]:
        """Poll until at least `count` messages are stored; TimeoutError if that takes too long."""
        try:
            async with asyncio.timeout(timeout_seconds):
                while True:
                    found = await asyncio.to_thread(self.messages)
                    if len(found) >= count:
                        return found
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise TimeoutError(
                f"expected {count} messages in {self._folder}, have {len(self.messages())}"
            ) from None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd hook: store the message, then log it."""
        log = structlog.get_logger()
        content: bytes = envelope.original_content or envelope.content
        recipients = list(envelope.rcpt_tos)
        try:
            path = await asyncio.to_thread(self._store, content, self._next_stamp())
        except OSError:
            log.exception("smtp_sink.store_failed", recipient_count=len(recipients))
            return "451 Requested action aborted: local error in processing"
        try:
            message = parse_eml(content)
            subject = subject_of(message)
            links = verification_links(message)
        except Exception:
            # The message is already stored; a body we cannot decode must not bounce it.
            log.warning("smtp_sink.unparseable", recipient_count=len(recipients), file=path.name)
            return "250 Message accepted for delivery"
        # Never the recipients or the subject at INFO (addresses and names are personal data);
        # the verification link is what a developer needs from the dev sink.
        log.info("smtp_sink.received", recipient_count=len(recipients), file=path.name)
        log.debug("smtp_sink.received_subject", subject=subject, file=path.name)
        for link in links:
            log.info("smtp_sink.verification_link", verification_link=link, file=path.name)
        return "250 Message accepted for delivery"

    def _new_session(self, loop: asyncio.AbstractEventLoop) -> Any:
        session = SMTP(self, hostname=self._server_hostname, enable_SMTPUTF8=True, loop=loop)
        self._sessions.add(session)
        return session

    def _next_stamp(self) -> datetime:
        # Strictly increasing, so sorting file names sorts by arrival even within one tick.
        stamp = max(datetime.now(UTC), self._last_stamp + timedelta(microseconds=1))
        self._last_stamp = stamp
        return stamp

    def _store(self, content: bytes, stamp: datetime) -> Path:
        digest = hashlib.sha256(content).hexdigest()[:12]
        path = self._folder / f"{stamp:%Y%m%dT%H%M%S.%fZ}-{digest}.eml"
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(content)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return path
