"""Two regions of one PGA side by side on the real dev server, driven by updates as backends
send them; each region runs its own pipeline to an activated direct-bill tenant (DB-10)."""

from __future__ import annotations

import asyncio

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.direct_bill import DirectBillRegistryStatus, DirectBillStage
from tests.conftest import US_PARTNER, Stack
from tests.direct_bill_driver import (
    PLAN,
    db_application,
    new_pga,
    send,
    start_direct_bill,
    through_credit,
    wait_stage,
)


async def _run_to_activation(client: Client, workflow_id: str, **overrides: str) -> DirectBillStage:
    handle = await start_direct_bill(client, workflow_id, db_application(**overrides))
    await through_credit(client, handle)
    await wait_stage(handle, DirectBillStage.SUPPORT_PLAN)
    await send(handle, names.UPDATE_REPORT_SUPPORT_PLAN, PLAN)
    await wait_stage(handle, DirectBillStage.MPA_ACCEPTANCE)
    await send(handle, names.UPDATE_REPORT_MPA_ACCEPTED, {"accepted_by": "applicant"})
    return (await handle.result()).outcome


async def test_two_regions_run_side_by_side_to_activation(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    client = dev_env.client
    pga = new_pga(stack)  # the dev server is shared: this test owns its business ids
    jp, us = names.direct_bill_id(pga, "JP"), names.direct_bill_id(pga, "US")
    async with stack.worker(client):
        outcomes = await asyncio.gather(
            _run_to_activation(client, jp, pga_id=pga),
            _run_to_activation(client, us, pga_id=pga, region="US", pla_id=US_PARTNER),
        )
        assert list(outcomes) == [DirectBillStage.ACTIVE, DirectBillStage.ACTIVE]
        query = f"PartnerId = '{pga}' AND Outcome = 'active'"
        for _ in range(100):
            found = sorted([wf.id async for wf in client.list_workflows(query)])
            if len(found) == 2:
                break
            await asyncio.sleep(0.1)
        assert found == [jp, us]
    for region in ("JP", "US"):
        record = await stack.registry.get_direct_bill(pga, region)
        assert record is not None and record.status is DirectBillRegistryStatus.ACTIVE
