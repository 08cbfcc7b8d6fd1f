"""Pipelines closed without recording their outcome (issue 18): Terminate and a run timeout run no
workflow code, so the registry row of such a pipeline still says it is in progress. The scheduled
`PipelineReconciler` finds them and records how they really closed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from domain.direct_bill import DirectBillRegistryStatus
from domain.messages import Message
from domain.provider_operations import SubscriptionResellerStage
from domain.relationships import CustomerInvitationStage, OrderStage, PartnershipStage
from domain.reseller_enrollment import ResellerStatus
from domain.reseller_exit import ResellerExitStage


class PipelineClosure(StrEnum):
    """How Temporal closed a pipeline that recorded no outcome; also the registry status."""

    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


PipelineKind = Literal[
    "reseller_enrollment",
    "direct_bill_application",
    "partnership",
    "customer_invitation",
    "subscription_order",
    "subscription_reseller",
    "reseller_exit",
]


UNSETTLED_STATUSES: dict[PipelineKind, frozenset[str]] = {
    "reseller_enrollment": frozenset({ResellerStatus.ENROLLING}),
    "direct_bill_application": frozenset({DirectBillRegistryStatus.APPLYING}),
    # An accepted partnership is a fact in Partner Center (its pipeline only watches it): only
    # the stages before the reseller's answer have no outcome yet.
    "partnership": frozenset({PartnershipStage.PRECHECKS, PartnershipStage.AWAITING_ACCEPTANCE}),
    # Likewise an accepted invitation: the customer's relationship exists.
    "customer_invitation": frozenset(
        {CustomerInvitationStage.PRECHECKS, CustomerInvitationStage.AWAITING_ACCEPTANCE}
    ),
    "subscription_order": frozenset(s for s in OrderStage if not s.is_terminal),
    "subscription_reseller": frozenset(s for s in SubscriptionResellerStage if not s.is_terminal),
    "reseller_exit": frozenset(s for s in ResellerExitStage if not s.is_terminal),
}
"""Per pipeline, the registry statuses that say its pipeline is still deciding: a row in one of
them whose pipeline Temporal closed has no recorded outcome."""

SENT_TO_PARTNER_CENTER = {
    ("subscription_order", OrderStage.PLACING),
    ("subscription_reseller", SubscriptionResellerStage.UPDATING),
}
"""Stages in which Partner Center may already have the request when the pipeline stopped."""


class OpenRecord(Message):
    """A registry row whose pipeline should be running."""

    kind: PipelineKind
    partner_id: str
    """The partner the row belongs to: the provider of a partnership, an order or a
    subscription's reseller; the reseller of an invitation or an exit."""
    region: str | None = None
    subject: str | None = None
    """The rest of the row's key in words, e.g. "order PO-1" or "customer <tenant>"."""
    status: str
    workflow_id: str

    def describe(self) -> str:
        """The row as operations read it in the report."""
        extra = " ".join(part for part in (self.region, self.subject) if part)
        return f"{self.kind} {self.partner_id}{' ' + extra if extra else ''}"


class ClosedPipeline(Message):
    record: OpenRecord
    closure: PipelineClosure
    closed_at: datetime | None
    reason: str


class ReconcileSummary(Message):
    checked: int
    reconciled: tuple[ClosedPipeline, ...] = ()


def closure_reason(
    closure: PipelineClosure, closed_at: datetime | None, record: OpenRecord | None = None
) -> str:
    """What the registry row and operations are told."""
    when = f" at {closed_at.isoformat()}" if closed_at else ""
    how = {
        PipelineClosure.TERMINATED: "was terminated in Temporal",
        PipelineClosure.TIMED_OUT: "timed out in Temporal",
        PipelineClosure.FAILED: "failed in Temporal",
    }[closure]
    where = f" while {record.status}" if record is not None else ""
    after = "A new start for this partner is allowed."
    if record is not None and (record.kind, record.status) in SENT_TO_PARTNER_CENTER:
        after = (
            "Partner Center may have received the request before the pipeline stopped: "
            "check it there before starting again."
        )
    return (
        f"the pipeline {how}{where}{when} without recording an outcome; recorded by the "
        f"reconciler. {after}"
    )
