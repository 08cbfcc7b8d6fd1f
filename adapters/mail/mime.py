"""The MIME form of an `OutgoingEmail`, built with the `email.mime` classes (policy `compat32`).

The default policy's `EmailMessage` parses and refolds every header through the header registry;
it cost about four times as much CPU as these classes for the same message (bench/README.md),
and a worker builds four messages an enrollment. `compat32` does not guard what the default policy
guards, so this module does, once, for every header it writes:

- no header value carries a line break or NUL (header injection): `UnsafeMailHeader`;
- non-ASCII text (a subject, a display name) goes out as RFC 2047 encoded words;
- a non-ASCII mailbox (RFC 6532) goes out as raw UTF-8, never as encoded words, which no
  address may contain; aiosmtplib then asks the relay for SMTPUTF8 and refuses to send to one
  that lacks it.

A body is 7-bit US-ASCII when it is ASCII in lines RFC 5322 allows (readable as it is in the sink's
.eml files), otherwise UTF-8 in base64 (7-bit clean for any relay, compact for Japanese text).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr, quote

from adapters.mail import OutgoingEmail

MESSAGE_ID_DOMAIN = "csp-orchestrator"
LINE_BREAKS = ("\r", "\n", "\0")
MAX_LINE = 998
"""RFC 5322 2.1.1: the longest line a message may carry, CRLF excluded."""


class UnsafeMailHeader(ValueError):
    """A header value would break the message's header block (a line break or NUL in it)."""

    def __init__(self, header: str, value: str) -> None:
        super().__init__(
            f"the {header} header of an email carries a line break or NUL character "
            f"({value[:60]!r}); refused: it would let the value write headers of its own"
        )
        self.header = header


def message_id_for(idempotency_key: str) -> str:
    """Deterministic Message-ID, so every retry of one send carries the same id."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{MESSAGE_ID_DOMAIN}>"


def build_message(message: OutgoingEmail, sender: str) -> Message:
    """The MIME message for `message`, From `sender`: the plain-text body, and with an HTML body
    multipart/alternative (text first, HTML preferred). No header names an internal id."""
    body = _text_part(message.body, "plain")
    mime: Message
    if message.html is None:
        mime = body
    else:
        mime = MIMEMultipart("alternative", _subparts=[body, _text_part(message.html, "html")])
    mime["From"] = mailbox_header("From", sender)
    mime["To"] = mailbox_header("To", str(message.to))
    mime["Subject"] = _text("Subject", message.subject)  # type: ignore[assignment]  # takes a Header
    mime["Date"] = format_datetime(datetime.now(UTC))
    mime["Message-ID"] = message_id_for(message.idempotency_key)
    return mime


def _text_part(text: str, subtype: str) -> MIMENonMultipart:
    if text.isascii() and all(len(line) <= MAX_LINE for line in text.splitlines()):
        return MIMEText(text, subtype, "us-ascii")  # 7bit: the text as it is
    return MIMEText(text, subtype, "utf-8")  # base64: compact for Japanese text


def _checked(header: str, value: str) -> str:
    if any(character in value for character in LINE_BREAKS):
        raise UnsafeMailHeader(header, value)
    return value


def _text(header: str, value: str) -> str | Header:
    value = _checked(header, value)
    return value if value.isascii() else Header(value, "utf-8", header_name=header)


def mailbox_header(header: str, value: str) -> str:
    """`value` (`Name <address>` or an address) as the header value that carries it."""
    name, address = parseaddr(_checked(header, value))
    if not address:
        raise ValueError(f"the {header} header of an email is not an address: {value!r}")
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    # RFC 6532: the UTF-8 octets themselves. compat32 writes a value with surrogate escapes
    # byte for byte when the message goes out 8-bit (which SMTPUTF8 implies).
    shown = f'"{quote(name)}" <{address}>' if name else address
    return shown.encode("utf-8").decode("ascii", "surrogateescape")
