"""Naming a reseller on an existing subscription (REL-06; issue 14) end to end on the real dev
server: started with `csp start` and plain JSON, found blocked through its search attributes,
fixed by a signed `operations` callback through the gateway over a real socket (a Helpdesk
agent's fix refused with its status), and found updated in Partner Center and the registry."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.provider_operations import SubscriptionResellerStage
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    SUBSCRIPTION,
    customer_of_provider,
    partnered_in_partner_center,
    prepare,
    subscription_reseller_request,
)
from tests.test_callbacks import gateway, signed_headers
from tests.test_cli import _env, csp
from tests.test_relationships_devserver import _visible

ENTERED = "9876543"
"""A PartnerID an operator typed in, unknown to Partner Center."""


async def test_operator_names_a_reseller_fixes_it_by_callback_and_it_is_updated(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    client = dev_env.client
    env = _env(client.service_client.config.target_host, tmp_path)
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    await customer_of_provider(stack)
    source = tmp_path / "subscription-reseller.json"
    source.write_text(json.dumps(subscription_reseller_request(partner_of_record=ENTERED)))
    workflow_id = names.subscription_reseller_id(PROVIDER, SUBSCRIPTION)
    path = f"/callbacks/subscription-reseller/{PROVIDER}/{SUBSCRIPTION}/partner-of-record-fix"
    async with (
        gateway(client) as url,
        httpx.AsyncClient(base_url=url) as http,
        stack.worker(client),
    ):
        started = await csp(env, "start", "subscription-reseller", str(source))
        assert started.code == 0, started.err
        assert started.out.startswith(f"started {workflow_id} (SubscriptionReseller, run ")
        await _visible(
            client,
            f"WorkflowId = '{workflow_id}' AND PartnerId = '{PROVIDER}' AND Region = 'JP' "
            "AND PipelineStage = 'por_invalid' AND NextDeadline IS NOT NULL",
        )
        helpdesk = json.dumps(
            {
                "partner_of_record": RESELLER,
                "fixed_by": {"user": "desk@tokyo-cloud.example", "role": "helpdesk_agent"},
            }
        ).encode()
        refused = await http.post(
            path, content=helpdesk, headers=signed_headers(path, helpdesk, "operations")
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["type"] == "RoleForbidden"
        assert "only an Admin agent or Sales agent" in refused.json()["error"]["message"]
        body = json.dumps(
            {
                "partner_of_record": RESELLER,
                "fixed_by": {"user": "sales@tokyo-cloud.example", "role": "sales_agent"},
            }
        ).encode()
        fixed = await http.post(
            path, content=body, headers=signed_headers(path, body, "operations", delivery_id="f-1")
        )
        assert fixed.status_code == 200, fixed.text
        assert fixed.json()["accepted"] is True
        await _visible(client, f"WorkflowId = '{workflow_id}' AND Outcome = 'updated'")
        shown = await csp(env, "status", workflow_id, "--json")
        assert shown.code == 0, shown.err
        status = json.loads(shown.out)
        assert status["stage"] == "updated" and status["partner_of_record"] == RESELLER
    record = await stack.registry.get_subscription_reseller(str(CUSTOMER), SUBSCRIPTION)
    assert record is not None and record.status is SubscriptionResellerStage.UPDATED
    data = stack.partner_center_data()
    assert data["subscriptions"][SUBSCRIPTION]["partnerId"] == RESELLER
