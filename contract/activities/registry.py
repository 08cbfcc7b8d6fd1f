"""The `registry` activities as workflows call them: registered name, input and output.

Implemented by activities/registry.py.
"""

from __future__ import annotations

from contract.activities import ActivityRef
from domain.messages import Message
from domain.reseller_enrollment import ResellerRecord


class ResellerLookup(Message):
    partner_id: str


class ResellerLookupResult(Message):
    record: ResellerRecord | None


class RecordSaved(Message):
    partner_id: str
    status: str


GET_RESELLER_RECORD = ActivityRef("get_reseller_record", ResellerLookup, ResellerLookupResult)
SAVE_RESELLER_RECORD = ActivityRef("save_reseller_record", ResellerRecord, RecordSaved)
