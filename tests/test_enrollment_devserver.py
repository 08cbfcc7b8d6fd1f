"""The enrollment pipeline on the real Temporal dev server: search attributes, updates through the
gateway over a real socket, the SMTP sink, and the `temporal` CLI as an outside client."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.reseller_enrollment import EnrollmentResult, EnrollmentStage
from domain.verification_token import TokenClaims, mint_token
from runtime.binaries import temporal_cli
from tests.conftest import TOKEN_SECRET, Stack, application, new_partner
from tests.enrollment_driver import decide, latest_token, start_enrollment, status, subjects
from tests.gateway_server import serve_gateway


async def _visible(client: Client, query: str, expected: int = 1) -> list[str]:
    """Workflow ids matching a visibility query, once the (eventually consistent) index has them."""
    for _ in range(100):
        ids = [wf.id async for wf in client.list_workflows(query)]
        if len(ids) >= expected:
            return ids
        await asyncio.sleep(0.1)
    raise AssertionError(f"visibility never showed {expected} workflow(s) for {query!r}")


def _forged(token: str) -> str:
    """The token with its signature (the last part, in the short and the v1 format) altered."""
    *signed, signature = token.split(".")
    return ".".join([*signed, f"{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"])


@pytest.fixture
def workflow_id(stack: Stack) -> str:
    """A PartnerID of this test's own: the dev server is shared by the session's tests."""
    return names.reseller_enrollment_id(new_partner(stack))


async def test_verification_through_the_gateway_and_search_attributes(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = dev_env.client
    partner = workflow_id.removeprefix(names.reseller_enrollment_id(""))
    async with serve_gateway(client, [TOKEN_SECRET.encode()]) as gateway_url:
        stack.settings = stack.settings.model_copy(update={"public_base_url": gateway_url})
        async with stack.worker(client), httpx.AsyncClient(base_url=gateway_url) as http:
            # No locale given: a JP partner's contact is written to in Japanese (domain/locale.py).
            contact = {**application()["primary_contact"]}
            del contact["locale"]
            handle = await start_enrollment(
                client, workflow_id, application(partner_id=partner, primary_contact=contact)
            )
            token = await latest_token(stack.sink, 1)
            json_accept = {"accept": "application/json"}

            ids = await _visible(
                client,
                f"PartnerId = '{partner}' AND PipelineStage = 'email_verification' "
                f"AND Region = 'JP' AND WorkflowId = '{workflow_id}'",
            )
            assert ids == [workflow_id]

            # GET only shows the confirmation form; it never consumes the token.
            page = await http.get("/verify-email", params={"token": token})
            assert page.status_code == 200
            assert 'method="post"' in page.text

            expired = mint_token(
                TOKEN_SECRET.encode(),
                TokenClaims(
                    workflow_id=names.email_verification_id(workflow_id),
                    token_id="link-1",
                    expires_at=datetime.now(UTC) - timedelta(minutes=1),
                ),
            )
            for bad, code, error_type in [
                (_forged(token), 400, "TokenInvalid"),
                (expired, 410, "TokenExpired"),
                ("not-a-token", 400, "TokenInvalid"),
            ]:
                refused = await http.post("/verify-email", data={"token": bad}, headers=json_accept)
                assert refused.status_code == code
                assert refused.json()["error"]["type"] == error_type
            assert (await status(handle)).stage is EnrollmentStage.EMAIL_VERIFICATION

            verified = await http.post("/verify-email", data={"token": token}, headers=json_accept)
            assert verified.status_code == 200, verified.text
            assert verified.json()["status"] == "verified"

            reused = await http.post("/verify-email", data={"token": token}, headers=json_accept)
            assert reused.status_code == 409
            assert reused.json()["error"]["type"] == "TokenAlreadyUsed"

            await stack.sink.wait_for_messages(2, timeout_seconds=30)
            current = await status(handle)
            assert current.stage is EnrollmentStage.REVIEW
            assert current.deadline is not None
            # What the Web UI shows as the pipeline's current details.
            metadata = await handle.query(
                "__temporal_workflow_metadata", result_type=WorkflowMetadata
            )
            # First line in words, to the minute, in the display zone (UTC by default).
            first, _, rest = metadata.current_details.partition("\n")
            assert first == (
                "Waiting for Microsoft's review decision (decide_review) until "
                f"{current.deadline:%A, %-d %B %Y, %H:%M} UTC"
            )
            assert rest.strip() == "Stage: **review**"
            await _visible(
                client,
                f"PipelineStage = 'review' AND NextDeadline > '{datetime.now(UTC).isoformat()}'"
                f" AND WorkflowId = '{workflow_id}'",
            )

            await decide(handle, "approve")
            result = await handle.result()
            assert result.outcome is EnrollmentStage.ACTIVE
            await _visible(client, f"Outcome = 'active' AND WorkflowId = '{workflow_id}'")

    # One message per step, no duplicates from retries or repeated clicks.
    assert subjects(stack.sink) == [
        "【要確認】Contoso K.K. の CSP リセラー登録: メールアドレスの確認",
        "CSP リセラー登録の審査中です",
        "CSP リセラー登録が承認されました",
        "CSP リセラー アカウントが有効になりました",
    ]
    description = await handle.describe()
    attributes = description.typed_search_attributes
    assert attributes.get(names.SA_PARTNER_ID) == partner
    assert attributes.get(names.SA_STAGE) == "active"
    assert attributes.get(names.SA_NEXT_DEADLINE) is None
    # No personal data in search attributes.
    flat = json.dumps({p.key.name: str(p.value) for p in attributes})
    assert "hanako" not in flat.lower() and "contoso" not in flat.lower()


def _cli(dev_env: WorkflowEnvironment, *args: str) -> dict[str, Any]:
    address = dev_env.client.service_client.config.target_host
    completed = subprocess.run(
        [temporal_cli(), *args, "--address", address, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout) if completed.stdout.strip() else {}


async def test_operator_starts_with_the_temporal_cli_and_plain_json(
    dev_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    client = dev_env.client
    partner = workflow_id.removeprefix(names.reseller_enrollment_id(""))
    async with stack.worker(client):
        started = await asyncio.to_thread(
            _cli,
            dev_env,
            "workflow", "start",
            "--type", names.RESELLER_ENROLLMENT,
            "--task-queue", names.TASK_QUEUE,
            "--workflow-id", workflow_id,
            "--input", json.dumps(application(partner_id=partner)),
        )  # fmt: skip
        assert started["workflowId"] == workflow_id
        token = await latest_token(stack.sink, 1)
        handle = client.get_workflow_handle(workflow_id, result_type=EnrollmentResult)
        child_id = names.email_verification_id(workflow_id)
        await asyncio.to_thread(
            _cli,
            dev_env,
            "workflow", "update", "execute",
            "--workflow-id", child_id,
            "--name", names.UPDATE_VERIFY_EMAIL,
            "--input", json.dumps({"token": token}),
        )  # fmt: skip
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await asyncio.to_thread(
            _cli,
            dev_env,
            "workflow", "update", "execute",
            "--workflow-id", workflow_id,
            "--name", names.UPDATE_DECIDE_REVIEW,
            "--input", json.dumps({"decision": "approve", "decided_by": "ops@csp"}),
        )  # fmt: skip
        result = await handle.result()
        described = await asyncio.to_thread(
            _cli, dev_env, "workflow", "query", "--workflow-id", workflow_id, "--name", "status"
        )
    assert result.outcome is EnrollmentStage.ACTIVE
    assert described["queryResult"][0]["stage"] == "active"
