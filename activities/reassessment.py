"""Re-assessment side effects: paging through the partners due in a month and recording each
partner's outcome (a pass's next due date, or the steps of the transition)."""

from __future__ import annotations

from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError

from adapters.registry import PartnerRegistry
from contract import names
from contract.activities.reassessment import (
    CHANGE_DIRECT_BILL_STATUS,
    GET_DIRECT_BILL_RECORD,
    LIST_DUE_PARTNERS,
    START_PARTNER_REASSESSMENTS,
    DuePage,
    DuePageRequest,
    RecordLookup,
    StartBatch,
    StartBatchResult,
    StatusChange,
    StatusChanged,
)
from domain.direct_bill import DirectBillRecord
from domain.reassessment import DuePartner, ReassessmentRequest
from domain.reassessment_rules import due_kind, reassessment_applies

log = structlog.get_logger(__name__)

_SWEEP_MEMO = "sweep_workflow_id"


class ReassessmentActivities:
    def __init__(self, registry: PartnerRegistry) -> None:
        self._registry = registry

    @activity.defn(name=LIST_DUE_PARTNERS.name)
    async def list_due_partners(self, request: DuePageRequest) -> DuePage:
        records = await self._registry.list_direct_bill_due(
            request.month.month, request.after, request.limit
        )
        partners = tuple(
            DuePartner(
                pga_id=r.pga_id,
                region=r.region,
                pla_id=r.pla_id,
                kind=due_kind(
                    month=request.month,
                    renewal_month=r.renewal_month,
                    anniversary_month=r.onboarding_anniversary_month,
                ),
            )
            for r in records
            # RA-01: nobody for a month before 2025-10, nor a partner not yet direct bill then.
            if reassessment_applies(request.month, r.activated_at, request.business_time_zone)
        )
        last = records[-1] if len(records) == request.limit else None
        return DuePage(partners=partners, next_after=(last.pga_id, last.region) if last else None)

    @activity.defn(name=START_PARTNER_REASSESSMENTS.name)
    async def start_partner_reassessments(self, batch: StartBatch) -> StartBatchResult:
        """Start one re-assessment per partner under its yearly business id. A partner whose id
        exists is not re-assessed again; one partner's failure never stops the others."""
        client = activity.client()
        started: list[str] = []
        already_done: list[str] = []
        errors: list[str] = []
        for partner in batch.partners:
            workflow_id = names.reassessment_id(
                partner.pga_id,
                partner.region,
                batch.month.year,
                security_only=not partner.kind.reassesses,
            )
            try:
                await client.start_workflow(
                    names.PARTNER_REASSESSMENT,
                    ReassessmentRequest(
                        pga_id=partner.pga_id,
                        region=partner.region,
                        pla_id=partner.pla_id,
                        kind=partner.kind,
                        month=batch.month,
                        sweep_workflow_id=batch.sweep_workflow_id,
                    ),
                    id=workflow_id,
                    task_queue=activity.info().task_queue,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    # A worker of an older release ignores the lean-steps key (a field of the
                    # request would fail the run at once there: unknown fields are refused).
                    memo={_SWEEP_MEMO: batch.sweep_workflow_id, names.MEMO_LEAN_STEPS: True},
                    # Found by partner and region from its start (no upsert of its own for them)
                    search_attributes=names.partner_search_attributes(
                        partner.pga_id, partner.region
                    ),
                    static_summary=f"{partner.kind.value} re-assessment {batch.month:%Y-%m}",
                )
            except WorkflowAlreadyStartedError:
                mine = await self._started_by(client, workflow_id, batch.sweep_workflow_id)
                (started if mine else already_done).append(workflow_id)
                continue
            except RPCError as err:
                log.warning("reassessment_not_started", workflow_id=workflow_id, error=str(err))
                errors.append(f"{workflow_id}: {err.message}")
                continue
            started.append(workflow_id)
        return StartBatchResult(
            started=tuple(started), already_done=tuple(already_done), errors=tuple(errors)
        )

    @staticmethod
    async def _started_by(client: Client, workflow_id: str, sweep_workflow_id: str) -> bool:
        """Whether this sweep started the existing run (an earlier attempt of this activity)."""
        # The start event's memo, not describe(): the time-skipping test server cannot describe
        # a workflow whose datetime search attribute was unset.
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            memo = event.workflow_execution_started_event_attributes.memo.fields
            if _SWEEP_MEMO not in memo:
                return False
            starter = client.data_converter.payload_converter.from_payload(memo[_SWEEP_MEMO], str)
            return bool(starter == sweep_workflow_id)
        return False

    @activity.defn(name=GET_DIRECT_BILL_RECORD.name)
    async def get_record(self, lookup: RecordLookup) -> DirectBillRecord:
        record = await self._registry.get_direct_bill(lookup.pga_id, lookup.region)
        if record is None:
            raise _missing(lookup.pga_id, lookup.region)
        return record

    @activity.defn(name=CHANGE_DIRECT_BILL_STATUS.name)
    async def change_status(self, change: StatusChange) -> StatusChanged:
        """Move a direct-bill record to a new status (idempotent: the same change twice is one)."""
        found = await self._registry.change_direct_bill_status(
            change.pga_id,
            change.region,
            status=change.status,
            reason=change.reason,
            updated_at=change.updated_at or datetime.now(UTC),
            next_reassessment_due=change.next_reassessment_due,
            renewed_plan=change.renewed_plan,
        )
        if not found:
            raise _missing(change.pga_id, change.region)
        return StatusChanged(pga_id=change.pga_id, region=change.region, status=change.status)


def _missing(pga_id: str, region: str) -> ApplicationError:
    return ApplicationError(
        f"no direct-bill record for PGA {pga_id} in {region}",
        type="DirectBillRecordMissing",
        non_retryable=True,
    )
