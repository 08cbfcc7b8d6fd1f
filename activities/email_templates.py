"""The text of every email the pipelines send, rendered from a kind and its facts."""

from __future__ import annotations

from datetime import datetime

from domain.notifications import EmailFacts, EmailKind


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
        # Direct-bill application (DB-01..DB-11, RA-03)
        EmailKind.DB_SUBMITTED: (
            f"Direct-bill application for {facts.region}: requirements met",
            f"the direct-bill application of {who} for {facts.region} meets the initial "
            "requirements and is with Microsoft for review. We will email you at each decision.",
        ),
        EmailKind.DB_REFUSED: (
            f"Direct-bill application for {facts.region} cannot proceed",
            f"the direct-bill application of {who} for {facts.region} cannot proceed.\n"
            f"{facts.reason}",
        ),
        EmailKind.DB_ASSESSMENT_REQUESTED: (
            f"Complete the direct-bill capability assessment for {facts.region}",
            f"Microsoft asks {who} to complete the capability assessment (Sell, Secure, Support) "
            f"by {_when(facts.deadline)}.",
        ),
        EmailKind.DB_ASSESSMENT_REMINDER: (
            f"Reminder: direct-bill capability assessment due {_when(facts.deadline)}",
            f"the capability assessment of {who} for {facts.region} is still open. "
            f"The application lapses if it is not submitted by {_when(facts.deadline)}.",
        ),
        EmailKind.DB_INFORMATION_REQUESTED: (
            f"Microsoft needs more information for your direct-bill application ({facts.region})",
            f"Microsoft asks {who}:\n\n{facts.reason}\n\n"
            f"Please answer by {_when(facts.deadline)}; the application waits until then.",
        ),
        EmailKind.DB_APPROVED: (
            f"Direct-bill application for {facts.region} approved",
            f"the direct-bill application of {who} for {facts.region} is approved. Next, submit "
            f"the enrollment form in Partner Center by {_when(facts.deadline)}.",
        ),
        EmailKind.DB_REJECTED: (
            f"Direct-bill application for {facts.region} not approved",
            f"the direct-bill application of {who} for {facts.region} was not approved.\n"
            f"Reason: {facts.reason}\nA new application is possible from {_when(facts.deadline)}.",
        ),
        EmailKind.DB_CREDIT_APPROVED: (
            f"Credit review passed: purchase your support plan ({facts.region})",
            f"{who} passed the credit review. Unless the company already has one, purchase "
            f"Advanced or Premier Support for Partners now, by {_when(facts.deadline)}.",
        ),
        EmailKind.DB_ACCEPT_MPA: (
            f"Accept the Microsoft Partner Agreement for direct bill ({facts.region})",
            f"the support plan of {who} is recorded. Accept the Microsoft Partner Agreement by "
            f"{_when(facts.deadline)} to activate the direct-bill tenant.",
        ),
        EmailKind.DB_ACTIVE: (
            f"Your direct-bill tenant for {facts.region} is active",
            f"{who} is now a direct-bill partner in {facts.region}.",
        ),
        EmailKind.DB_EXPIRED: (
            f"Direct-bill application for {facts.region} lapsed",
            f"the direct-bill application of {who} for {facts.region} lapsed.\n"
            f"Reason: {facts.reason}",
        ),
        EmailKind.DB_WITHDRAWN: (
            f"Direct-bill application for {facts.region} withdrawn",
            f"the direct-bill application of {who} for {facts.region} was withdrawn.\n"
            f"Reason: {facts.reason}",
        ),
        # Annual re-assessment and transition (RA-01..RA-03, DB-04)
        EmailKind.RA_QUESTIONNAIRE: (
            f"Annual direct-bill re-assessment for {facts.region}: questionnaire due",
            f"{who} is due for its annual direct-bill re-assessment in {facts.region}. Submit the "
            f"capability questionnaire by {_when(facts.deadline)}; without it the partner moves "
            "to the indirect-reseller model.",
        ),
        EmailKind.RA_QUESTIONNAIRE_REMINDER: (
            f"Reminder: re-assessment questionnaire due {_when(facts.deadline)}",
            f"the annual re-assessment questionnaire of {who} for {facts.region} is still open.",
        ),
        EmailKind.RA_PASSING_SCORE: (
            f"Passing re-assessment score ({facts.region}): renew your support plan",
            f"{who} passed the capability re-assessment. Renew its premium support plan and "
            f"report the renewal by {_when(facts.deadline)}.",
        ),
        EmailKind.RA_PASSED: (
            f"Direct-bill re-assessment passed ({facts.region})",
            f"{who} remains a direct-bill partner in {facts.region}. {facts.reason or ''}",
        ),
        EmailKind.RA_TRANSITION: (
            f"Direct bill in {facts.region} ends: transition to indirect reseller",
            f"{who} no longer meets the direct-bill requirements in {facts.region} and moves to "
            f"the indirect-reseller model to keep transacting in CSP.\nFailed requirements:\n"
            f"{facts.reason}\nA new direct-bill application is possible from "
            f"{_when(facts.deadline)}.",
        ),
    }
    texts.update(_relationship_texts(facts, who))
    subject, text = texts[facts.kind]
    return subject, greeting + text + "\n\n-- CSP Enrollment\n"


def _relationship_texts(facts: EmailFacts, who: str) -> dict[EmailKind, tuple[str, str]]:
    """Partnerships, customer invitations and orders (DOMAIN.md sections 3-6). A Partner Center
    link is printed exactly as given (REL-03, CUS-02)."""
    message = f"{facts.message}\n\n" if facts.message else ""
    link = f"{facts.link}\n\nThe link works until {_when(facts.deadline)}."
    return {
        EmailKind.PARTNERSHIP_REQUEST: (
            f"{facts.legal_name} requests a CSP indirect partnership with your company",
            f"{message}{who} asks your company to authorize it as your indirect provider in the "
            "Cloud Solution Provider program. Open this link in Partner Center and select "
            f"'Authorize indirect provider':\n\n{link}",
        ),
        EmailKind.PARTNERSHIP_REMINDER: (
            f"Reminder: {facts.legal_name} awaits your CSP partnership acceptance",
            f"{who} still awaits your acceptance of its partnership request. Open this link in "
            f"Partner Center and select 'Authorize indirect provider':\n\n{link}",
        ),
        EmailKind.PARTNERSHIP_ACTIVE: (
            f"Your CSP partnership with {facts.legal_name} is active",
            f"the partnership with {who} is active. Each of you now appears on the other's list "
            "in Partner Center.",
        ),
        EmailKind.PARTNERSHIP_EXPIRED: (
            f"Partnership request to PartnerID {facts.partner_id} lapsed",
            f"the partnership request to {who} lapsed.\nReason: {facts.reason}",
        ),
        EmailKind.PARTNERSHIP_REMOVED: (
            f"Partnership with PartnerID {facts.partner_id} removed",
            f"the partnership with {who} is removed.\nReason: {facts.reason}\n\nIts customers "
            "and their delegated admin privileges are unchanged. This tool sends no notice to "
            "customers or the partner: any legal notice your contracts require is yours to send.",
        ),
        EmailKind.RESELLER_SUSPENDED: (
            f"Reseller PartnerID {facts.partner_id}: tenant suspended",
            f"the tenant of {who} is suspended.\nReason: {facts.reason}\n\nMicrosoft revokes "
            "delegated admin (GDAP) access to all its customers, and it cannot be Partner of "
            "Record on new orders while suspended.",
        ),
        EmailKind.CUSTOMER_INVITATION: (
            f"{facts.legal_name} invites you to a reseller relationship",
            f"{message}{who} invites your organisation to establish a reseller relationship. "
            f"Sign in as a Global admin of your tenant and accept here:\n\n{link}",
        ),
        EmailKind.CUSTOMER_INVITATION_REMINDER: (
            f"Reminder: reseller relationship invitation from {facts.legal_name}",
            f"the invitation from {who} is still open. Sign in as a Global admin of your tenant "
            f"and accept here:\n\n{link}",
        ),
        EmailKind.CUSTOMER_INVITATION_EXPIRED: (
            f"Customer invitation by PartnerID {facts.partner_id} lapsed",
            f"the customer invitation sent for {who} lapsed.\nReason: {facts.reason}",
        ),
        EmailKind.GDAP_REGRANT_NEEDED: (
            f"Reseller PartnerID {facts.partner_id} reinstated: grant delegated admin again",
            f"the tenant of {who} is reinstated. Microsoft revoked its delegated admin (GDAP) "
            f"access while it was suspended; these customers need it granted again:\n"
            f"{facts.reason}\n\nReport each one once granted, by {_when(facts.deadline)}; "
            "customers not reported by then are recorded as given up.",
        ),
        EmailKind.ORDER_BLOCKED: (
            f"Order blocked for provider PartnerID {facts.partner_id}",
            f"an order of {who} is blocked.\n{facts.reason}\n\nFix it by "
            f"{_when(facts.deadline)}, or the order fails.",
        ),
    }
