"""REL-07 on the time-skipping server: the POR sweep over 1,200 partnered resellers, as the
`por-validation-sweep` Schedule starts it (`{}`), with the real registry, the local Partner
Center and the SMTP sink. Every active partnership is checked and recorded with its reason, no
run's history passes its bound (continue-as-new), and operations get one report."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import subject_of, text_of
from bench.partnered_resellers import insert_partnerships, population
from contract import names
from domain.por_sweep import PorSweepRequest, PorSweepSummary
from tests.conftest import Stack
from tests.fake_partner_center import VALIDATE_RESELLERS, documented_partner_center_client

RESELLERS = 1_200
BATCH = 100
BATCHES_PER_RUN = 4
EVENTS_PER_BATCH = 20
"""List page, rate-limit timer, validate call and their workflow tasks: 17 events, plus slack."""


async def _run_lengths(client: Client, workflow_id: str, first_run: str) -> list[int]:
    """The number of events of each run of the sweep's continue-as-new chain."""
    lengths: list[int] = []
    run_id: str | None = first_run
    while run_id is not None:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        events, run_id = 0, None
        async for event in handle.fetch_history_events():
            events += 1
            if event.HasField("workflow_execution_continued_as_new_event_attributes"):
                attributes = event.workflow_execution_continued_as_new_event_attributes
                run_id = attributes.new_execution_run_id
        lengths.append(events)
    return lengths


async def _start_sweep(client: Client) -> WorkflowHandle[Any, PorSweepSummary]:
    """As the schedule starts it: `{}` under the schedule's workflow id."""
    return await client.start_workflow(
        names.POR_SWEEP,
        PorSweepRequest().model_dump(mode="json", exclude_defaults=True),
        id=names.POR_SWEEP_WORKFLOW_ID,
        task_queue=names.TASK_QUEUE,
        result_type=PorSweepSummary,
    )


async def test_every_partnered_reseller_is_checked_recorded_and_reported(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    people = population(RESELLERS, inactive=30)
    await insert_partnerships(stack.settings.registry_database_url, people.rows)

    def add(data: dict[str, Any]) -> None:
        data["profiles"].update(people.partner_center["profiles"])
        data.setdefault("indirectResellers", {}).update(people.partner_center["indirectResellers"])

    stack.edit_partner_center(add)
    stack = Stack(
        stack.settings.model_copy(
            update={"por_sweep_batch_size": BATCH, "por_sweep_batches_per_run": BATCHES_PER_RUN}
        ),
        stack.sink,
        stack.registry,
        stack.partner_center,
        stack.data_file,
        stack.programs_file,
    )
    client = time_env.client
    async with stack.worker(client):
        handle = await _start_sweep(client)
        summary = await handle.result()
        [email] = await stack.sink.wait_for_messages(1, timeout_seconds=30)

    invalid = len(people.invalid)
    assert invalid == 36
    assert (summary.checked, summary.valid, summary.invalid, summary.unchecked) == (
        RESELLERS,
        RESELLERS - invalid,
        invalid,
        0,
    )
    batches = RESELLERS // BATCH
    assert summary.batches == batches
    assert handle.first_execution_run_id is not None
    lengths = await _run_lengths(client, names.POR_SWEEP_WORKFLOW_ID, handle.first_execution_run_id)
    assert len(lengths) == summary.runs == batches // BATCHES_PER_RUN
    assert max(lengths) <= BATCHES_PER_RUN * EVENTS_PER_BATCH + 40 < 10_000, lengths

    # Each result is in the registry with Partner Center's reason; inactive partnerships are not.
    registry = stack.registry
    assert await registry.count_por_checks(names.POR_SWEEP_WORKFLOW_ID) == (
        RESELLERS - invalid,
        invalid,
    )
    recorded = await registry.list_invalid_por_checks(names.POR_SWEEP_WORKFLOW_ID)
    assert {c.reseller_partner_id: c.error_code for c in recorded} == people.invalid
    assert all(c.reason for c in recorded)
    report = await registry.latest_por_report()
    assert report is not None
    assert (report.sweep_id, report.checked, report.invalid) == (
        names.POR_SWEEP_WORKFLOW_ID,
        RESELLERS,
        invalid,
    )

    # One report to operations: counts, each invalid reseller with its reason and what to do.
    assert email["To"] == "ops@csp.example"
    assert "Partner of Record check" in subject_of(email)
    body = text_of(email)

    assert f"Checked {RESELLERS} partnership(s)" in " ".join(body.split())
    for pid in people.invalid:
        assert f"- {pid} (partnership with " in body
    assert "error 800039: the reseller program status of PartnerId" in " ".join(body.split())
    assert "What to do: the reseller's program status is not active" in " ".join(body.split())


async def test_over_http_a_refused_batch_is_named_unchecked_and_the_rest_are_checked(
    time_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The HTTP client against the documented fake: one item per id in the published shape; the
    first call refused 900308 (validateresellers needs the Admin agent role) is not retried, its
    batch is counted as not checked and named in the report, and the sweep goes on."""
    people = population(250)
    await insert_partnerships(stack.settings.registry_database_url, people.rows)
    async with documented_partner_center_client() as (fake, http):
        for pid, code in people.invalid.items():
            fake.invalidate_reseller(pid, int(code))
        fake.refuse_with_code("POST", VALIDATE_RESELLERS, 900308)
        stack.partner_center = http  # type: ignore[assignment]
        async with stack.worker(time_env.client):
            summary = await (await _start_sweep(time_env.client)).result()
            [email] = await stack.sink.wait_for_messages(1, timeout_seconds=30)
        calls = fake.requests_to(VALIDATE_RESELLERS)
    # Three batches (100, 100, 50); the refused first one is not retried.
    assert [len(c.body["partnerIds"]) for c in calls] == [100, 100, 50]
    in_order = sorted((r["provider_partner_id"], r["reseller_partner_id"]) for r in people.rows)
    first_batch = {reseller for _, reseller in in_order[:100]}
    refused_ids = set(calls[0].body["partnerIds"])
    assert refused_ids == first_batch
    invalid_after = {pid: code for pid, code in people.invalid.items() if pid not in first_batch}
    assert (summary.checked, summary.invalid, summary.unchecked) == (150, len(invalid_after), 100)
    [failure] = summary.failures
    assert "100 partnership(s) from" in failure and "Insufficient privileges" in failure
    recorded = await stack.registry.list_invalid_por_checks(names.POR_SWEEP_WORKFLOW_ID)
    assert {c.reseller_partner_id: c.error_code for c in recorded} == invalid_after
    body = " ".join(text_of(email).split())
    assert "100 not checked" in body and "Not checked: 100 partnership(s)" in body
