"""The text of every email the pipelines send, rendered from a kind and its facts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr


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
    link: str | None = None


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def render(facts: EmailFacts) -> tuple[str, str]:
    """(subject, body) for the facts."""
    who = f"{facts.legal_name} (PartnerID {facts.partner_id})"
    greeting = f"Dear {facts.recipient_name},\n\n"
    texts: dict[EmailKind, tuple[str, str]] = {
        EmailKind.VERIFICATION_LINK: (
            "Confirm your email address for your CSP reseller enrollment",
            f"the enrollment of {who} as a CSP indirect reseller names you as primary contact.\n"
            f"Open this link to confirm that you registered and that this address belongs to the "
            f"company:\n\n{facts.link}\n\nThe link works until {_when(facts.deadline)}.",
        ),
        EmailKind.UNDER_REVIEW: (
            "Your CSP reseller enrollment is under review",
            f"thank you for confirming your email address. Microsoft is reviewing the enrollment "
            f"of {who}; this can take several days. We will email you when it is decided.",
        ),
        EmailKind.REVIEW_REMINDER: (
            f"Reminder: enrollment review pending for PartnerID {facts.partner_id}",
            f"the enrollment of {who} is still waiting for a review decision. "
            f"It is abandoned if no decision arrives by {_when(facts.deadline)}.",
        ),
        EmailKind.APPROVED: (
            "Your CSP reseller enrollment is approved",
            f"the enrollment of {who} is approved. We are completing the account set-up.",
        ),
        EmailKind.REJECTED: (
            "Your CSP reseller enrollment was not accepted",
            f"the enrollment of {who} was not accepted.\nReason: {facts.reason}",
        ),
        EmailKind.SIGN_MPA: (
            "Action needed: sign the Microsoft Partner Agreement",
            f"{who} must sign the Microsoft Partner Agreement in Partner Center before it can "
            f"transact. Please sign it by {_when(facts.deadline)}.",
        ),
        EmailKind.ACTIVE: (
            "Your CSP reseller account is active",
            f"{who} is now an active CSP indirect reseller and can transact through its indirect "
            f"provider.",
        ),
        EmailKind.ABANDONED: (
            "Your CSP reseller enrollment has lapsed",
            f"the enrollment of {who} has lapsed.\nReason: {facts.reason}\n"
            f"You can start a new enrollment at any time.",
        ),
        EmailKind.WITHDRAWN: (
            "Your CSP reseller enrollment was withdrawn",
            f"the enrollment of {who} was withdrawn.\nReason: {facts.reason}",
        ),
    }
    subject, text = texts[facts.kind]
    return subject, greeting + text + "\n\n-- CSP Enrollment\n"
