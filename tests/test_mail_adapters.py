"""SmtpRelayMailer against the real SmtpSink over loopback."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pydantic
import pytest
from aiosmtplib.email import flatten_message
from structlog.testing import capture_logs

from adapters.mail import Mailer, MailRejected, OutgoingEmail
from adapters.mail.mime import UnsafeMailHeader, build_message, message_id_for
from adapters.mail.smtp_relay import SmtpRelayMailer
from adapters.mail.smtp_sink import SmtpSink, parse_eml, subject_of
from runtime.settings import Settings
from worker import mailer_from_settings

SENDER = "CSP Orchestrator <noreply@csp.example.com>"
LINK = "https://portal.example.com/verify-email?token=abc123&partner=42"


def relay_to(port: int) -> SmtpRelayMailer:
    return SmtpRelayMailer(
        "127.0.0.1",
        port,
        SENDER,
        starttls=False,
        timeout_seconds=10,
        local_hostname="localhost",
    )


def email(key: str = "enroll-1:verify", subject: str = "Verify your address") -> OutgoingEmail:
    return OutgoingEmail(
        idempotency_key=key,
        to="partner@contoso.example.com",
        subject=subject,
        body=f"Hello,\n\nPlease confirm: {LINK}\n",
    )


@pytest.fixture
async def sink(tmp_path: Path) -> AsyncIterator[SmtpSink]:
    async with SmtpSink(tmp_path / "outbox") as running:
        yield running


async def test_relay_delivers_to_sink_and_link_is_logged(sink: SmtpSink) -> None:
    mailer: Mailer = relay_to(sink.port)
    message = OutgoingEmail(
        idempotency_key="enroll-7:verify",
        to="partner@contoso.example.com",
        subject="メールアドレスの確認 / Verify",
        body=f"こんにちは、パートナー様。\n\n確認してください: {LINK}\n",
    )

    with capture_logs() as logs:
        await mailer.send(message)

    [stored] = await sink.wait_for_messages(1, timeout_seconds=5)
    assert stored["Subject"] == "メールアドレスの確認 / Verify"
    assert stored["To"] == "partner@contoso.example.com"
    assert stored["From"] == SENDER
    assert stored["Message-ID"] == message_id_for("enroll-7:verify")
    # The key names internal runs: it is in no header, only digested into the Message-ID.
    assert "enroll-7" not in str(stored)
    assert stored["Date"] is not None
    assert stored.get_content_type() == "text/plain"
    assert stored.get_content_charset() == "utf-8"
    assert stored.get_content() == message.body

    [path] = sink.folder.glob("*.eml")
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{6}Z-[0-9a-f]{12}\.eml", path.name)
    assert not list(sink.folder.glob(".*.tmp"))

    received = [e for e in logs if e["event"] == "smtp_sink.received"]
    assert received == [
        {
            "event": "smtp_sink.received",
            "log_level": "info",
            "recipient_count": 1,
            "file": path.name,
        }
    ]
    links = [e for e in logs if e["event"] == "smtp_sink.verification_link"]
    assert [(e["log_level"], e["verification_link"]) for e in links] == [("info", LINK)]
    # Nothing at INFO or above names the recipient (the subject only at DEBUG).
    shown = [e for e in logs if e["log_level"] != "debug"]
    assert "partner@contoso.example.com" not in repr(shown)
    assert "メールアドレスの確認" not in repr(shown)
    # The relay's own line names the domain only.
    [sent] = [e for e in logs if e["event"] == "mail.sent"]
    assert sent["to_domain"] == "contoso.example.com"


async def test_aiosmtpd_logs_no_address_at_info(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiosmtpd logs each envelope's sender and recipients at INFO on `mail.log`: the sink keeps
    that logger at WARNING, so a root logger at INFO records no address."""
    aiosmtpd_log = logging.getLogger("mail.log")
    monkeypatch.setattr(aiosmtpd_log, "level", logging.NOTSET)  # as in a fresh process
    async with SmtpSink(tmp_path / "outbox") as fresh:
        # The root logger at INFO, set after the sink started (as a later logging setup does).
        caplog.set_level(logging.INFO)
        await relay_to(fresh.port).send(email())
        await fresh.wait_for_messages(1, timeout_seconds=5)
    logging.getLogger("tests.control").info("control line")  # INFO records are captured
    texts = [record.getMessage() for record in caplog.records]
    assert "control line" in texts
    assert aiosmtpd_log.getEffectiveLevel() >= logging.WARNING
    assert not [t for t in texts if "contoso.example.com" in t or "noreply@" in t], texts


def test_relay_refuses_authentication_without_tls() -> None:
    with pytest.raises(ValueError, match="password in the clear"):
        SmtpRelayMailer("relay", 25, SENDER, username="u", password="p", starttls=False)
    SmtpRelayMailer("relay", 587, SENDER, username="u", password="p", starttls=True)
    SmtpRelayMailer("relay", 465, SENDER, username="u", password="p", starttls=False, use_tls=True)
    SmtpRelayMailer(
        "relay", 25, SENDER, username="u", password="p", starttls=False, allow_plaintext_auth=True
    )


def test_relay_auth_settings_need_tls_unless_explicitly_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("CSP_"):
            monkeypatch.delenv(name)
    credentials = {"smtp_username": "relay-user", "smtp_password": "relay-password"}
    with pytest.raises(pydantic.ValidationError, match="CSP_SMTP_STARTTLS=true"):
        Settings(**credentials)  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError, match="exclude each other"):
        Settings(smtp_starttls=True, smtp_tls=True)
    assert Settings(**credentials, smtp_starttls=True).smtp_starttls  # type: ignore[arg-type]
    assert Settings(**credentials, smtp_tls=True).smtp_tls  # type: ignore[arg-type]
    allowed = Settings(**credentials, smtp_allow_plaintext_auth=True)  # type: ignore[arg-type]
    assert allowed.smtp_allow_plaintext_auth
    assert Settings().smtp_username is None  # no credentials: no TLS needed (the dev sink)


async def test_sink_stores_messages_owner_only(sink: SmtpSink) -> None:
    await relay_to(sink.port).send(email())
    [stored] = [p for p in sink.folder.iterdir() if p.suffix == ".eml"]
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


async def test_same_key_gives_same_message_id(sink: SmtpSink) -> None:
    mailer = relay_to(sink.port)
    await mailer.send(email(key="k-1"))
    await mailer.send(email(key="k-1"))
    await mailer.send(email(key="k-2"))

    ids = [m["Message-ID"] for m in await sink.wait_for_messages(3, timeout_seconds=5)]
    assert ids[0] == ids[1] == message_id_for("k-1")
    assert ids[2] == message_id_for("k-2") != ids[0]
    assert re.fullmatch(r"<[0-9a-f]{32}@csp-orchestrator>", ids[0])


async def test_messages_are_listed_in_arrival_order(sink: SmtpSink) -> None:
    mailer = relay_to(sink.port)
    for i in range(5):
        await mailer.send(email(key=f"k-{i}", subject=f"message {i}"))

    assert [m["Subject"] for m in sink.messages()] == [f"message {i}" for i in range(5)]


async def test_concurrent_sends_are_all_stored(sink: SmtpSink) -> None:
    mailer = relay_to(sink.port)
    await asyncio.gather(*(mailer.send(email(key=f"c-{i}", subject=f"c {i}")) for i in range(8)))

    stored = await sink.wait_for_messages(8, timeout_seconds=5)
    assert sorted(m["Subject"] for m in stored) == sorted(f"c {i}" for i in range(8))
    assert len(list(sink.folder.glob("*.eml"))) == 8


async def test_stop_frees_the_port_and_refuses_connections(tmp_path: Path) -> None:
    first = SmtpSink(tmp_path / "first")
    await first.start()
    port = first.port
    await relay_to(port).send(email())
    await first.stop()
    await first.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = first.port

    with pytest.raises(ConnectionError) as caught:
        await relay_to(port).send(email())
    assert not isinstance(caught.value, MailRejected)

    async with SmtpSink(tmp_path / "second", port=port) as second:
        assert second.port == port
        await relay_to(port).send(email(subject="after restart"))
        [stored] = await second.wait_for_messages(1, timeout_seconds=5)
        assert stored["Subject"] == "after restart"


async def test_stop_closes_idle_client_connections(tmp_path: Path) -> None:
    sink = SmtpSink(tmp_path / "outbox")
    await sink.start()
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, local_hostname="localhost")
    await client.connect()
    try:
        await client.ehlo()
        await sink.stop()
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await client.noop()
    finally:
        client.close()


class _ReplySink(SmtpSink):
    """The real sink answering one SMTP command with `reply` (its subclasses say which)."""

    def __init__(self, folder: Path, reply: str) -> None:
        super().__init__(folder)
        self.reply = reply


class _RcptReplySink(_ReplySink):
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        return self.reply


async def test_permanent_recipient_rejection_raises_mail_rejected(tmp_path: Path) -> None:
    async with _RcptReplySink(tmp_path / "outbox", "550 no such user") as sink:
        with pytest.raises(MailRejected) as caught:
            await relay_to(sink.port).send(email())
        assert sink.messages() == []

    assert caught.value.code == 550
    assert caught.value.recipient == "partner@contoso.example.com"
    assert "no such user" in caught.value.reason
    # The message (it reaches logs and the workflow history) names the domain only.
    assert "partner@" not in str(caught.value)
    assert "contoso.example.com" in str(caught.value) and "550" in str(caught.value)


async def test_transient_recipient_rejection_is_retryable(tmp_path: Path) -> None:
    async with _RcptReplySink(tmp_path / "outbox", "450 mailbox busy") as sink:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
            await relay_to(sink.port).send(email())

    assert not isinstance(caught.value, MailRejected)
    assert [err.code for err in caught.value.recipients] == [450]


async def test_wait_for_messages_times_out(sink: SmtpSink) -> None:
    with pytest.raises(TimeoutError, match="expected 1 messages"):
        await sink.wait_for_messages(1, timeout_seconds=0.1)


def on_the_wire(message: OutgoingEmail, sender: str = SENDER) -> bytes:
    """The bytes the relay gets: the message flattened as aiosmtplib's `send_message` does."""
    return flatten_message(build_message(message, sender))


def test_build_message_headers() -> None:
    wire = on_the_wire(email(key="k-9"))
    mime = parse_eml(wire)

    assert wire.isascii()
    assert mime["From"] == SENDER
    assert mime["To"] == "partner@contoso.example.com"
    assert mime["Subject"] == "Verify your address"
    assert mime["Message-ID"] == message_id_for("k-9")
    assert b"k-9" not in wire
    assert mime["Date"].datetime.utcoffset().total_seconds() == 0
    assert (mime.get_content_type(), mime["Content-Transfer-Encoding"]) == ("text/plain", "7bit")
    assert mime.get_content() == email().body
    assert not [defect for part in mime.walk() for defect in part.defects]


def test_non_ascii_subject_name_and_body_are_encoded() -> None:
    """Japanese text goes out as RFC 2047 encoded words and a base64 UTF-8 body: 7-bit clean
    on the wire, and read back as written."""
    message = email(subject="メールアドレスの確認 / Verify").model_copy(
        update={"body": "こんにちは\n", "html": "<p>株式会社</p>"}
    )
    wire = on_the_wire(message, "CSP 運用チーム <noreply@csp.example.com>")
    mime = parse_eml(wire)

    assert wire.isascii()
    assert mime["Subject"] == "メールアドレスの確認 / Verify"
    assert mime["From"] == "CSP 運用チーム <noreply@csp.example.com>"
    assert mime["From"].addresses[0].addr_spec == "noreply@csp.example.com"
    assert mime.get_body(("plain",)).get_content() == "こんにちは\n"  # type: ignore[union-attr]
    assert mime.get_body(("html",)).get_content() == "<p>株式会社</p>"  # type: ignore[union-attr]
    assert not [defect for part in mime.walk() for defect in part.defects]


@pytest.mark.parametrize(
    "subject",
    [
        "Reminder: enrollment review pending for PartnerID 1234567, a subject longer than a line",
        "【要確認】コントソ株式会社 の CSP リセラー登録: メールアドレスの確認 (折り返し)",
    ],
)
def test_a_long_subject_is_folded_and_reads_back_as_written(subject: str) -> None:
    wire = on_the_wire(email(subject=subject))
    headers = wire.partition(b"\n\n")[0]
    assert all(len(line) <= 78 for line in headers.splitlines())
    assert subject_of(parse_eml(wire)) == subject


@pytest.mark.parametrize(
    "subject", ["Verify\r\nBcc: someone@attacker.example", "Verify\nyour address", "Verify\0"]
)
def test_a_line_break_in_a_header_value_is_refused(subject: str) -> None:
    with pytest.raises(UnsafeMailHeader, match="the Subject header"):
        build_message(email(subject=subject), SENDER)


def test_a_line_break_in_the_sender_is_refused() -> None:
    with pytest.raises(UnsafeMailHeader, match="the From header"):
        build_message(email(), "CSP\r\nBcc: someone@attacker.example <noreply@csp.example.com>")


def test_the_relay_refuses_a_sender_with_a_line_break_when_it_is_built() -> None:
    """A misconfigured CSP_MAIL_FROM fails the worker's start, not every email afterwards."""
    with pytest.raises(UnsafeMailHeader, match="the From header"):
        SmtpRelayMailer("relay", 587, "CSP\nBcc: someone@attacker.example <noreply@csp.example>")


async def test_a_non_ascii_mailbox_goes_out_as_utf8_over_smtputf8(sink: SmtpSink) -> None:
    """RFC 6532: an internationalized address is written as UTF-8 in the To header (encoded words
    are not allowed in an address), and aiosmtplib asks the relay for SMTPUTF8."""
    recipient = "担当者@例え.jp"
    await relay_to(sink.port).send(email().model_copy(update={"to": recipient}))

    [stored] = await sink.wait_for_messages(1, timeout_seconds=5)
    assert stored["To"] == recipient
    assert stored.get_content().splitlines() == email().body.splitlines()  # CRLF from SMTP
    [path] = sink.folder.glob("*.eml")
    assert f"To: {recipient}".encode() in path.read_bytes()


def test_relay_rejects_conflicting_tls_options() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        SmtpRelayMailer("relay", 465, SENDER, starttls=True, use_tls=True)
    with pytest.raises(ValueError, match="together"):
        SmtpRelayMailer("relay", 587, SENDER, username="user")


def test_build_message_with_html_is_multipart_alternative() -> None:
    plain = email(key="wf-1:run-7:link-1")
    html = "<p>Open <a href='https://gateway.example/v/r1.link-1.x.y'>the link</a></p>"
    wire = on_the_wire(plain.model_copy(update={"html": html}))
    mime = parse_eml(wire)

    assert mime.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in mime.iter_parts()]
    assert parts == ["text/plain", "text/html"]  # the last is the preferred one (RFC 2046)
    assert mime.get_body(("html",)).get_content() == html  # type: ignore[union-attr]
    assert mime.get_body(("plain",)).get_content() == plain.body  # type: ignore[union-attr]
    headers = "".join(f"{name}: {value}" for name, value in mime.items())
    assert "run-7" not in headers and "wf-1" not in headers
    assert mime["Message-ID"] == message_id_for("wf-1:run-7:link-1")


class _CountingSink(SmtpSink):
    """Counts SMTP sessions (one EHLO each) and QUITs with aiosmtpd's handler hooks; with
    `closing_after`, answers 421 to a session's MAIL once it carried that many messages, as a
    relay ending an idle client does (RFC 5321 3.8)."""

    def __init__(self, folder: Path, closing_after: int | None = None) -> None:
        super().__init__(folder)
        self.sessions = 0
        self.quits = 0
        self._closing_after = closing_after
        self._mails: dict[int, int] = {}

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        seen = self._mails.get(id(session), 0)
        if self._closing_after is not None and seen >= self._closing_after:
            return "421 4.4.2 csp-sink.localhost idle too long, closing"
        self._mails[id(session)] = seen + 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


def pooled_relay_to(port: int, **options: Any) -> SmtpRelayMailer:
    return SmtpRelayMailer(
        "127.0.0.1",
        port,
        SENDER,
        starttls=False,
        timeout_seconds=10,
        local_hostname="localhost",
        **options,
    )


async def test_relay_reuses_its_session_and_quits_it_on_close(tmp_path: Path) -> None:
    async with _CountingSink(tmp_path / "outbox") as sink:
        mailer = pooled_relay_to(sink.port)
        for n in range(3):
            await mailer.send(email(key=f"k-{n}", subject=f"message {n}"))
        await mailer.aclose()
        stored = await sink.wait_for_messages(3, timeout_seconds=5)

        assert sorted(str(m["Subject"]) for m in stored) == ["message 0", "message 1", "message 2"]
        assert (sink.sessions, sink.quits) == (1, 1)
        with pytest.raises(RuntimeError, match="closed"):
            await mailer.send(email(key="k-late"))


async def test_relay_limits_messages_per_session_and_idle_time(tmp_path: Path) -> None:
    async with _CountingSink(tmp_path / "outbox") as sink:
        capped = pooled_relay_to(sink.port, messages_per_session=2)
        for n in range(3):
            await capped.send(email(key=f"capped-{n}"))
        await capped.aclose()
        assert (sink.sessions, sink.quits) == (2, 2)

        never_idle = pooled_relay_to(sink.port, idle_seconds=0)
        for n in range(2):
            await never_idle.send(email(key=f"fresh-{n}"))
        await never_idle.aclose()
        assert (sink.sessions, sink.quits) == (4, 4)
        assert len(await sink.wait_for_messages(5, timeout_seconds=5)) == 5


async def test_relay_resends_on_a_fresh_session_when_the_relay_closes_an_idle_one(
    tmp_path: Path,
) -> None:
    async with _CountingSink(tmp_path / "outbox", closing_after=1) as sink:
        mailer = pooled_relay_to(sink.port)
        await mailer.send(email(key="first", subject="first"))
        await mailer.send(email(key="second", subject="second"))  # 421 on the reused session
        await mailer.aclose()
        stored = await sink.wait_for_messages(2, timeout_seconds=5)

    assert sorted(str(m["Subject"]) for m in stored) == ["first", "second"]
    assert sink.sessions == 2


async def test_relay_opens_a_new_session_after_the_relay_restarts(tmp_path: Path) -> None:
    first = SmtpSink(tmp_path / "outbox")
    await first.start()
    port = first.port
    mailer = pooled_relay_to(port)
    try:
        await mailer.send(email(key="before", subject="before restart"))
        await first.stop()  # closes the idle session from the relay's side
        async with SmtpSink(tmp_path / "outbox", port=port) as second:
            await mailer.send(email(key="after", subject="after restart"))
            stored = await second.wait_for_messages(2, timeout_seconds=5)
        assert sorted(str(m["Subject"]) for m in stored) == ["after restart", "before restart"]
    finally:
        await mailer.aclose()


async def test_session_reuse_follows_the_settings(tmp_path: Path) -> None:
    async with _CountingSink(tmp_path / "outbox") as sink:
        for idle, sessions in ((30.0, 1), (0.0, 2)):
            settings = Settings(smtp_port=sink.port, smtp_session_idle_seconds=idle)
            mailer = mailer_from_settings(settings)
            before = sink.sessions
            for n in range(2):
                await mailer.send(email(key=f"{idle}-{n}"))
            await mailer.aclose()
            assert sink.sessions - before == sessions
    with pytest.raises(pydantic.ValidationError, match="smtp_session_idle_seconds"):
        Settings(smtp_session_idle_seconds=-1)


async def test_a_refused_recipient_ends_the_session(tmp_path: Path) -> None:
    async with _RcptReplySink(tmp_path / "outbox", "550 no such user") as sink:
        mailer = pooled_relay_to(sink.port)
        for _ in range(2):
            with pytest.raises(MailRejected):
                await mailer.send(email())
        await mailer.aclose()
        assert sink.messages() == []


class _MailFromReplySink(_ReplySink):
    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        return self.reply


class _DataReplySink(_ReplySink):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.reply


@pytest.mark.parametrize(
    ("sink_type", "reply", "stage"),
    [
        (_MailFromReplySink, "550 5.7.1 sender not allowed", "MAIL FROM"),
        (_MailFromReplySink, "553 5.1.8 sender address rejected", "MAIL FROM"),
        (_DataReplySink, "554 5.7.1 message rejected as spam", "DATA"),
        (_DataReplySink, "552 5.3.4 message too big", "DATA"),
    ],
)
async def test_a_permanent_refusal_of_the_sender_or_the_message_is_not_retried(
    tmp_path: Path, sink_type: type[_ReplySink], reply: str, stage: str
) -> None:
    """RFC 5321 4.2.1: "5yz Permanent Negative Completion reply ... The SMTP client SHOULD NOT
    repeat the exact request"; the replies are RFC 5321 4.2.3's 550, 552, 553 and 554 with RFC
    3463 enhanced codes. Refused at MAIL FROM or at DATA, the send raises MailRejected naming the
    stage and the code (the activity makes it non-retryable), as a refused recipient does."""
    async with sink_type(tmp_path / "outbox", reply) as sink:
        with pytest.raises(MailRejected) as caught:
            await relay_to(sink.port).send(email())
        assert sink.messages() == []
    code = int(reply[:3])
    assert (caught.value.code, caught.value.stage) == (code, stage)
    assert f"refused at {stage} with {code}" in str(caught.value)
    assert "partner@" not in str(caught.value)


async def test_a_transient_refusal_at_data_is_retried(tmp_path: Path) -> None:
    """RFC 5321 4.2.1: "4yz Transient Negative Completion reply": 451 at DATA stays retryable."""
    async with _DataReplySink(tmp_path / "outbox", "451 4.3.0 try again later") as sink:
        with pytest.raises(aiosmtplib.SMTPDataError) as caught:
            await relay_to(sink.port).send(email())
    assert not isinstance(caught.value, MailRejected)
    assert caught.value.code == 451
