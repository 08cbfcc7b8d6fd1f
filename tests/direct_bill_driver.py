"""Drives a direct-bill application as its backends do: start, then one update per decision."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from contract import names
from domain.direct_bill import (
    DirectBillApplication,
    DirectBillResult,
    DirectBillStage,
    DirectBillStatus,
)
from tests.conftest import DB_PGA, DB_PLA, JP_TENANT, Stack
from tests.test_direct_bill_rules import questionnaire


def db_application(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "pga_id": DB_PGA,
        "region": "JP",
        "pla_id": DB_PLA,
        "legal_name": "Contoso K.K.",
        "applicant_email": "keiko.tanaka@contoso.example",
        "applicant_name": "Keiko Tanaka",
        "applicant_locale": "en",  # scenario tests read English texts (JP would default to ja)
        "applicant_role": "global_admin",
        "tenant_id": str(JP_TENANT),  # keiko.tanaka@contoso.example is one of its Global admins
        "authority_to_accept_agreements": True,
        "first_level_support": True,
    }
    base.update(overrides)
    return base


PLAN = {
    "plan": {
        "kind": "advanced_support_for_partners",
        "contract_id": "ASfP-2026-0042",
        "renewal_date": date(2027, 6, 30).isoformat(),
    },
    "reported_by": "billing-backend",
}
APPROVE = {"decision": "approve", "decided_by": "microsoft-review"}


def new_pga(stack: Stack) -> str:
    """A fresh PGA meeting every requirement (a copy of DB_PGA) in the local partner programs,
    so a test on the shared dev server owns its business ids."""
    pga_id = str(4_000_000 + uuid.uuid4().int % 999_999)
    stack.edit_partner_programs(
        lambda data: data["partners"].update({pga_id: data["partners"][DB_PGA]})
    )
    return pga_id


async def start_direct_bill(
    client: Client, workflow_id: str, application: dict[str, Any]
) -> WorkflowHandle[Any, DirectBillResult]:
    return await client.start_workflow(
        names.DIRECT_BILL_APPLICATION,
        DirectBillApplication.model_validate(application),
        id=workflow_id,
        task_queue=names.TASK_QUEUE,
        result_type=DirectBillResult,
    )


async def db_status(handle: WorkflowHandle[Any, Any]) -> DirectBillStatus:
    current: DirectBillStatus = await handle.query(names.QUERY_STATUS, result_type=DirectBillStatus)
    return current


async def send(handle: WorkflowHandle[Any, Any], update: str, payload: dict[str, Any]) -> Any:
    return await handle.execute_update(update, payload)


async def through_decision(handle: WorkflowHandle[Any, Any]) -> None:
    await wait_stage(handle, DirectBillStage.INITIAL_REVIEW)
    await send(handle, names.UPDATE_REPORT_INITIAL_REVIEW, APPROVE)
    await wait_stage(handle, DirectBillStage.ASSESSMENT)
    await send(handle, names.UPDATE_SUBMIT_ASSESSMENT, questionnaire().model_dump())
    await wait_stage(handle, DirectBillStage.DECISION)
    await send(handle, names.UPDATE_DECIDE_APPLICATION, APPROVE)


async def through_credit(client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    await through_decision(handle)
    await wait_stage(handle, DirectBillStage.ENROLLMENT_FORM)
    await send(
        handle,
        names.UPDATE_SUBMIT_ENROLLMENT_FORM,
        {"submission_id": "PC-ENR-1", "submitted_by": "applicant"},
    )
    child = client.get_workflow_handle(names.credit_review_id(handle.id))
    await wait_until_running(client, child.id)
    await send(child, names.UPDATE_DECIDE_CREDIT, {**APPROVE, "decided_by": "credit-team"})


async def through_activation(client: Client, handle: WorkflowHandle[Any, Any]) -> None:
    """Every backend update from the start to an activated tenant: credit, plan, MPA."""
    await through_credit(client, handle)
    await wait_stage(handle, DirectBillStage.SUPPORT_PLAN)
    await send(handle, names.UPDATE_REPORT_SUPPORT_PLAN, PLAN)
    await wait_stage(handle, DirectBillStage.MPA_ACCEPTANCE)
    await send(handle, names.UPDATE_REPORT_MPA_ACCEPTED, {"accepted_by": "applicant"})


async def wait_until_running(client: Client, workflow_id: str) -> None:
    """Child workflows start asynchronously; updates need them to exist."""
    for _ in range(200):
        try:
            async for _event in client.get_workflow_handle(workflow_id).fetch_history_events():
                return
        except RPCError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{workflow_id} never started")


async def wait_stage(handle: WorkflowHandle[Any, Any], stage: DirectBillStage) -> DirectBillStatus:
    """A backend reports a decision once the pipeline asks for it (its email went out)."""
    for _ in range(400):
        current = await db_status(handle)
        if current.stage is stage:
            return current
        await asyncio.sleep(0.025)
    raise AssertionError(f"{handle.id} never reached {stage}; it is at {current.stage}")
