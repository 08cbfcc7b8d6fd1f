"""Provider operations for partnered resellers (REL-05; issue 14) end to end on the real dev
server: an operator starts each with `csp start` and plain JSON, the production worker runs it
against the local Partner Center file and the registry, each is found through its search
attributes, and `csp status` shows how it ended."""

from __future__ import annotations

import json
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.relationships import CustomerInvitationStage
from tests.conftest import Stack
from tests.relationship_driver import (
    CUSTOMER,
    PROVIDER,
    RESELLER,
    SUBSCRIPTION,
    customer_of_provider,
    partnered_in_partner_center,
    prepare,
    reseller_customer_request,
    support_contact_request,
)
from tests.test_cli import _env, csp
from tests.test_relationships_devserver import _visible


async def test_operator_adds_a_customer_and_a_support_contact_for_a_reseller(
    dev_env: WorkflowEnvironment, stack: Stack, tmp_path: Path
) -> None:
    client = dev_env.client
    env = _env(client.service_client.config.target_host, tmp_path)
    await prepare(stack, partnerships=(RESELLER,))
    partnered_in_partner_center(stack, RESELLER)
    await customer_of_provider(stack)
    # A unique domain per run: the session's dev server keeps earlier runs' workflow ids.
    prefix = f"shinagawa{tmp_path.name[-8:].replace('_', '').lower()}"[:27]
    customer_file = tmp_path / "customer.json"
    customer_file.write_text(json.dumps(reseller_customer_request(domain_prefix=prefix)))
    contact_file = tmp_path / "contact.json"
    contact_file.write_text(json.dumps(support_contact_request()))
    customer_wf = names.reseller_customer_id(PROVIDER, prefix)
    contact_wf = names.support_contact_id(PROVIDER, SUBSCRIPTION)
    async with stack.worker(client):
        started = await csp(env, "start", "reseller-customer", str(customer_file))
        assert started.code == 0, started.err
        assert started.out.startswith(f"started {customer_wf} (ResellerCustomer, run ")
        started = await csp(env, "start", "support-contact", str(contact_file))
        assert started.code == 0, started.err
        for workflow_id in (customer_wf, contact_wf):
            assert await _visible(
                client,
                f"WorkflowId = '{workflow_id}' AND PartnerId = '{RESELLER}' AND Region = 'JP' "
                "AND PipelineStage = 'done' AND Outcome = 'done'",
            ) == [workflow_id]
        shown = await csp(env, "status", customer_wf, "--json")
        assert shown.code == 0, shown.err
        status = json.loads(shown.out)
        assert status["stage"] == "done"
        assert [h["stage"] for h in status["history"]] == [
            "prechecks",
            "calling_partner_center",
            "done",
        ]
    customer_id = status["customer_tenant_id"]
    [relationship] = await stack.registry.list_customer_relationships(customer_id)
    assert relationship.status is CustomerInvitationStage.ACTIVE
    assert relationship.provider_partner_id == PROVIDER
    record = await stack.registry.get_support_contact(str(CUSTOMER), SUBSCRIPTION)
    assert record is not None and record.workflow_id == contact_wf
    data = stack.partner_center_data()
    assert data["subscriptions"][SUBSCRIPTION]["supportContact"]["supportMpnId"] == RESELLER
    assert data["customers"][customer_id]["partners"] == [PROVIDER, RESELLER]
