"""Pipelines closed without recording their outcome (issue 18): Terminate and a run timeout run no
workflow code, so the registry row of such a pipeline still says it is in progress. The scheduled
`PipelineReconciler` finds them and records how they really closed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from domain.messages import Message


class PipelineClosure(StrEnum):
    """How Temporal closed a pipeline that recorded no outcome; also the registry status."""

    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


class OpenRecord(Message):
    """A registry row whose pipeline should be running."""

    kind: Literal["reseller_enrollment", "direct_bill_application"]
    partner_id: str
    region: str | None = None
    status: str
    workflow_id: str


class ClosedPipeline(Message):
    record: OpenRecord
    closure: PipelineClosure
    closed_at: datetime | None
    reason: str


class ReconcileSummary(Message):
    checked: int
    reconciled: tuple[ClosedPipeline, ...] = ()


def closure_reason(closure: PipelineClosure, closed_at: datetime | None) -> str:
    """What the registry row and operations are told."""
    when = f" at {closed_at.isoformat()}" if closed_at else ""
    how = {
        PipelineClosure.TERMINATED: "was terminated in Temporal",
        PipelineClosure.TIMED_OUT: "timed out in Temporal",
        PipelineClosure.FAILED: "failed in Temporal",
    }[closure]
    return (
        f"the pipeline {how}{when} without recording an outcome; recorded by the reconciler. "
        "A new start for this partner is allowed."
    )
