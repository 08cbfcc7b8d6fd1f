"""The names operators and backends type: task queue, workflow types, update/query names, workflow
ids and search attributes. Changing any of these breaks running pipelines and scripts: don't."""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

TASK_QUEUE = "csp-enrollment"

# Workflow types
RESELLER_ENROLLMENT = "ResellerEnrollment"
EMAIL_VERIFICATION = "EmailVerification"

# Updates and queries
UPDATE_VERIFY_EMAIL = "verify_email"
UPDATE_RESEND_VERIFICATION = "resend_verification_email"
UPDATE_DECIDE_REVIEW = "decide_review"
UPDATE_REPORT_MPA_SIGNED = "report_mpa_signed"
UPDATE_WITHDRAW = "withdraw"
QUERY_STATUS = "status"

MEMO_LEAN_STEPS = "lean_steps"
"""Memo key a starter built with issue 17's lean steps sets (the re-assessment sweep's start
activity): the run takes them without recording their patch marker (`workflows.pipeline`)."""

# Search attributes (never names or emails: they are not encrypted)
SA_PARTNER_ID = SearchAttributeKey.for_keyword("PartnerId")
SA_STAGE = SearchAttributeKey.for_keyword("PipelineStage")
SA_REGION = SearchAttributeKey.for_keyword("Region")
SA_OUTCOME = SearchAttributeKey.for_keyword("Outcome")
SA_NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
SA_ATTENTION = SearchAttributeKey.for_keyword("Attention")


def partner_search_attributes(partner_id: str, region: str) -> TypedSearchAttributes:
    """A pipeline's partner and region, set by its starter (found from its first event)."""
    return TypedSearchAttributes(
        [SearchAttributePair(SA_PARTNER_ID, partner_id), SearchAttributePair(SA_REGION, region)]
    )


"""Set when the pipeline needs an operator (a step that retrying cannot fix, or retries exhausted):
which step and the error type; never personal data. Find them with `Attention IS NOT NULL`."""

SEARCH_ATTRIBUTES = (
    SA_PARTNER_ID,
    SA_STAGE,
    SA_REGION,
    SA_OUTCOME,
    SA_NEXT_DEADLINE,
    SA_ATTENTION,
)


def reseller_enrollment_id(partner_id: str) -> str:
    return f"reseller-enrollment-{partner_id}"


def email_verification_id(parent_workflow_id: str) -> str:
    return f"{parent_workflow_id}-email-verification"


# Short verification links (domain/verification_token.py): the email-verification child of a
# reseller enrollment is named by "r<PartnerID>" in the link instead of its workflow id.
_LINK_KEY_PREFIX = "r"


def verification_link_key(workflow_id: str) -> str | None:
    """The short key of a verification workflow, or None when it has none (long link)."""
    start, end = reseller_enrollment_id(""), email_verification_id("")
    if workflow_id.startswith(start) and workflow_id.endswith(end):
        partner_id = workflow_id[len(start) : -len(end)]
        if partner_id:
            return f"{_LINK_KEY_PREFIX}{partner_id}"
    return None


def workflow_for_link_key(key: str) -> str | None:
    if key.startswith(_LINK_KEY_PREFIX) and len(key) > len(_LINK_KEY_PREFIX):
        return email_verification_id(reseller_enrollment_id(key[len(_LINK_KEY_PREFIX) :]))
    return None


# Direct-bill application (DOMAIN.md section 7)
DIRECT_BILL_APPLICATION = "DirectBillApplication"
CREDIT_REVIEW = "CreditReview"
UPDATE_REPORT_INITIAL_REVIEW = "report_initial_review"
UPDATE_SUBMIT_ASSESSMENT = "submit_assessment"
UPDATE_REQUEST_INFORMATION = "request_information"
UPDATE_ANSWER_INFORMATION = "answer_information_request"
UPDATE_DECIDE_APPLICATION = "decide_application"
UPDATE_SUBMIT_ENROLLMENT_FORM = "submit_enrollment_form"
UPDATE_DECIDE_CREDIT = "decide_credit"
UPDATE_REPORT_SUPPORT_PLAN = "report_support_plan_purchase"
UPDATE_REPORT_MPA_ACCEPTED = "report_mpa_accepted"


def direct_bill_id(pga_id: str, region: str) -> str:
    return f"direct-bill-{pga_id}-{region}"


def credit_review_id(parent_workflow_id: str) -> str:
    return f"{parent_workflow_id}-credit-review"


# Relationship pipelines (DOMAIN.md sections 3-6)
PARTNERSHIP = "Partnership"
CUSTOMER_INVITATION = "CustomerInvitation"
SUBSCRIPTION_ORDER = "SubscriptionOrder"
UPDATE_REPORT_PARTNERSHIP_ACCEPTED = "report_partnership_accepted"
UPDATE_REMOVE_PARTNERSHIP = "remove_partnership"
UPDATE_REPORT_RESELLER_SUSPENDED = "report_reseller_suspended"
UPDATE_REPORT_RESELLER_REINSTATED = "report_reseller_reinstated"
# Named after Partner Center's webhook events (reseller-relationship-accepted-by-customer, ...).
UPDATE_RESELLER_RELATIONSHIP_ACCEPTED = "reseller_relationship_accepted_by_customer"
UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED = (
    "indirect_reseller_relationship_accepted_by_customer"
)
UPDATE_ATTEST_CUSTOMER_AGREEMENT = "attest_customer_agreement"
UPDATE_FIX_PARTNER_OF_RECORD = "fix_partner_of_record"


# Provider operations for partnered resellers (REL-05, issue 14)
RESELLER_CUSTOMER = "ResellerCustomer"
SUBSCRIPTION_SUPPORT_CONTACT = "SubscriptionSupportContact"
SUBSCRIPTION_RESELLER = "SubscriptionReseller"
RESELLER_EXIT = "ResellerExit"
GDAP_RESTORATION = "GdapRestoration"
UPDATE_REPORT_GDAP_REGRANTED = "report_gdap_regranted"


def gdap_restoration_id(reseller_partner_id: str, reinstated: str) -> str:
    """`reinstated`: the reinstatement instant as YYYYMMDDHHMMSS (UTC), see `reinstated_stamp`."""
    return f"gdap-restoration-{reseller_partner_id}-{reinstated}"


def reinstated_stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H%M%S")


UPDATE_RECORD_SUPPORT_CASE = "record_support_case"
UPDATE_REPORT_SUPPORT_OUTCOME = "report_support_outcome"


def reseller_exit_id(reseller_partner_id: str, provider_partner_id: str) -> str:
    return f"reseller-exit-{reseller_partner_id}-{provider_partner_id}"


def reseller_customer_id(provider_partner_id: str, domain_prefix: str) -> str:
    return f"reseller-customer-{provider_partner_id}-{domain_prefix}"


def subscription_reseller_id(provider_partner_id: str, subscription_id: str) -> str:
    return f"subscription-reseller-{provider_partner_id}-{subscription_id.lower()}"


def support_contact_id(provider_partner_id: str, subscription_id: str) -> str:
    return f"support-contact-{provider_partner_id}-{subscription_id.lower()}"


def partnership_id(provider_partner_id: str, reseller_partner_id: str) -> str:
    return f"partnership-{provider_partner_id}-{reseller_partner_id}"


def customer_invitation_id(reseller_partner_id: str, customer_tenant_id: str) -> str:
    return f"customer-invitation-{reseller_partner_id}-{customer_tenant_id}"


def subscription_order_id(provider_partner_id: str, order_ref: str) -> str:
    return f"order-{provider_partner_id}-{order_ref}"


# Annual re-assessment and transition (DOMAIN.md section 8)
REASSESSMENT_SWEEP = "ReassessmentSweep"
PARTNER_REASSESSMENT = "PartnerReassessment"
TRANSITION_TO_INDIRECT = "TransitionToIndirectReseller"
UPDATE_SUBMIT_REASSESSMENT = "submit_reassessment"
UPDATE_REPORT_PLAN_RENEWAL = "report_support_plan_renewal"
UPDATE_REPORT_PASSING_SCORE = "report_passing_score"
UPDATE_REPORT_SECURITY_REMEDIATED = "report_security_remediated"
UPDATE_CHOOSE_INDIRECT_PROVIDER = "choose_indirect_provider"
"""RA-04: the transitioning partner names the authorized indirect provider it moves to."""
SIGNAL_REASSESSMENT_OUTCOME = "reassessment_outcome"
REASSESSMENT_SCHEDULE_ID = "annual-reassessment"
SWEEP_WORKFLOW_ID = "reassessment-sweep"
SA_SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")

# Pipelines closed without an outcome (terminated, timed out): the reconciler (issue 18)
PIPELINE_RECONCILER = "PipelineReconciler"
RECONCILER_SCHEDULE_ID = "pipeline-reconciler"
RECONCILER_WORKFLOW_ID = "pipeline-reconciler"


def reassessment_id(pga_id: str, region: str, year: int, *, security_only: bool = False) -> str:
    kind = "security-revalidation" if security_only else "reassessment"
    return f"{kind}-{pga_id}-{region}-{year}"


def transition_id(pga_id: str, region: str, year: int) -> str:
    return f"{transition_id_stem(pga_id, region)}-{year}"


def transition_id_stem(pga_id: str, region: str) -> str:
    """A transition's id without its year (the transition's input names no year)."""
    return f"transition-{pga_id}-{region}"


# Invalid Partners of Record found before orders fail (REL-07, issue 14)
POR_SWEEP = "PorValidationSweep"
POR_SWEEP_SCHEDULE_ID = "por-validation-sweep"
POR_SWEEP_WORKFLOW_ID = "por-validation-sweep"
