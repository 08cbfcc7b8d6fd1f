"""The reseller enrollment pipeline on the time-skipping test server: timers take seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from adapters.registry import ResellerStatus
from app import contract
from domain.reseller_enrollment import EnrollmentStage, MpaSignatureReport, Withdrawal
from tests.conftest import JP_PARTNER, UNSIGNED_PARTNER, UNSIGNED_TENANT, Stack, application
from tests.enrollment_driver import (
    decide,
    latest_token,
    start_enrollment,
    status,
    subjects,
    verify,
)
from workflows.email_verification import ResendVerification


async def test_enrollment_runs_to_active(time_env: WorkflowEnvironment, stack: Stack, workflow_id: str) -> None:
    client = time_env.client
    async with stack.worker(client):
        handle = await start_enrollment(client, workflow_id, application())
        token = await latest_token(stack.sink, 1)
        assert (await status(handle)).stage is EnrollmentStage.EMAIL_VERIFICATION
        await verify(client, workflow_id, token)
        await stack.sink.wait_for_messages(2, timeout_seconds=30)
        await decide(handle, "approve")
        result = await handle.result()

    assert result.outcome is EnrollmentStage.ACTIVE
    assert subjects(stack.sink) == [
        "Confirm your email address for your CSP reseller enrollment",
        "Your CSP reseller enrollment is under review",
        "Your CSP reseller enrollment is approved",
        "Your CSP reseller account is active",
    ]
    record = await stack.registry.get_reseller(JP_PARTNER)
    assert record is not None
    assert record.status is ResellerStatus.ACTIVE
    assert record.country == "JP"
    assert record.ir_authorized_at is not None and record.mpa_signed_at is not None
