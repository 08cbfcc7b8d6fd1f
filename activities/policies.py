"""The operator settings of each pipeline, handed to a pipeline when it starts (one activity per
pipeline family, all answered from the worker's settings)."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio import activity

from contract.activities.policies import (
    LOAD_DIRECT_BILL_POLICY,
    LOAD_ENROLLMENT_POLICY,
    LOAD_REASSESSMENT_POLICY,
    LOAD_RELATIONSHIP_POLICY,
    PolicyRequest,
)
from domain.direct_bill import DirectBillPolicy
from domain.reassessment import ReassessmentPolicy
from domain.relationships import RelationshipPolicy
from domain.reseller_enrollment import EnrollmentPolicy


@dataclass(frozen=True)
class Policies:
    enrollment: EnrollmentPolicy
    direct_bill: DirectBillPolicy
    reassessment: ReassessmentPolicy
    relationship: RelationshipPolicy


class PolicyActivities:
    def __init__(self, policies: Policies) -> None:
        self._policies = policies

    @activity.defn(name=LOAD_ENROLLMENT_POLICY.name)
    async def load_enrollment_policy(self, request: PolicyRequest) -> EnrollmentPolicy:
        return self._policies.enrollment

    @activity.defn(name=LOAD_DIRECT_BILL_POLICY.name)
    async def load_direct_bill_policy(self, request: PolicyRequest) -> DirectBillPolicy:
        return self._policies.direct_bill

    @activity.defn(name=LOAD_REASSESSMENT_POLICY.name)
    async def load_reassessment_policy(self, request: PolicyRequest) -> ReassessmentPolicy:
        return self._policies.reassessment

    @activity.defn(name=LOAD_RELATIONSHIP_POLICY.name)
    async def load_relationship_policy(self, request: PolicyRequest) -> RelationshipPolicy:
        return self._policies.relationship
