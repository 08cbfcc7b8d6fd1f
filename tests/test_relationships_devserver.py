"""The whole relationship chain on the real Temporal dev server: a partnership accepted, a joint
customer invitation accepted (one webhook delivered twice) with its MCA attested, and an order
with a valid Partner of Record placed; each pipeline found through its search attributes, updates
sent as plain JSON (the order from the `temporal` CLI), and the partnership removed at the end
without touching the customer."""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from adapters.partner_center.local import sample_data
from contract import names
from domain.messages import Acknowledgement
from domain.relationships import (
    CustomerInvitationResult,
    CustomerInvitationStage,
    CustomerInvitationStatus,
    OrderResult,
    OrderStage,
    PartnershipStage,
    PartnershipStatus,
)
from domain.reseller_enrollment import ResellerRecord, ResellerStatus
from runtime.binaries import temporal_cli
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    PARTNERSHIP_LINK,
    PROVIDER,
    RESELLER,
    agreement,
    attestations,
    bodies,
    invitation_request,
    order_request,
    partnership_request,
    prepare,
    start_invitation,
    start_partnership,
    subjects,
    wait_for_stage,
)


async def _visible(client: Client, query: str) -> list[str]:
    """Workflow ids matching a visibility query, once the (eventually consistent) index has them."""
    for _ in range(100):
        ids = [wf.id async for wf in client.list_workflows(query)]
        if ids:
            return ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"visibility never showed a workflow for {query!r}")


def _cli(env: WorkflowEnvironment, *args: str) -> dict[str, Any]:
    address = env.client.service_client.config.target_host
    completed = subprocess.run(
        [temporal_cli(), *args, "--address", address, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else {}


async def test_partnership_then_customer_invitation_then_order_with_a_valid_por(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    await prepare(stack)
    client = dev_env.client
    started = datetime.now(UTC).isoformat()
    async with stack.worker(client):
        # 1. The provider's Admin agent requests the partnership.
        partnership = await start_partnership(client, partnership_request())
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        assert PARTNERSHIP_LINK in bodies(stack.sink)[0]
        assert await _visible(
            client,
            f"WorkflowId = '{partnership.id}' AND PartnerId = '{RESELLER}' AND Region = 'JP' "
            f"AND PipelineStage = 'awaiting_acceptance' AND NextDeadline > '{started}'",
        ) == [partnership.id]
        status = await partnership.query(names.QUERY_STATUS, result_type=PartnershipStatus)
        metadata = await partnership.query(
            "__temporal_workflow_metadata", result_type=WorkflowMetadata
        )
        assert status.deadline is not None
        first, _, rest = metadata.current_details.partition("\n")
        assert first.startswith("Waiting for the reseller to accept the partnership request")
        assert first.endswith(f"until {status.deadline:%A, %-d %B %Y, %H:%M} UTC")
        assert rest.strip() == "Stage: **awaiting_acceptance**"

        await partnership.execute_update(
            names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED,
            {"reported_by": "reseller-success-team"},
            result_type=Acknowledgement,
        )
        await wait_for_stage(partnership, PartnershipStage.ACTIVE, PartnershipStatus)
        await _visible(client, f"WorkflowId = '{partnership.id}' AND PipelineStage = 'active'")

        # 2. A joint invitation; the webhook relay delivers the acceptance twice (same update id).
        invitation = await start_invitation(client, invitation_request())
        await stack.sink.wait_for_messages(3, timeout_seconds=30)
        assert "indirectCSPId=3456789" in bodies(stack.sink)[2]
        await _visible(
            client,
            f"WorkflowId = '{invitation.id}' AND PartnerId = '{RESELLER}' "
            "AND PipelineStage = 'awaiting_acceptance'",
        )
        for _ in range(2):
            ack = await invitation.execute_update(
                names.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED,
                {"customer_tenant_id": str(CUSTOMER), "reported_by": "pc-webhook"},
                id="webhook-delivery-7f3a",
                result_type=Acknowledgement,
            )
            assert ack.message == "indirect-reseller-relationship-accepted-by-customer recorded"
        await wait_for_stage(
            invitation,
            CustomerInvitationStage.AWAITING_CUSTOMER_AGREEMENT,
            CustomerInvitationStatus,
        )
        await invitation.execute_update(
            names.UPDATE_ATTEST_CUSTOMER_AGREEMENT, agreement(), result_type=Acknowledgement
        )
        invited = await client.get_workflow_handle(
            invitation.id, result_type=CustomerInvitationResult
        ).result()
        assert invited.outcome is CustomerInvitationStage.ACTIVE
        await _visible(client, f"WorkflowId = '{invitation.id}' AND Outcome = 'active'")

        # 3. The order, started by an operator with the CLI and plain JSON.
        order_id = names.subscription_order_id(PROVIDER, "PO-2026-0001")
        await asyncio.to_thread(
            _cli,
            dev_env,
            "workflow", "start",
            "--type", names.SUBSCRIPTION_ORDER,
            "--task-queue", names.TASK_QUEUE,
            "--workflow-id", order_id,
            "--input", json.dumps(order_request()),
        )  # fmt: skip
        placed = await client.get_workflow_handle(order_id, result_type=OrderResult).result()
        assert placed.outcome is OrderStage.PLACED
        assert placed.partner_of_record == RESELLER and placed.warnings == ()
        assert await _visible(
            client,
            f"WorkflowId = '{order_id}' AND PartnerId = '{PROVIDER}' AND Region = 'JP' "
            "AND Outcome = 'placed' AND PipelineStage = 'placed'",
        ) == [order_id]

        # 4. The partnership ends; the customer and its relationship stay.
        await partnership.execute_update(
            names.UPDATE_REMOVE_PARTNERSHIP,
            {
                "requested_by": {"user": "admin@tokyo-cloud.example", "role": "admin_agent"},
                "reason": "end of the pilot",
                "attestations": attestations(),
            },
            result_type=Acknowledgement,
        )
        ended = await partnership.result()
        assert ended.outcome is PartnershipStage.REMOVED
        await _visible(client, f"WorkflowId = '{partnership.id}' AND Outcome = 'removed'")

    relationship = await stack.registry.get_customer_relationship(RESELLER, str(CUSTOMER))
    assert relationship is not None and relationship.status is CustomerInvitationStage.ACTIVE
    assert relationship.gdap_revoked_at is None
    order = await stack.registry.get_order(PROVIDER, "PO-2026-0001")
    assert order is not None and order.partner_center_order_id == placed.partner_center_order_id
    assert subjects(stack.sink) == [
        "Tokyo Cloud Distribution K.K. requests a CSP indirect partnership with your company",
        "Your CSP partnership with Tokyo Cloud Distribution K.K. is active",
        "Contoso K.K. invites you to a reseller relationship",
        f"Partnership with PartnerID {RESELLER} removed",
    ]
    # No names or email addresses in any search attribute.
    for handle_id in (partnership.id, invitation.id, order_id):
        attributes = (
            await client.get_workflow_handle(handle_id).describe()
        ).typed_search_attributes
        flat = json.dumps({p.key.name: str(p.value) for p in attributes}).lower()
        for personal in ("minato", "contoso", "tokyo", "suzuki", "yamada", "@"):
            assert personal not in flat


def _readme_walk_through() -> list[list[str]]:
    """The README's relationship walk-through, as the commands it shows."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    start = readme.index("## Relationship pipelines")
    block = readme[start:].split("```sh\n", 1)[1].split("```", 1)[0]
    lines = block.replace("\\\n", " ").splitlines()
    variables: dict[str, str] = {}
    commands: list[list[str]] = []
    for line in lines:
        if line[:2] in ("T=", "C=", "M="):
            for assignment in shlex.split(line.replace(";", " ")):
                name, _, value = assignment.partition("=")
                variables[name] = value
            continue
        for name, value in variables.items():
            line = line.replace(f'"${name}"', shlex.quote(value)).replace(f"${name}", value)
        commands.append(shlex.split(line))
    return commands


async def test_the_readme_walk_through_on_the_sample_data(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The sample Partner Center data and `examples/*.json` are enough for the README's commands
    once Sakura (4512345) is an active indirect reseller."""
    stack.data_file.write_text(json.dumps(sample_data()))
    now = datetime.now(UTC)
    await stack.registry.save_reseller(
        ResellerRecord(
            partner_id="4512345",
            status=ResellerStatus.ACTIVE,
            country="JP",
            tenant_id="3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f",
            workflow_id=names.reseller_enrollment_id("4512345"),
            updated_at=now,
        )
    )
    root = Path(__file__).parent.parent
    client = dev_env.client
    async with stack.worker(client):
        for command in _readme_walk_through():
            assert command[0] == ".venv/bin/temporal"
            args = command[1:]
            args = [
                json.dumps(json.loads((root / a[len("$(cat ") : -1]).read_text()))
                if a.startswith("$(cat ")
                else a
                for a in args
            ]
            if args[:3] == ["workflow", "update", "execute"]:
                workflow_id = args[args.index("--workflow-id") + 1]
                name = args[args.index("--name") + 1]
                wanted = {
                    names.UPDATE_REPORT_PARTNERSHIP_ACCEPTED: "awaiting_acceptance",
                    names.UPDATE_INDIRECT_RESELLER_RELATIONSHIP_ACCEPTED: "awaiting_acceptance",
                    names.UPDATE_ATTEST_CUSTOMER_AGREEMENT: "awaiting_customer_agreement",
                }[name]
                await _until_stage(client, workflow_id, wanted)
            await asyncio.to_thread(_cli, dev_env, *args)
        order = await client.get_workflow_handle(
            "order-3456789-PO-2026-0001", result_type=OrderResult
        ).result()
        assert order.outcome is OrderStage.PLACED and order.partner_of_record == "4512345"
        partnership = client.get_workflow_handle("partnership-3456789-4512345")
        await partnership.execute_update(
            names.UPDATE_REMOVE_PARTNERSHIP,
            {
                "requested_by": {"user": "ops", "role": "admin_agent"},
                "reason": "walk-through over",
                "attestations": attestations(),
            },
            result_type=Acknowledgement,
        )
        await partnership.result()
    placed = stack.partner_center_data()["orders"]
    assert [o["line_items"][0]["partner_id_on_record"] for o in placed.values()] == ["4512345"]


async def _until_stage(client: Client, workflow_id: str, stage: str) -> None:
    for _ in range(100):
        described = await client.get_workflow_handle(workflow_id).describe()
        if described.typed_search_attributes.get(names.SA_STAGE) == stage:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{workflow_id} never reached {stage}")
