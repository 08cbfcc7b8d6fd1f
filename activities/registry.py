"""Partner registry writes and reads for the pipelines, plus the worker's policy settings."""

from __future__ import annotations

from temporalio import activity

from adapters.registry import PartnerRegistry
from contract.activities.registry import (
    GET_RESELLER_RECORD,
    SAVE_RESELLER_RECORD,
    RecordSaved,
    ResellerLookup,
    ResellerLookupResult,
)
from domain.reseller_enrollment import ResellerRecord


class RegistryActivities:
    def __init__(self, registry: PartnerRegistry) -> None:
        self._registry = registry

    @activity.defn(name=GET_RESELLER_RECORD.name)
    async def get_reseller_record(self, request: ResellerLookup) -> ResellerLookupResult:
        return ResellerLookupResult(record=await self._registry.get_reseller(request.partner_id))

    @activity.defn(name=SAVE_RESELLER_RECORD.name)
    async def save_reseller_record(self, record: ResellerRecord) -> RecordSaved:
        await self._registry.save_reseller(record)
        return RecordSaved(partner_id=record.partner_id, status=record.status.value)
