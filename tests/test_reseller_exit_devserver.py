"""The reseller side of ending a relationship (END-03; issue 14) end to end on the real dev
server: started with `csp start`, followed through its search attributes, the Support case and
Support's outcome reported as signed `operations` callbacks through the gateway over a real
socket (a repeated delivery answered the same), and recorded in the registry."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.reseller_exit import ResellerExitStage
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    customer_of_provider,
    prepare,
    reseller_exit_request,
)
from tests.test_callbacks import gateway, signed_headers
from tests.test_cli import _env, csp
from tests.test_relationships_devserver import _visible


async def test_reseller_exit_followed_by_callbacks(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    client = dev_env.client
    env = _env(client.service_client.config.target_host, tmp_path)
    await prepare(stack, partnerships=(RESELLER,))
    await customer_of_provider(stack)
    [before] = await stack.registry.list_customer_relationships(str(CUSTOMER))
    source = tmp_path / "reseller-exit.json"
    source.write_text(json.dumps(reseller_exit_request()))
    workflow_id = names.reseller_exit_id(RESELLER, PROVIDER)
    base = f"/callbacks/reseller-exit/{RESELLER}/{PROVIDER}"
    async with (
        gateway(client) as url,
        httpx.AsyncClient(base_url=url) as http,
        stack.worker(client),
    ):
        started = await csp(env, "start", "reseller-exit", str(source))
        assert started.code == 0, started.err
        await _visible(
            client,
            f"WorkflowId = '{workflow_id}' AND PartnerId = '{RESELLER}' AND Region = 'JP' "
            "AND PipelineStage = 'awaiting_support_case' AND NextDeadline IS NOT NULL",
        )
        case = json.dumps(
            {
                "case_reference": "2611300010001234",
                "opened_at": "2026-01-10T02:00:00Z",
                "reported_by": "reseller-success",
            }
        ).encode()
        for _ in range(2):  # the backend delivers twice: one effect, the same answer
            answer = await http.post(
                f"{base}/support-case",
                content=case,
                headers=signed_headers(
                    f"{base}/support-case", case, "operations", delivery_id="case-1"
                ),
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["message"] == "Microsoft Support case 2611300010001234 recorded"
        await _visible(
            client, f"WorkflowId = '{workflow_id}' AND PipelineStage = 'awaiting_outcome'"
        )
        outcome = json.dumps({"outcome": "ended", "reported_by": "reseller-success"}).encode()
        answer = await http.post(
            f"{base}/support-outcome",
            content=outcome,
            headers=signed_headers(f"{base}/support-outcome", outcome, "operations"),
        )
        assert answer.status_code == 200, answer.text
        await _visible(client, f"WorkflowId = '{workflow_id}' AND Outcome = 'ended'")
        shown = await csp(env, "status", workflow_id, "--json")
        assert shown.code == 0, shown.err
        assert json.loads(shown.out)["case_reference"] == "2611300010001234"
    record = await stack.registry.get_reseller_exit(RESELLER, PROVIDER)
    assert record is not None and record.status is ResellerExitStage.ENDED
    assert await stack.registry.list_customer_relationships(str(CUSTOMER)) == [before]
