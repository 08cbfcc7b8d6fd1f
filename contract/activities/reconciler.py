"""The `reconciler` activities as workflows call them: registered name, input and output.

Implemented by activities/reconciler.py.
"""

from __future__ import annotations

from datetime import datetime

from contract.activities import ActivityRef
from domain.messages import Message
from domain.reconciliation import ClosedPipeline, OpenRecord, PipelineClosure


class OpenRecordsRequest(Message):
    limit: int = 500


class OpenRecords(Message):
    records: tuple[OpenRecord, ...]


class ClosureLookup(Message):
    workflow_id: str


class ClosureFound(Message):
    closure: PipelineClosure | None
    """None: running, or closed by its own code (completed, cancelled), or unknown to Temporal."""
    closed_at: datetime | None = None


class ClosureRecorded(Message):
    recorded: bool
    """False: the row changed meanwhile (a new pipeline owns it); nothing was overwritten."""


LIST_OPEN_RECORDS = ActivityRef("list_open_pipeline_records", OpenRecordsRequest, OpenRecords)
DESCRIBE_CLOSURE = ActivityRef("describe_pipeline_closure", ClosureLookup, ClosureFound)
RECORD_CLOSURE = ActivityRef("record_pipeline_closure", ClosedPipeline, ClosureRecorded)
