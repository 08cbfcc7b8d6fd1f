"""The partnership pipeline run by the worker with the real HTTP client against a server answering
Microsoft's published example bodies (tests/fake_partner_center.py): the signed-in provider is the
MPN profile example's 4391507 (legal business profile: US), the resellers are the relationships
example's 4847383 (US) and 4847433 (BR). And the enrollment's tenant check with the same client
configured without a Graph credential."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from domain.messages import Acknowledgement
from domain.relationships import PartnershipStage, PartnershipStatus
from tests.conftest import Stack, application
from tests.enrollment_driver import start_enrollment
from tests.fake_partner_center import (
    AGREEMENT_STATUS,
    GRAPH_TOKEN,
    LEGAL_BUSINESS,
    PC_TOKEN,
    RELATIONSHIPS,
    DocumentedPartnerCenter,
    RecordedRequest,
    documented_partner_center_client,
    fixture,
)
from tests.relationship_driver import attestations, partnership_request, start_partnership, update
from tests.test_pipeline_integrity import _attempts, _cause_of_type, _events, read_attention

PROVIDER = "4391507"
RESELLER_US = "4847383"
RESELLER_BR = "4847433"


@pytest.fixture
async def fake(stack: Stack) -> AsyncIterator[DocumentedPartnerCenter]:
    async with documented_partner_center_client() as (server, client):
        stack.partner_center = client  # type: ignore[assignment]
        yield server


def _request(reseller: str) -> dict[str, object]:
    return partnership_request(provider_partner_id=PROVIDER, reseller_partner_id=reseller)


async def test_a_reseller_enrolled_directly_in_partner_center_is_accepted_and_found_listed(
    time_env: WorkflowEnvironment, stack: Stack, fake: DocumentedPartnerCenter
) -> None:
    # The registry knows nothing of 4847383: Partner Center's agreementstatus decides REL-01.
    assert await stack.registry.get_reseller(RESELLER_US) is None
    client = time_env.client
    async with stack.worker(client):
        handle = await start_partnership(client, _request(RESELLER_US))
        await stack.sink.wait_for_messages(1, timeout_seconds=30)
        await time_env.sleep(timedelta(days=1, minutes=1))
        status = await handle.query(names.QUERY_STATUS, result_type=PartnershipStatus)
        assert status.stage is PartnershipStage.ACTIVE
        assert status.accepted_via == "found on Partner Center's relationships list"
        await update(
            handle,
            names.UPDATE_REMOVE_PARTNERSHIP,
            {
                "requested_by": {"user": "ops", "role": "admin_agent"},
                "reason": "test over",
                "attestations": attestations(),
            },
            Acknowledgement,
        )
        assert (await handle.result()).outcome is PartnershipStage.REMOVED
    assert fake.requests_to(AGREEMENT_STATUS)[0].query == {"mpnId": RESELLER_US}
    assert fake.requests_to(LEGAL_BUSINESS)  # our own country: US
    assert len(fake.requests_to(RELATIONSHIPS)) >= 2


async def test_a_reseller_in_another_country_is_refused_by_its_relationship_location(
    time_env: WorkflowEnvironment, stack: Stack, fake: DocumentedPartnerCenter
) -> None:
    async with stack.worker(time_env.client):
        handle = await start_partnership(time_env.client, _request(RESELLER_BR))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "RegionMismatch"
    assert "is in US" in cause.message and "is in BR" in cause.message


@pytest.mark.parametrize(
    ("name", "error_type", "words"),
    [
        (
            "agreement_status.error_2204_no_csp_reseller_account_400.json",
            "ResellerNotOnboarded",
            "not associated with any CSP Indirect Reseller account",
        ),
        (
            "agreement_status.error_2201_region_mismatch_legacy_400.json",
            "RegionMismatch",
            "2201",
        ),
    ],
)
async def test_partner_centers_agreement_verdicts_refuse_the_partnership(
    time_env: WorkflowEnvironment,
    stack: Stack,
    fake: DocumentedPartnerCenter,
    name: str,
    error_type: str,
    words: str,
) -> None:
    fake.answer_error("GET", AGREEMENT_STATUS, fixture(name), status=400, forever=True)
    async with stack.worker(time_env.client):
        handle = await start_partnership(time_env.client, _request(RESELLER_US))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == error_type
    assert words in cause.message
    assert stack.sink.messages() == []


@dataclass
class _FailedEnrollment:
    failure: WorkflowFailureError
    attention: str | None
    handle: WorkflowHandle[Any, Any]
    requests: list[RecordedRequest]


async def _enrollment_failing(
    time_env: WorkflowEnvironment,
    stack: Stack,
    workflow_id: str,
    *,
    partner_center_tokens: str,
    graph_tokens: str | None,
) -> _FailedEnrollment:
    """An enrollment run with the HTTP client so configured against the documented fake, to its
    failure: the failure, the `Attention` it shows, its handle and the requests the fake saw."""
    async with documented_partner_center_client(
        partner_center_tokens=partner_center_tokens, graph_tokens=graph_tokens
    ) as (server, client):
        stack.partner_center = client  # type: ignore[assignment]
        async with stack.worker(time_env.client):
            handle = await start_enrollment(time_env.client, workflow_id, application())
            with pytest.raises(WorkflowFailureError) as failure:
                await handle.result()
            attention = await read_attention(time_env.client, handle.id)
        return _FailedEnrollment(failure.value, attention, handle, list(server.requests))


async def test_an_enrollment_without_a_graph_credential_fails_at_once_naming_the_settings(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """`CSP_PARTNER_CENTER_MODE=http` with a static Partner Center token and no Graph credential:
    ENR-02's tenant check (Graph) cannot be made as configured, and no retry can supply the
    setting. It fails on its first attempt as `OperationUnsupported` naming the settings (it used
    to be retried RETRY_ATTEMPTS times as an unclassified error before the pipeline gave up), and
    the pipeline shows `Attention` for an operator: the applicant is not told it was refused."""
    failed = await _enrollment_failing(
        time_env, stack, workflow_id, partner_center_tokens=PC_TOKEN, graph_tokens=None
    )
    assert not [r for r in failed.requests if r.path.startswith("/v1.0/")]  # no Graph call
    cause = _cause_of_type(failed.failure, "OperationUnsupported")
    assert cause.non_retryable
    assert "calls Microsoft Graph, and no Graph credential is configured" in cause.message
    assert "CSP_ENTRA_CLIENT_ID" in cause.message and "CSP_GRAPH_TOKEN" in cause.message
    # One attempt of every step, the tenant check included: retrying cannot supply a setting.
    assert set(_attempts(await _events(failed.handle))) == {1}
    assert failed.attention == "check_tenant_admin: OperationUnsupported"
    assert stack.sink.messages() == []


async def test_credentials_partner_center_refuses_are_no_refusal_of_the_applicant(
    time_env: WorkflowEnvironment, stack: Stack, workflow_id: str
) -> None:
    """A Partner Center token the API answers 401 (error 800001 of its error-code table, the
    fake's documented answer to an unknown token) is ours to fix, not the applicant's refusal:
    the enrollment fails on the first attempt as `PartnerCenterAuthError`, shows `Attention` for
    an operator, and mails nobody (it used to end as a business refusal and email the applicant
    "not accepted" with our credentials as the reason)."""
    failed = await _enrollment_failing(
        time_env,
        stack,
        workflow_id,
        partner_center_tokens="a-token-partner-center-does-not-know",
        graph_tokens=GRAPH_TOKEN,
    )
    cause = _cause_of_type(failed.failure, "PartnerCenterAuthError")
    assert cause.non_retryable
    assert set(_attempts(await _events(failed.handle))) == {1}
    assert failed.attention is not None and failed.attention.endswith(": PartnerCenterAuthError")
    assert stack.sink.messages() == []
