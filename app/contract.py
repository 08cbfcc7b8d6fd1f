"""The names operators and backends type: task queue, workflow types, update/query names, workflow
ids and search attributes. Changing any of these breaks running pipelines and scripts: don't."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

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

# Search attributes (never names or emails: they are not encrypted)
SA_PARTNER_ID = SearchAttributeKey.for_keyword("PartnerId")
SA_STAGE = SearchAttributeKey.for_keyword("PipelineStage")
SA_REGION = SearchAttributeKey.for_keyword("Region")
SA_OUTCOME = SearchAttributeKey.for_keyword("Outcome")
SA_NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")

SEARCH_ATTRIBUTES = (SA_PARTNER_ID, SA_STAGE, SA_REGION, SA_OUTCOME, SA_NEXT_DEADLINE)


def reseller_enrollment_id(partner_id: str) -> str:
    return f"reseller-enrollment-{partner_id}"


def email_verification_id(parent_workflow_id: str) -> str:
    return f"{parent_workflow_id}-email-verification"
