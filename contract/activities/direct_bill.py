"""The `direct_bill` activities as workflows call them: registered name, input and output.

Implemented by activities/direct_bill.py.
"""

from __future__ import annotations

from datetime import datetime

from contract.activities import ActivityRef
from domain.calendar import BusinessTimeZone
from domain.direct_bill import (
    Activation,
    Cooldown,
    DirectBillRecord,
    EligibilityCheck,
)
from domain.messages import Message
from domain.transition import ProviderOptions


class PgaRequest(Message):
    pga_id: str


class GateFactsRequest(Message):
    pga_id: str
    region: str


class GateFacts(Message):
    cooldown_until: datetime | None
    existing_status: str | None
    existing_workflow_id: str | None


class RevenueCheckRequest(Message):
    """DB-03: the figure is judged on the business date of `as_of` (None: the activity's own
    time, for a call scheduled before the request carried it)."""

    pga_id: str
    as_of: datetime | None = None
    business_time_zone: BusinessTimeZone = "UTC"
    max_age_days: int = 90


class TenureCheckRequest(Message):
    pga_id: str
    pla_id: str
    as_of: datetime
    business_time_zone: BusinessTimeZone = "UTC"
    """DB-01 counts calendar dates in this zone (the policy's business time zone)."""


class ProgramCheckRequest(Message):
    pga_id: str
    pla_id: str
    region: str
    authority_to_accept_agreements: bool
    first_level_support: bool


class ProviderOptionsRequest(Message):
    pga_id: str
    pla_id: str


class ActivationRequest(Message):
    pga_id: str
    region: str
    idempotency_key: str


class DirectBillRecordSaved(Message):
    pga_id: str
    region: str
    status: str


LOAD_DIRECT_BILL_GATE_FACTS = ActivityRef(
    "load_direct_bill_gate_facts", GateFactsRequest, GateFacts
)
CHECK_DIRECT_BILL_TENURE = ActivityRef(
    "check_direct_bill_tenure", TenureCheckRequest, EligibilityCheck
)
CHECK_DIRECT_BILL_REVENUE = ActivityRef(
    "check_direct_bill_revenue", RevenueCheckRequest, EligibilityCheck
)
CHECK_DIRECT_BILL_SECURITY = ActivityRef("check_direct_bill_security", PgaRequest, EligibilityCheck)
CHECK_DIRECT_BILL_DESIGNATIONS = ActivityRef(
    "check_direct_bill_designations", PgaRequest, EligibilityCheck
)
CHECK_DIRECT_BILL_PROGRAM = ActivityRef(
    "check_direct_bill_program", ProgramCheckRequest, EligibilityCheck
)
SAVE_DIRECT_BILL_RECORD = ActivityRef(
    "save_direct_bill_record", DirectBillRecord, DirectBillRecordSaved
)
START_DIRECT_BILL_COOLDOWN = ActivityRef("start_direct_bill_cooldown", Cooldown, Cooldown)
ACTIVATE_DIRECT_BILL_TENANT = ActivityRef(
    "activate_direct_bill_tenant", ActivationRequest, Activation
)
LIST_AUTHORIZED_INDIRECT_PROVIDERS = ActivityRef(
    "list_authorized_indirect_providers", ProviderOptionsRequest, ProviderOptions
)
"""RA-04: the transitioning PLA's country and the authorized indirect providers to choose from."""
