"""Partner registry writes and reads for the pipelines, plus the worker's policy settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from temporalio import activity

from adapters.registry import PartnerRegistry
from domain.reseller_enrollment import EnrollmentPolicy, ResellerRecord


class ResellerLookup(BaseModel):
    model_config = ConfigDict(frozen=True)

    partner_id: str


class ResellerLookupResult(BaseModel):
    record: ResellerRecord | None


class RecordSaved(BaseModel):
    partner_id: str
    status: str


class PolicyRequest(BaseModel):
    pipeline: str


class RegistryActivities:
    def __init__(self, registry: PartnerRegistry, enrollment_policy: EnrollmentPolicy) -> None:
        self._registry = registry
        self._enrollment_policy = enrollment_policy

    @activity.defn(name="get_reseller_record")
    async def get_reseller_record(self, request: ResellerLookup) -> ResellerLookupResult:
        return ResellerLookupResult(record=await self._registry.get_reseller(request.partner_id))

    @activity.defn(name="save_reseller_record")
    async def save_reseller_record(self, record: ResellerRecord) -> RecordSaved:
        await self._registry.save_reseller(record)
        return RecordSaved(partner_id=record.partner_id, status=record.status.value)

    @activity.defn(name="load_enrollment_policy")
    async def load_enrollment_policy(self, request: PolicyRequest) -> EnrollmentPolicy:
        """The timers in force, read once per pipeline so that replays see the same values."""
        return self._enrollment_policy
