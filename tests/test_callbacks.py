"""Signed backend callbacks: the signature rules at their edges, then the gateway over a real
socket against the real dev server (good delivery, redelivery, refusals that change nothing), and
a schemathesis run against the served OpenAPI document with no 5xx."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from contract import names
from contract.pipelines import DECISIONS, find_decision
from domain.reseller_enrollment import EnrollmentResult, EnrollmentStage
from gateway.app import create_app
from gateway.callbacks import callback_path
from gateway.refusals import (
    BackendForbidden,
    DeliveryIdInvalid,
    SignatureInvalid,
    SignatureMissing,
    SignatureStale,
)
from gateway.server import serve_asgi
from gateway.signatures import CallbackSecretsInvalid, SignatureCheck, parse_backend_secrets, sign
from tests.conftest import TOKEN_SECRET, Stack, application
from tests.enrollment_driver import latest_token, start_enrollment, status

BACKEND_SECRETS = {
    "review": b"review-backend-secret-0001",
    "partner-center": b"partner-center-secret-0001",
    "operations": b"operations-secret-000000001",
    "assessment": b"assessment-secret-000000001",
    "credit": b"credit-team-secret-000000001",
    "billing": b"billing-backend-secret-00001",
}
REVIEW = find_decision("reseller-enrollment", "review-decision")
MPA = find_decision("reseller-enrollment", "mpa-signed")
WITHDRAWAL = find_decision("reseller-enrollment", "withdrawal")
assert REVIEW and MPA and WITHDRAWAL
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# ---- helpers shared with the codec and CLI tests ------------------------------------------------


def signed_headers(
    body: bytes,
    backend: str = "review",
    *,
    delivery_id: str | None = None,
    timestamp: int | None = None,
    secret: bytes | None = None,
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    key = secret if secret is not None else BACKEND_SECRETS[backend]
    return {
        "content-type": "application/json",
        "X-Csp-Backend": backend,
        "X-Csp-Timestamp": stamp,
        "X-Csp-Signature": sign(key, stamp, body),
        "X-Delivery-Id": delivery_id or f"d-{uuid.uuid4()}",
    }


def new_partner(stack: Stack, *, mpa_signed: bool = True) -> str:
    """A fresh JP PartnerID in the local Partner Center, so each test owns its workflow id."""
    partner_id = str(1_000_000 + uuid.uuid4().int % 8_999_999)

    def add(data: dict[str, Any]) -> None:
        data["profiles"][partner_id] = {"partnerName": "Contoso K.K.", "country": "JP"}
        data["agreements"][partner_id] = {"isAgreementSigned": mpa_signed}

    stack.edit_partner_center(add)
    return partner_id


async def wait_for_stage(
    handle: WorkflowHandle[Any, Any], stage: EnrollmentStage, seconds: float = 30
) -> None:
    for _ in range(int(seconds / 0.05)):
        if (await status(handle)).stage is stage:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the pipeline never reached stage {stage.value}")


@contextlib.asynccontextmanager
async def gateway(client: Client, **options: Any) -> AsyncIterator[str]:
    app = create_app(client, [TOKEN_SECRET.encode()], callback_secrets=BACKEND_SECRETS, **options)
    async with serve_asgi(app) as url:
        yield url


async def enrollment_awaiting_verification(
    client: Client, stack: Stack, partner_id: str
) -> WorkflowHandle[Any, EnrollmentResult]:
    handle = await start_enrollment(
        client, names.reseller_enrollment_id(partner_id), application(partner_id=partner_id)
    )
    await wait_for_stage(handle, EnrollmentStage.EMAIL_VERIFICATION)
    return handle


async def verify_through(http: httpx.AsyncClient, stack: Stack, links: int = 1) -> None:
    token = await latest_token(stack.sink, links)
    confirmed = await http.post(
        "/verify-email", data={"token": token}, headers={"accept": "application/json"}
    )
    assert confirmed.status_code == 200, confirmed.text


async def updates_accepted(handle: WorkflowHandle[Any, Any]) -> list[str]:
    history = await handle.fetch_history()
    return [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    ]


@pytest.fixture
async def terminate_after() -> AsyncIterator[Callable[[WorkflowHandle[Any, Any]], None]]:
    """Tests on the shared dev server leave nothing running for the next test's worker."""
    handles: list[WorkflowHandle[Any, Any]] = []
    yield handles.append
    for handle in handles:
        with contextlib.suppress(Exception):
            await handle.terminate("test finished")


# ---- the signature rules ----------------------------------------------------------------------


def test_backend_secrets_in_both_notations() -> None:
    assert parse_backend_secrets("review=aaaaaaaaaaaaaaaa, credit = bbbbbbbbbbbbbbbb") == {
        "review": b"a" * 16,
        "credit": b"b" * 16,
    }
    assert parse_backend_secrets('{"review": "cccccccccccccccc"}') == {"review": b"c" * 16}
    for bad, says in [
        ("review", "backend=secret"),
        ("review=short", "shorter than 16"),
        ("Review=aaaaaaaaaaaaaaaa", "lower-case"),
        ("a=aaaaaaaaaaaaaaaa,a=bbbbbbbbbbbbbbbb", "twice"),
        ("{not json", "not valid JSON"),
        ('{"review": 1}', "object"),
    ]:
        with pytest.raises(CallbackSecretsInvalid, match=says):
            parse_backend_secrets(bad)


def _verify(headers: dict[str, str], body: bytes, now: datetime = NOW) -> str:
    assert REVIEW is not None
    check = SignatureCheck(BACKEND_SECRETS, max_age=timedelta(seconds=300))
    return check.verify(headers, body, REVIEW, now).update_id


def test_signature_over_timestamp_and_raw_body() -> None:
    body = b'{"decision": "approve", "decided_by": "review-team"}'
    stamp = int(NOW.timestamp())
    headers = signed_headers(body, timestamp=stamp, delivery_id="d-1")
    assert (
        headers["X-Csp-Signature"]
        == "sha256="
        + hmac.new(
            BACKEND_SECRETS["review"], f"{stamp}.".encode() + body, hashlib.sha256
        ).hexdigest()
    )
    assert _verify(headers, body) == "review:d-1"
    # The freshness window is inclusive at 300 s, both ways; 301 s is stale.
    assert _verify(signed_headers(body, timestamp=stamp - 300, delivery_id="d-2"), body)
    assert _verify(signed_headers(body, timestamp=stamp + 300, delivery_id="d-3"), body)
    with pytest.raises(SignatureStale, match="301 s old; the window is 300 s"):
        _verify(signed_headers(body, timestamp=stamp - 301), body)
    with pytest.raises(SignatureStale, match="in the future"):
        _verify(signed_headers(body, timestamp=stamp + 301), body)


def test_signature_refusals() -> None:
    body = b'{"decision": "approve", "decided_by": "review-team"}'
    stamp = int(NOW.timestamp())
    good = signed_headers(body, timestamp=stamp)
    with pytest.raises(SignatureInvalid):
        _verify(good, body.replace(b"approve", b"reject "))  # tampered body
    with pytest.raises(SignatureInvalid):
        _verify({**good, "X-Csp-Timestamp": str(stamp - 1)}, body)  # timestamp is signed
    with pytest.raises(SignatureInvalid):
        _verify(signed_headers(body, timestamp=stamp, secret=b"x" * 26), body)  # wrong secret
    with pytest.raises(SignatureInvalid):
        _verify({**good, "X-Csp-Backend": "billing"}, body)  # unknown backend
    with pytest.raises(BackendForbidden, match="'operations' may not report"):
        _verify(signed_headers(body, "operations", timestamp=stamp), body)
    with pytest.raises(SignatureMissing, match="X-Csp-Signature"):
        _verify({k: v for k, v in good.items() if k != "X-Csp-Signature"}, body)
    with pytest.raises(SignatureMissing, match="Unix time"):
        _verify({**good, "X-Csp-Timestamp": "yesterday"}, body)
    with pytest.raises(SignatureMissing, match="sha256="):
        _verify({**good, "X-Csp-Signature": "md5=abc"}, body)
    with pytest.raises(DeliveryIdInvalid):
        _verify({**good, "X-Delivery-Id": "has spaces"}, body)
    with pytest.raises(DeliveryIdInvalid):
        _verify({k: v for k, v in good.items() if k != "X-Delivery-Id"}, body)


def test_every_decision_has_a_route_and_an_allowed_backend() -> None:
    paths = [callback_path(d) for d in DECISIONS]
    assert len(paths) == len(set(paths))
    assert "/callbacks/reseller-enrollment/{partner_id}/review-decision" in paths
    assert all(d.backends for d in DECISIONS)


# ---- the gateway over a real socket -----------------------------------------------------------


async def test_good_delivery_and_redelivery_have_one_effect(
    dev_env: WorkflowEnvironment,
    stack: Stack,
    terminate_after: Callable[[WorkflowHandle[Any, Any]], None],
) -> None:
    client = dev_env.client
    partner_id = new_partner(stack, mpa_signed=False)  # the pipeline then waits at the MPA
    async with gateway(client) as url, httpx.AsyncClient(base_url=url) as http:
        stack.settings = stack.settings.model_copy(update={"public_base_url": url})
        async with stack.worker(client):
            handle = await enrollment_awaiting_verification(client, stack, partner_id)
            terminate_after(handle)
            await verify_through(http, stack)
            await wait_for_stage(handle, EnrollmentStage.REVIEW)

            path = f"/callbacks/reseller-enrollment/{partner_id}/review-decision"
            body = json.dumps({"decision": "approve", "decided_by": "review-team"}).encode()
            first = await http.post(
                path, content=body, headers=signed_headers(body, delivery_id="rv-1")
            )
            assert first.status_code == 200, first.text
            assert first.json() == {
                "accepted": True,
                "stage": "review",
                "message": "The review was approved by review-team.",
            }

            # The backend did not see the answer and delivers again (signed anew): same answer.
            again = await http.post(
                path, content=body, headers=signed_headers(body, delivery_id="rv-1")
            )
            assert again.status_code == 200
            assert again.json() == first.json()

            # A different delivery of a decision is refused: the first one took effect.
            await wait_for_stage(handle, EnrollmentStage.MPA_SIGNATURE)
            other = await http.post(
                path, content=body, headers=signed_headers(body, delivery_id="rv-2")
            )
            assert other.status_code == 409
            assert other.json()["error"]["type"] == "WrongStage"
            assert "not awaiting a review decision" in other.json()["error"]["message"]

            # Partner Center's webhook reports the MPA signature; the pipeline re-checks and ends.
            stack.edit_partner_center(
                lambda data: data["agreements"].update({partner_id: {"isAgreementSigned": True}})
            )
            signed = json.dumps({"reported_by": "partner-center-webhook"}).encode()
            reported = await http.post(
                f"/callbacks/reseller-enrollment/{partner_id}/mpa-signed",
                content=signed,
                headers=signed_headers(signed, "partner-center", delivery_id="mpa-1"),
            )
            assert reported.status_code == 200, reported.text
            assert reported.json()["stage"] == "mpa_signature"

            result = await asyncio.wait_for(handle.result(), 60)
            assert result.outcome is EnrollmentStage.ACTIVE
            assert await updates_accepted(handle) == ["review:rv-1", "partner-center:mpa-1"]

            # The pipeline has ended: a decision now is answered 410 and changes nothing.
            late = await http.post(path, content=body, headers=signed_headers(body))
            assert late.status_code == 410
            assert late.json()["error"]["type"] == "PipelineClosed"
            assert "outcome active" in late.json()["error"]["message"]


async def test_refused_deliveries_change_nothing(
    dev_env: WorkflowEnvironment,
    stack: Stack,
    terminate_after: Callable[[WorkflowHandle[Any, Any]], None],
) -> None:
    client = dev_env.client
    partner_id = new_partner(stack)
    base = f"/callbacks/reseller-enrollment/{partner_id}"
    review = f"{base}/review-decision"
    approve = json.dumps({"decision": "approve", "decided_by": "review-team"}).encode()
    async with (
        gateway(client) as url,
        httpx.AsyncClient(base_url=url) as http,
        stack.worker(client),
    ):
        handle = await enrollment_awaiting_verification(client, stack, partner_id)
        terminate_after(handle)

        async def refused(
            path: str, body: bytes, headers: dict[str, str], status: int, error_type: str
        ) -> dict[str, Any]:
            answer = await http.post(path, content=body, headers=headers)
            assert answer.status_code == status, answer.text
            error: dict[str, Any] = answer.json()["error"]
            assert error["type"] == error_type
            assert error["message"]
            return error

        tampered = signed_headers(approve)
        await refused(
            review, approve.replace(b"approve", b"reject "), tampered, 401, "SignatureInvalid"
        )
        stale = signed_headers(approve, timestamp=int(time.time()) - 3600)
        error = await refused(review, approve, stale, 401, "SignatureStale")
        assert "the window is 300 s" in error["message"]
        unknown_backend = signed_headers(approve, secret=b"z" * 20)
        unknown_backend["X-Csp-Backend"] = "billing"
        await refused(review, approve, unknown_backend, 401, "SignatureInvalid")
        no_signature = {k: v for k, v in signed_headers(approve).items() if k != "X-Csp-Signature"}
        await refused(review, approve, no_signature, 400, "SignatureMissing")
        await refused(
            review, approve, signed_headers(approve, "operations"), 403, "BackendForbidden"
        )

        not_json = b'{"decision": "approve",'
        await refused(review, not_json, signed_headers(not_json), 400, "MalformedJson")
        array = b"[]"
        await refused(review, array, signed_headers(array), 400, "MalformedJson")
        no_reason = json.dumps({"decision": "reject", "decided_by": "reviewer-x9"}).encode()
        error = await refused(review, no_reason, signed_headers(no_reason), 422, "PayloadInvalid")
        assert "a rejection must carry a reason" in error["message"]
        assert "reviewer-x9" not in json.dumps(error)  # input values are never echoed
        wrong_type = json.dumps({"decision": "maybe", "decided_by": "r"}).encode()
        error = await refused(review, wrong_type, signed_headers(wrong_type), 422, "PayloadInvalid")
        assert error["fields"] == [{"field": "decision", "type": "literal_error"}]
        assert "maybe" not in json.dumps(error)
        huge = b'{"reason": "' + b"x" * 70_000 + b'"}'
        await refused(review, huge, signed_headers(huge), 413, "PayloadTooLarge")

        await refused(
            "/callbacks/direct-bill/4512345/credit-decision", approve, signed_headers(approve),
            404, "PipelineNotFound",
        )  # fmt: skip
        await refused(
            f"{base}/promotion", approve, signed_headers(approve), 404, "PipelineNotFound"
        )
        await refused(
            "/callbacks/reseller-enrollment/not-a-partner/review-decision", approve,
            signed_headers(approve), 404, "PipelineNotFound",
        )  # fmt: skip
        error = await refused(
            "/callbacks/reseller-enrollment/99999/review-decision", approve,
            signed_headers(approve), 404, "PipelineNotFound",
        )  # fmt: skip
        assert "reseller-enrollment-99999" in error["message"]

        # Signed and well-formed, but the pipeline is not in review: its refusal comes back.
        error = await refused(review, approve, signed_headers(approve), 409, "WrongStage")
        assert f"PartnerID {partner_id} is at stage email_verification" in error["message"]
        mpa = json.dumps({"reported_by": "partner-center-webhook"}).encode()
        await refused(
            f"{base}/mpa-signed", mpa, signed_headers(mpa, "partner-center"), 409, "WrongStage"
        )

        assert (await status(handle)).stage is EnrollmentStage.EMAIL_VERIFICATION
        assert await updates_accepted(handle) == []

        withdrawal = json.dumps({"reason": "chose another provider", "requested_by": "ops"})
        body = withdrawal.encode()
        accepted = await http.post(
            f"{base}/withdrawal", content=body, headers=signed_headers(body, "operations")
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["message"] == "withdrawal accepted"
        assert (await asyncio.wait_for(handle.result(), 60)).outcome is EnrollmentStage.WITHDRAWN


async def test_openapi_document_lists_every_decision(dev_env: WorkflowEnvironment) -> None:
    async with gateway(dev_env.client) as url, httpx.AsyncClient(base_url=url) as http:
        document = (await http.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    for decision in DECISIONS:
        operation = document["paths"][callback_path(decision)]["post"]
        ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == f"#/components/schemas/{decision.payload.__name__}"
        assert {"200", "401", "404", "409", "422"} <= set(operation["responses"])
    review = document["components"]["schemas"]["ReviewDecision"]
    assert review["properties"]["decision"]["enum"] == ["approve", "reject"]


# ---- property-based run against the served OpenAPI document -----------------------------------


def _schemathesis_run(url: str, document: dict[str, Any], examples: int) -> list[int]:
    """Runs in a worker thread (schemathesis is synchronous); the gateway keeps serving on the
    test's event loop. Every request is signed like a backend would, so the run reaches the
    payload validation and the pipelines, not only the signature check."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    class BackendSignature(requests.auth.AuthBase):
        def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
            path = request.path_url
            if path.startswith("/callbacks/"):
                body = request.body
                raw = body.encode() if isinstance(body, str) else body or b""
                assert isinstance(raw, bytes), "JSON bodies are sent as bytes"
                decision = next((d for d in DECISIONS if path.split("/")[-1] == d.name), None)
                backend = sorted(decision.backends)[0] if decision else "review"
                request.headers.update(
                    {k: v for k, v in signed_headers(raw, backend).items() if k != "content-type"}
                )
            return request

    schema = schemathesis.openapi.from_dict(document)
    statuses: list[int] = []
    session = requests.Session()
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    strategy = schema.as_strategy(
        generation_mode=schemathesis.GenerationMode.POSITIVE
    ) | schema.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)

    @given(case=strategy)
    @settings(
        max_examples=examples,
        derandomize=True,  # the same cases every run: a CI result is reproducible
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(base_url=url, session=session, auth=BackendSignature(), timeout=30)
        statuses.append(response.status_code)
        case.validate_response(response, checks=checks)

    run()
    return statuses


async def test_openapi_property_run_finds_no_server_error(
    dev_env: WorkflowEnvironment,
    stack: Stack,
    terminate_after: Callable[[WorkflowHandle[Any, Any]], None],
) -> None:
    client = dev_env.client
    # The document's example PartnerID names a real running pipeline, so generated requests
    # reach a workflow (accepted or refused by it), not only "no such pipeline".
    example = next(k.example for k in DECISIONS[0].pipeline.keys)
    stack.edit_partner_center(
        lambda data: data["profiles"].update(
            {example: {"partnerName": "Northwind K.K.", "country": "JP"}}
        )
    )
    async with (
        gateway(client) as url,
        httpx.AsyncClient(base_url=url) as http,
        stack.worker(client),
    ):
        handle = await enrollment_awaiting_verification(client, stack, example)
        terminate_after(handle)
        document = (await http.get("/openapi.json")).json()
        # 300 derandomized cases: with every pipeline's decisions in the document, fewer no longer
        # reached the running pipeline.
        statuses = await asyncio.to_thread(_schemathesis_run, url, document, 300)
    assert statuses and all(s < 500 for s in statuses)
    # The run got past the signature into validation and the pipelines' own answers.
    assert {422, 404} <= set(statuses)
    assert set(statuses) & {200, 409, 410}
