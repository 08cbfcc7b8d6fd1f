"""GDAP restoration (POR-04; issue 14) end to end on the real dev server: started with
`csp start`, found through its search attributes, each customer's re-granted delegated admin
reported as a signed callback through the gateway over a real socket, the registry's revocation
mark cleared."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from contract import names
from tests.conftest import Stack
from tests.relationship_driver import CUSTOMER, PROVIDER, RESELLER, customer_of_provider, prepare
from tests.test_callbacks import gateway, signed_headers
from tests.test_cli import _env, csp
from tests.test_relationships_devserver import _visible


async def test_operator_follows_gdap_restoration(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    client = dev_env.client
    env = _env(client.service_client.config.target_host, tmp_path)
    await prepare(stack)
    await customer_of_provider(stack)
    assert await stack.registry.revoke_reseller_gdap(RESELLER, datetime.now(UTC)) == 1
    # A reinstatement instant of its own per run: the session's dev server keeps old ids.
    reinstated = datetime.now(UTC).replace(microsecond=0)
    stamp = names.reinstated_stamp(reinstated)
    source = tmp_path / "gdap.json"
    source.write_text(
        json.dumps(
            {
                "provider_partner_id": PROVIDER,
                "reseller_partner_id": RESELLER,
                "reinstated_at": reinstated.isoformat(),
                "reported_by": "pc-webhook",
            }
        )
    )
    workflow_id = names.gdap_restoration_id(RESELLER, stamp)
    async with (
        gateway(client) as url,
        httpx.AsyncClient(base_url=url) as http,
        stack.worker(client),
    ):
        started = await csp(env, "start", "gdap-restoration", str(source))
        assert started.code == 0, started.err
        await _visible(
            client,
            f"WorkflowId = '{workflow_id}' AND PartnerId = '{RESELLER}' "
            "AND PipelineStage = 'awaiting_regrants' AND NextDeadline IS NOT NULL",
        )
        body = json.dumps(
            {"customer_tenant_id": str(CUSTOMER), "reported_by": "partner-center"}
        ).encode()
        answer = await http.post(
            f"/callbacks/gdap-restoration/{RESELLER}/{stamp}/gdap-regranted",
            content=body,
            headers=signed_headers(
                f"/callbacks/gdap-restoration/{RESELLER}/{stamp}/gdap-regranted",
                body,
                "partner-center",
            ),
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["message"].endswith("0 customer(s) left")
        await _visible(client, f"WorkflowId = '{workflow_id}' AND Outcome = 'restored'")
    assert await stack.registry.list_gdap_revoked_customers(RESELLER) == []
    [relationship] = await stack.registry.list_customer_relationships(str(CUSTOMER))
    assert relationship.gdap_revoked_at is None
