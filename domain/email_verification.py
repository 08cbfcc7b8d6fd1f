"""Email verification (ENR-06): the request a parent pipeline starts the child with, the token
update the gateway sends, the resend, the status and the result."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, EmailStr

from domain.calendar import BusinessTimeZone
from domain.locale import Locale
from domain.messages import Message, SignalRefusal


class EmailVerificationRequest(Message):
    partner_id: str
    recipient: EmailStr
    recipient_name: str
    legal_name: str
    deadline: AwareDatetime
    """With its UTC offset: the link's expiry is counted from it against the workflow's clock (a
    naive instant is refused when the input is decoded, not on every workflow task)."""
    resend_after_business_days: int = 1
    business_time_zone: BusinessTimeZone = "UTC"
    """The IANA zone whose weekdays count as business days for the resend (ENR-06, DB-07)."""
    locale: Locale | None = None
    time_zone: str | None = None


class VerifyEmail(Message):
    """The token from the link, as the gateway received it."""

    token: str


class ResendVerification(Message):
    requested_by: str


class EmailVerificationStatus(Message):
    verified: bool
    links_sent: int
    deadline: datetime
    resend_allowed_from: datetime | None
    signal_refusals: tuple[SignalRefusal, ...] = ()
    """Decisions sent as signals and refused, latest last (a signal has no answer)."""
    legal_name: str | None = None
    """For the confirmation page: whose enrollment the link confirms."""
    partner_id: str | None = None
    locale: Locale | None = None
    time_zone: str | None = None


class EmailVerificationResult(Message):
    verified: bool
    verified_at: datetime | None
    links_sent: int
