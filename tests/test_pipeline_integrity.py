"""Issue 12, items 3 and 4 on the time-skipping test server: nothing stuck (bad input, bad data
and undecodable payloads fail at once, visibly), bounded retries, bounded histories."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload, WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import RawValue
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.calendar import add_months_to_date
from domain.direct_bill import DirectBillStage
from domain.messages import Withdrawal
from domain.reseller_enrollment import EnrollmentStage
from tests.conftest import DB_PLA, UNSIGNED_PARTNER, Stack, application
from tests.direct_bill_driver import db_application, start_direct_bill
from tests.enrollment_driver import decide, latest_token, start_enrollment, verify
from worker import load_settings
from workflows.pipeline import RETRY_ATTEMPTS

UNSIGNED_ID = names.reseller_enrollment_id(UNSIGNED_PARTNER)


def _cause_of_type(error: BaseException, error_type: str) -> ApplicationError:
    """The ApplicationError of `error_type` in the chain under a workflow or update failure."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ApplicationError) and cause.type == error_type:
            return cause
        cause = cause.cause if hasattr(cause, "cause") else cause.__cause__
    raise AssertionError(f"no {error_type} in {error!r}")


async def _events(handle: WorkflowHandle[Any, Any]) -> list[Any]:
    return [event async for event in handle.fetch_history_events()]


async def read_attention(client: Client, workflow_id: str) -> str | None:
    """The `Attention` search attribute as stored, read raw (the time-skipping server hands
    datetime attributes back in a form the SDK's typed reader refuses)."""
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    fields = described.workflow_execution_info.search_attributes.indexed_fields
    if names.SA_ATTENTION.name not in fields:
        return None
    value = json.loads(fields[names.SA_ATTENTION.name].data)
    return str(value[0] if isinstance(value, list) else value)


# ---- undecodable or missing input ---------------------------------------------------------------


async def test_a_start_without_input_fails_at_once(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """`temporal workflow start` without `--input`: the workflow fails (not RUNNING forever)."""
    client = time_env.client
    workflow_id = names.reseller_enrollment_id("1234567")
    async with stack.worker(client):
        handle = await client.start_workflow(
            names.RESELLER_ENROLLMENT, id=workflow_id, task_queue=names.TASK_QUEUE
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = _cause_of_type(failure.value, "MissingInput")
    assert cause.non_retryable and "exactly one JSON object" in cause.message
    assert stack.sink.messages() == []


async def test_an_undecodable_start_input_fails_at_once_and_an_undecodable_update_is_refused(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    unknown = RawValue(Payload(metadata={"encoding": b"binary/x-unknown"}, data=b"\x00\x01"))
    async with stack.worker(client):
        broken = await client.start_workflow(
            names.RESELLER_ENROLLMENT, unknown, id=workflow_id, task_queue=names.TASK_QUEUE
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await broken.result()
        cause = _cause_of_type(failure.value, "UndecodablePayload")
        assert "binary/x-unknown" in cause.message

        handle = await start_enrollment(client, workflow_id, application())
        await latest_token(stack.sink, 1)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(names.UPDATE_WITHDRAW, unknown)
        assert "binary/x-unknown" in _cause_of_type(refused.value, "UndecodablePayload").message
        # The pipeline goes on: a decodable withdrawal is still accepted.
        await handle.execute_update(
            names.UPDATE_WITHDRAW, Withdrawal(reason="test", requested_by="ops")
        )
        assert (await handle.result()).outcome is EnrollmentStage.WITHDRAWN


_NAIVE = "2027-01-31T00:00:00"
"""An instant without its UTC offset, as one is typed into `temporal workflow start --input`."""


@pytest.mark.parametrize(
    ("workflow_type", "workflow_id", "start_input", "field"),
    [
        (
            names.CREDIT_REVIEW,
            names.credit_review_id(names.direct_bill_id("4500001", "JP")),
            {"pga_id": "4500001", "region": "JP", "deadline": _NAIVE},
            "deadline",
        ),
        (
            names.EMAIL_VERIFICATION,
            names.email_verification_id(names.reseller_enrollment_id("1234567")),
            {
                "partner_id": "1234567",
                "recipient": "hanako.yamada@contoso.example",
                "recipient_name": "Hanako Yamada",
                "legal_name": "Contoso K.K.",
                "deadline": _NAIVE,
            },
            "deadline",
        ),
        (names.REASSESSMENT_SWEEP, names.SWEEP_WORKFLOW_ID, {"wait_until": _NAIVE}, "wait_until"),
    ],
)
async def test_an_instant_without_its_offset_fails_the_start_at_once_naming_the_field(
    time_env: WorkflowEnvironment,
    stack: Stack,
    workflow_type: str,
    workflow_id: str,
    start_input: dict[str, Any],
    field: str,
) -> None:
    """Workflows count timers from these instants and upsert them as search attributes: a naive
    one used to fail the workflow task on every attempt (the upsert or the subtraction from the
    workflow's aware clock raised), RUNNING forever. The model now refuses it when decoded."""
    client = time_env.client
    async with stack.worker(client):
        handle = await client.start_workflow(
            workflow_type, start_input, id=workflow_id, task_queue=names.TASK_QUEUE
        )
        async with asyncio.timeout(30):  # a run stuck RUNNING never ends: fail, don't hang
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
    message = str(failure.value.cause)
    assert message.endswith(f": {field} (timezone_aware)"), message
    events = await _events(handle)
    assert not [e for e in events if e.HasField("activity_task_scheduled_event_attributes")]
    assert stack.sink.messages() == []


# ---- data retrying cannot fix ---------------------------------------------------------------


async def _direct_bill_failing(
    client: Client, stack: Stack
) -> tuple[WorkflowFailureError, str | None, WorkflowHandle[Any, Any]]:
    """The direct-bill application run to its failure: the failure, its `Attention`, its handle."""
    async with stack.worker(client):
        handle = await start_direct_bill(
            client, names.direct_bill_id("4500001", "JP"), db_application()
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        attention = await read_attention(client, handle.id)
    return failure.value, attention, handle


async def test_a_date_only_ir_authorized_at_fails_at_once_naming_source_and_field(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """A date-only `irAuthorizedAt` (no time, no offset) used to retry forever in eligibility."""
    stack.edit_partner_programs(
        lambda data: data["partners"]["4500001"]["locations"][DB_PLA].update(
            {"irAuthorizedAt": "2024-01-15"}
        )
    )
    failure, attention, handle = await _direct_bill_failing(time_env.client, stack)
    cause = _cause_of_type(failure, "InvalidSourceData")
    assert cause.non_retryable
    assert "irAuthorizedAt" in cause.message and "programs" in cause.message
    assert "no UTC offset" in cause.message
    assert attention is not None and "InvalidSourceData" in attention
    # One attempt each (the eligibility checks run side by side): retrying cannot fix the data.
    attempts = [
        e.activity_task_started_event_attributes.attempt
        for e in await _events(handle)
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    ]
    assert attempts and set(attempts) == {1}


def _thousands_separator(data: dict[str, Any]) -> None:
    data["partners"]["4500001"]["ttmRevenue"]["tenants"][1]["cloudUsd"] = "300,000.00"


def _no_security_contact_answer(data: dict[str, Any]) -> None:
    del data["partners"]["4500001"]["securityRequirements"]["securityContactProvided"]


def _a_period_of_eleven_months(data: dict[str, Any]) -> None:
    revenue = data["partners"]["4500001"]["ttmRevenue"]
    start = date.fromisoformat(revenue["periodStart"])
    revenue["periodStart"] = add_months_to_date(start, 1).isoformat()


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        (
            _thousands_separator,
            "partners.4500001.ttmRevenue.tenants[1].cloudUsd",
            "is not a decimal amount in USD, 0 or more ('300,000.00')",
        ),
        (
            _no_security_contact_answer,
            "partners.4500001.securityRequirements.securityContactProvided",
            "is missing",
        ),
        (
            _a_period_of_eleven_months,
            "partners.4500001.ttmRevenue",
            "is not a trailing-twelve-month figure: a trailing-twelve-month period ending",
        ),
    ],
)
async def test_a_malformed_partner_programs_field_fails_at_once_naming_the_file_and_field(
    time_env: WorkflowEnvironment,
    stack: Stack,
    edit: Callable[[dict[str, Any]], None],
    field: str,
    problem: str,
) -> None:
    """DB-03 / DB-04 facts the operator typed into the partner-programs file: a readable file
    with a malformed field is not a Partner Center outage. It used to be retried for an hour as
    `PartnerCenterUnavailable` naming neither file nor field; now the eligibility check fails on
    its first attempt with `InvalidSourceData` naming both, and the pipeline shows `Attention`."""
    stack.edit_partner_programs(edit)
    failure, attention, handle = await _direct_bill_failing(time_env.client, stack)
    cause = _cause_of_type(failure, "InvalidSourceData")
    assert cause.non_retryable
    assert cause.message.startswith(
        f"partner programs data file {stack.programs_file}: field {field!r} {problem}"
    ), cause.message
    assert attention is not None and attention.endswith(": InvalidSourceData")
    assert set(_attempts(await _events(handle))) == {1}


async def test_a_nul_byte_the_database_refuses_is_not_retried_and_needs_an_operator(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        await verify(client, workflow_id, await latest_token(stack.sink, 1))
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "reject", reason="incomplete\x00profile")
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        cause = _cause_of_type(failure.value, "InvalidSourceData")
        assert "status_reason" in cause.message and "NUL" in cause.message
        assert "registry table" in cause.message
        attention = await read_attention(client, handle.id)
    assert attention is not None and "InvalidSourceData" in attention


async def test_a_direct_bill_refused_by_its_region_check_is_unaffected_by_attention(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """A business refusal is an outcome, not an operator's problem: no `Attention`."""
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(
            client,
            names.direct_bill_id("4500001", "JP"),
            db_application(applicant_email="sales@contoso.example"),
        )
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        assert not isinstance(failure.value.cause, ActivityError)
        assert await read_attention(client, handle.id) is None
        final = await handle.query(names.QUERY_STATUS)
    assert final["stage"] == DirectBillStage.REFUSED.value


async def test_spent_retries_show_attention_instead_of_retrying_forever(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """Partner Center's data unreadable on every attempt: the step stops after RETRY_ATTEMPTS
    (it used to retry forever, RUNNING) and the pipeline shows `Attention` for an operator."""
    stack.data_file.write_text("{ this is not JSON")
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        assert isinstance(failure.value.cause, ActivityError)
        attention = await read_attention(client, handle.id)
    assert attention is not None and attention.startswith("verify_partner_id: ")
    assert max(_attempts(await _events(handle))) == RETRY_ATTEMPTS
    assert stack.sink.messages() == []


def _attempts(events: list[Any]) -> list[int]:
    """The attempt of every activity start and of every local activity's marker (a read runs as
    a local activity once the run took the `lean-lookups` patch: its marker says the attempt)."""
    attempts = []
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attempts.append(e.activity_task_started_event_attributes.attempt)
        elif e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = e.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                attempts.append(json.loads(marker.details["data"].payloads[0].data)["attempt"])
    return attempts


def test_the_worker_refuses_to_start_on_a_bad_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bad setting stops the worker at start with its name, not every workflow task later."""
    monkeypatch.setenv("CSP_DB_WINDOW_CLOSURES", "2025-10-01/2025-05-01")
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    message = str(stopped.value)
    assert "invalid settings" in message and "db_window_closures" in message
    assert "ends before it starts" in message
    monkeypatch.setenv("CSP_DB_WINDOW_CLOSURES", "2025-05-01/2025-10-01")
    monkeypatch.setenv("CSP_MPA_REPORT_INTERVAL_SECONDS", "0")
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    assert "mpa_report_interval_seconds" in str(stopped.value)


async def test_a_direct_bill_under_another_id_fails_at_once_and_writes_nothing(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The same one check guards every pipeline (workflows/pipeline.py require_business_id)."""
    client = time_env.client
    async with stack.worker(client):
        handle = await start_direct_bill(client, "direct-bill-4500001-JP-second", db_application())
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = _cause_of_type(failure.value, "WorkflowIdMismatch")
    assert "'direct-bill-4500001-JP'" in cause.message
    assert "'direct-bill-4500001-JP-second'" in cause.message
    assert await stack.registry.get_direct_bill("4500001", "JP") is None
    assert stack.sink.messages() == []
