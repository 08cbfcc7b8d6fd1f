"""The `reassessment` activities as workflows call them: registered name, input and output.

Implemented by activities/reassessment.py.
"""

from __future__ import annotations

from datetime import date, datetime

from contract.activities import ActivityRef
from domain.calendar import BusinessTimeZone
from domain.direct_bill import DirectBillRecord, DirectBillRegistryStatus, SupportPlan
from domain.messages import Message
from domain.reassessment import DuePartner


class DuePageRequest(Message):
    month: date
    after: tuple[str, str] | None
    limit: int
    business_time_zone: BusinessTimeZone = "UTC"
    """The zone activation dates are read in (RA-01: direct bill before the month began)."""


class DuePage(Message):
    partners: tuple[DuePartner, ...]
    next_after: tuple[str, str] | None
    """None when this was the last page."""


class RecordLookup(Message):
    pga_id: str
    region: str


class StartBatch(Message):
    sweep_workflow_id: str
    month: date
    partners: tuple[DuePartner, ...]


class StartBatchResult(Message):
    started: tuple[str, ...]
    """Workflow ids this sweep started (now or in an earlier attempt of this activity)."""
    already_done: tuple[str, ...]
    """The partner's re-assessment for the year was started by another sweep: not again."""
    errors: tuple[str, ...]


class StatusChange(Message):
    pga_id: str
    region: str
    status: DirectBillRegistryStatus
    reason: str | None = None
    next_reassessment_due: date | None = None
    renewed_plan: SupportPlan | None = None
    updated_at: datetime | None = None
    """When the pipeline decided the change (its workflow time): the row's `updated_at`, which
    the registry compares to keep the newer row. Absent (older histories): the activity's clock."""


class StatusChanged(Message):
    pga_id: str
    region: str
    status: DirectBillRegistryStatus


LIST_DUE_PARTNERS = ActivityRef("list_due_partners", DuePageRequest, DuePage)
START_PARTNER_REASSESSMENTS = ActivityRef(
    "start_partner_reassessments", StartBatch, StartBatchResult
)
GET_DIRECT_BILL_RECORD = ActivityRef("get_direct_bill_record", RecordLookup, DirectBillRecord)
CHANGE_DIRECT_BILL_STATUS = ActivityRef("change_direct_bill_status", StatusChange, StatusChanged)
