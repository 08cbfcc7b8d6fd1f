"""What the pipelines tell people: the kinds of email and the facts a template may mention.

The texts themselves are rendered by activities/email_templates.py.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import TypedDict

from pydantic import BaseModel, ConfigDict, EmailStr

from domain.locale import Locale, TimeZoneName, default_locale, default_time_zone


class EmailKind(StrEnum):
    VERIFICATION_LINK = "verification_link"
    UNDER_REVIEW = "under_review"
    REVIEW_REMINDER = "review_reminder"
    APPROVED = "approved"
    REJECTED = "rejected"
    SIGN_MPA = "sign_mpa"
    ACTIVE = "active"
    ABANDONED = "abandoned"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"

    DB_SUBMITTED = "db_submitted"
    DB_REFUSED = "db_refused"
    DB_ASSESSMENT_REQUESTED = "db_assessment_requested"
    DB_ASSESSMENT_REMINDER = "db_assessment_reminder"
    DB_INFORMATION_REQUESTED = "db_information_requested"
    DB_APPROVED = "db_approved"
    DB_REJECTED = "db_rejected"
    DB_CREDIT_APPROVED = "db_credit_approved"
    DB_ACCEPT_MPA = "db_accept_mpa"
    DB_ACTIVE = "db_active"
    DB_EXPIRED = "db_expired"
    DB_WITHDRAWN = "db_withdrawn"
    DB_CANCELLED = "db_cancelled"
    RA_QUESTIONNAIRE = "ra_questionnaire"
    RA_QUESTIONNAIRE_REMINDER = "ra_questionnaire_reminder"
    RA_PASSING_SCORE = "ra_passing_score"
    RA_PASSED = "ra_passed"
    RA_TRANSITION = "ra_transition"
    RA_SECURITY_REMEDIATION = "ra_security_remediation"
    RA_SECURITY_REMEDIATION_REMINDER = "ra_security_remediation_reminder"
    RA_CHOOSE_PROVIDER = "ra_choose_provider"
    RA_NO_PROVIDER = "ra_no_provider"

    PARTNERSHIP_REQUEST = "partnership_request"
    PARTNERSHIP_REMINDER = "partnership_reminder"
    PARTNERSHIP_ACTIVE = "partnership_active"
    PARTNERSHIP_EXPIRED = "partnership_expired"
    PARTNERSHIP_REMOVED = "partnership_removed"
    RESELLER_SUSPENDED = "reseller_suspended"
    CUSTOMER_INVITATION = "customer_invitation"
    CUSTOMER_INVITATION_REMINDER = "customer_invitation_reminder"
    CUSTOMER_INVITATION_EXPIRED = "customer_invitation_expired"
    ORDER_BLOCKED = "order_blocked"
    PIPELINES_RECONCILED = "pipelines_reconciled"
    GDAP_REGRANT_NEEDED = "gdap_regrant_needed"
    POR_SWEEP_REPORT = "por_sweep_report"


class EmailFacts(BaseModel):
    """What a template may mention. Never carries secrets other than the verification link."""

    model_config = ConfigDict(frozen=True)

    kind: EmailKind
    to: EmailStr
    partner_id: str
    recipient_name: str
    legal_name: str
    reason: str | None = None
    deadline: datetime | None = None
    allowed_from: date | None = None
    """The first calendar day something is allowed again (RA-03: a new direct-bill application),
    a date in the business time zone: shown as that date, never moved into the reader's zone."""
    link: str | None = None
    region: str | None = None
    message: str | None = None
    """Text the requester wrote (REL-03: editable), shown above an unchanged link."""
    locale: Locale = Locale.EN
    """The recipient's language (domain/locale.py)."""
    time_zone: TimeZoneName = "UTC"
    """Where the recipient reads dates (IANA name)."""


class Reader(TypedDict):
    locale: Locale
    time_zone: str


def reader(locale: Locale | None, time_zone: str | None, country: str | None) -> Reader:
    """`locale` and `time_zone` facts for a contact (`EmailFacts(**reader(...))`): as given, else
    by country."""
    return Reader(
        locale=locale or default_locale(country),
        time_zone=time_zone or default_time_zone(country),
    )
