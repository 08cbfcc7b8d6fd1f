"""The operator settings each pipeline runs by (timers, thresholds, windows), read once when a
pipeline starts so that its history records them: a changed setting applies to new pipelines and
never breaks a replay. Implemented by activities/policies.py."""

from __future__ import annotations

from contract.activities import ActivityRef
from domain.direct_bill import DirectBillPolicy
from domain.messages import Message
from domain.reassessment import ReassessmentPolicy
from domain.relationships import RelationshipPolicy
from domain.reseller_enrollment import EnrollmentPolicy


class PolicyRequest(Message):
    pipeline: str
    """The workflow type asking, for the log."""


LOAD_ENROLLMENT_POLICY = ActivityRef("load_enrollment_policy", PolicyRequest, EnrollmentPolicy)
LOAD_DIRECT_BILL_POLICY = ActivityRef("load_direct_bill_policy", PolicyRequest, DirectBillPolicy)
LOAD_REASSESSMENT_POLICY = ActivityRef(
    "load_reassessment_policy", PolicyRequest, ReassessmentPolicy
)
LOAD_RELATIONSHIP_POLICY = ActivityRef(
    "load_relationship_policy", PolicyRequest, RelationshipPolicy
)
