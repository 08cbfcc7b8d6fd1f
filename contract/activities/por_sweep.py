"""The `por_sweep` activities (REL-07) as workflows call them: registered name, input and output.

Implemented by activities/por_sweep.py.
"""

from __future__ import annotations

from datetime import datetime

from contract.activities import ActivityRef
from domain.messages import Message
from domain.por_sweep import PorReport, PorSweepSummary


class PartneredReseller(Message):
    provider_partner_id: str
    reseller_partner_id: str


class PartnershipPageRequest(Message):
    after: tuple[str, str] | None
    limit: int


class PartnershipPage(Message):
    partnerships: tuple[PartneredReseller, ...]
    next_after: tuple[str, str] | None
    """None when this was the last page."""


class PorBatch(Message):
    sweep_id: str
    partnerships: tuple[PartneredReseller, ...]


class PorBatchResult(Message):
    valid: int
    invalid: int


class PorSweepFinish(Message):
    summary: PorSweepSummary
    finished_at: datetime
    listed_at_most: int


class PorSweepReport(Message):
    report: PorReport
    text: str
    """Counts and the invalid resellers with reasons and what to do (the email's body)."""


LIST_ACTIVE_PARTNERSHIPS = ActivityRef(
    "list_active_partnerships", PartnershipPageRequest, PartnershipPage
)
VALIDATE_POR_BATCH = ActivityRef(
    "validate_por_batch",
    PorBatch,
    PorBatchResult,
    summary_text="Validate resellers (validateresellers) and record each result",
)
FINISH_POR_SWEEP = ActivityRef("finish_por_sweep", PorSweepFinish, PorSweepReport)
