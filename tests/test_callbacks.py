"""Signed backend callbacks: the signature rules at their edges, then the gateway over a real
socket against the real dev server (good delivery, redelivery, refusals that change nothing), and
a schemathesis run against the served OpenAPI document with no 5xx."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pydantic
import pytest
from structlog.testing import capture_logs
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from adapters.registry.deliveries import SqlDeliveryLedger
from contract import names
from contract.pipelines import DECISIONS, find_decision
from domain.reseller_enrollment import EnrollmentResult, EnrollmentStage
from domain.verification_token import TokenClaims, mint_token
from gateway.app import create_app
from gateway.callbacks import CallbackConfig, callback_path
from gateway.deliveries import DeliveryEntry, RecordedAnswer
from gateway.refusals import (
    BackendForbidden,
    DeliveryIdInvalid,
    SignatureInvalid,
    SignatureMissing,
    SignatureStale,
)
from gateway.server import serve_asgi
from gateway.signatures import SignatureCheck, signature_headers
from runtime.binaries import temporal_test_server
from runtime.callback_secrets import CallbackSecretsInvalid, parse_backend_secrets
from runtime.settings import Settings
from runtime.temporal_client import DATA_CONVERTER
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
    path: str,
    body: bytes,
    backend: str = "review",
    *,
    delivery_id: str | None = None,
    timestamp: int | None = None,
    secret: bytes | None = None,
    method: str = "POST",
) -> dict[str, str]:
    """The headers a backend sends with `body` to `path` (gateway/signatures.py's scheme)."""
    return {
        "content-type": "application/json",
        **signature_headers(
            secret if secret is not None else BACKEND_SECRETS[backend],
            backend,
            method,
            path,
            delivery_id or f"d-{uuid.uuid4()}",
            int(time.time()) if timestamp is None else timestamp,
            body,
        ),
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


SHARED_SECRET = "one-secret-for-two-backends-01"


def test_a_secret_shared_by_two_backends_is_refused_at_start() -> None:
    """X-Csp-Backend is authenticated only by its own secret: two backends with one secret would
    let a captured delivery be sent again under the other name (another ledger key and update id,
    a second effect). Refused where the setting is read, naming the backends, never the secret."""
    says = "backends 'partner-center' and 'operations' have the same secret"
    for text in (
        f"review=review-backend-secret-0001,partner-center={SHARED_SECRET},"
        f"operations={SHARED_SECRET}",
        json.dumps({"partner-center": SHARED_SECRET, "operations": SHARED_SECRET}),
    ):
        with pytest.raises(CallbackSecretsInvalid, match=says) as refused:
            parse_backend_secrets(text)
        assert SHARED_SECRET not in str(refused.value)
        with pytest.raises(pydantic.ValidationError, match=says) as invalid:
            Settings(callback_secrets=text)  # a plain string, as the variable gives it
        assert SHARED_SECRET not in str(invalid.value)
    # HMAC pads a short key with NUL bytes: a secret and the same secret plus a NUL sign alike.
    padded = json.dumps({"partner-center": SHARED_SECRET, "operations": SHARED_SECRET + "\0"})
    with pytest.raises(CallbackSecretsInvalid, match=says):
        parse_backend_secrets(padded)
    shared = {"partner-center": SHARED_SECRET.encode(), "operations": SHARED_SECRET.encode()}
    with pytest.raises(CallbackSecretsInvalid, match=says):
        SignatureCheck(shared)


REVIEW_PATH = "/callbacks/reseller-enrollment/4512345/review-decision"


def _verify(
    headers: dict[str, str],
    body: bytes,
    now: datetime = NOW,
    path: str = REVIEW_PATH,
    method: str = "POST",
) -> str:
    assert REVIEW is not None
    check = SignatureCheck(BACKEND_SECRETS, max_age=timedelta(seconds=300))
    return check.verify(method, path, headers, body, REVIEW, now).update_id


def test_signature_covers_delivery_id_timestamp_method_path_and_body() -> None:
    body = b'{"decision": "approve", "decided_by": "review-team"}'
    stamp = int(NOW.timestamp())
    headers = signed_headers(REVIEW_PATH, body, timestamp=stamp, delivery_id="d-1")
    # The documented content, computed independently: id.timestamp.METHOD.path.body, base64.
    content = f"d-1.{stamp}.POST.{REVIEW_PATH}.".encode() + body
    expected = hmac.new(BACKEND_SECRETS["review"], content, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    assert headers["webhook-id"] == "d-1"
    assert headers["webhook-timestamp"] == str(stamp)
    assert _verify(headers, body) == "review:d-1"
    # During a secret rotation a sender may send several signatures; one valid one suffices.
    rotated = {
        **headers,
        "webhook-signature": "v1," + "A" * 43 + "= " + headers["webhook-signature"],
    }
    assert _verify(rotated, body) == "review:d-1"

    # The window: 300 s old inclusive; at most 60 s in the future.
    assert _verify(signed_headers(REVIEW_PATH, body, timestamp=stamp - 300), body)
    assert _verify(signed_headers(REVIEW_PATH, body, timestamp=stamp + 60), body)
    with pytest.raises(SignatureStale, match="301 s old; the window is 300 s"):
        _verify(signed_headers(REVIEW_PATH, body, timestamp=stamp - 301), body)
    with pytest.raises(SignatureStale, match="61 s in the future; at most 60 s"):
        _verify(signed_headers(REVIEW_PATH, body, timestamp=stamp + 61), body)


def test_a_signature_is_valid_for_one_route_and_one_delivery_only() -> None:
    body = b'{"decision": "approve", "decided_by": "review-team"}'
    stamp = int(NOW.timestamp())
    good = signed_headers(REVIEW_PATH, body, timestamp=stamp, delivery_id="d-1")
    other_partner = REVIEW_PATH.replace("4512345", "4598765")
    with pytest.raises(SignatureInvalid):
        _verify(good, body, path=other_partner)  # another partner's route
    with pytest.raises(SignatureInvalid):
        _verify(good, body, path=REVIEW_PATH.replace("review-decision", "withdrawal"))
    with pytest.raises(SignatureInvalid):
        _verify(good, body, method="PUT")
    with pytest.raises(SignatureInvalid):
        _verify({**good, "webhook-id": "d-2"}, body)  # a new delivery id
    with pytest.raises(SignatureInvalid):
        _verify({**good, "webhook-timestamp": str(stamp - 1)}, body)  # timestamp is signed
    with pytest.raises(SignatureInvalid):
        _verify(good, body.replace(b"approve", b"reject "))  # tampered body


def test_signature_refusals() -> None:
    body = b'{"decision": "approve", "decided_by": "review-team"}'
    stamp = int(NOW.timestamp())
    good = signed_headers(REVIEW_PATH, body, timestamp=stamp)
    with pytest.raises(SignatureInvalid):
        _verify(signed_headers(REVIEW_PATH, body, timestamp=stamp, secret=b"x" * 26), body)
    with pytest.raises(SignatureInvalid):
        _verify({**good, "X-Csp-Backend": "billing"}, body)  # unknown backend
    with pytest.raises(BackendForbidden, match="'operations' may not report"):
        _verify(signed_headers(REVIEW_PATH, body, "operations", timestamp=stamp), body)
    with pytest.raises(SignatureMissing, match="webhook-signature"):
        _verify({k: v for k, v in good.items() if k != "webhook-signature"}, body)
    with pytest.raises(SignatureMissing, match="Unix time"):
        _verify({**good, "webhook-timestamp": "yesterday"}, body)
    with pytest.raises(SignatureMissing, match="v1,"):
        _verify({**good, "webhook-signature": "sha256=" + "0" * 64}, body)
    with pytest.raises(DeliveryIdInvalid):
        _verify({**good, "webhook-id": "has spaces"}, body)
    with pytest.raises(DeliveryIdInvalid):
        _verify({k: v for k, v in good.items() if k != "webhook-id"}, body)


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
                path, content=body, headers=signed_headers(path, body, delivery_id="rv-1")
            )
            assert first.status_code == 200, first.text
            assert first.json() == {
                "accepted": True,
                "stage": "review",
                "message": "The review was approved by review-team.",
            }

            # The backend did not see the answer and delivers again (signed anew): same answer.
            again = await http.post(
                path, content=body, headers=signed_headers(path, body, delivery_id="rv-1")
            )
            assert again.status_code == 200
            assert again.json() == first.json()

            # A different delivery of a decision is refused: the first one took effect.
            await wait_for_stage(handle, EnrollmentStage.MPA_SIGNATURE)
            other = await http.post(
                path, content=body, headers=signed_headers(path, body, delivery_id="rv-2")
            )
            assert other.status_code == 409
            assert other.json()["error"]["type"] == "WrongStage"
            assert "not awaiting a review decision" in other.json()["error"]["message"]

            # Partner Center's webhook reports the MPA signature; the pipeline re-checks and ends.
            stack.edit_partner_center(
                lambda data: data["agreements"].update({partner_id: {"isAgreementSigned": True}})
            )
            signed = json.dumps({"reported_by": "partner-center-webhook"}).encode()
            mpa_path = f"/callbacks/reseller-enrollment/{partner_id}/mpa-signed"
            reported = await http.post(
                mpa_path,
                content=signed,
                headers=signed_headers(mpa_path, signed, "partner-center", delivery_id="mpa-1"),
            )
            assert reported.status_code == 200, reported.text
            assert reported.json()["stage"] == "mpa_signature"
            # The captured delivery sent again as another backend allowed to report it: the
            # signature was made with partner-center's secret, so as operations it is refused.
            swapped = signed_headers(mpa_path, signed, "partner-center", delivery_id="mpa-1")
            swapped["X-Csp-Backend"] = "operations"
            resent = await http.post(mpa_path, content=signed, headers=swapped)
            assert resent.status_code == 401, resent.text
            assert resent.json()["error"]["type"] == "SignatureInvalid"

            result = await asyncio.wait_for(handle.result(), 60)
            assert result.outcome is EnrollmentStage.ACTIVE
            assert await updates_accepted(handle) == ["review:rv-1", "partner-center:mpa-1"]

            # The pipeline has ended: a decision now is answered 410 and changes nothing.
            late = await http.post(path, content=body, headers=signed_headers(path, body))
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

        tampered = signed_headers(review, approve)
        await refused(
            review, approve.replace(b"approve", b"reject "), tampered, 401, "SignatureInvalid"
        )
        stale = signed_headers(review, approve, timestamp=int(time.time()) - 3600)
        error = await refused(review, approve, stale, 401, "SignatureStale")
        assert "the window is 300 s" in error["message"]
        unknown_backend = signed_headers(review, approve, secret=b"z" * 20)
        unknown_backend["X-Csp-Backend"] = "billing"
        await refused(review, approve, unknown_backend, 401, "SignatureInvalid")
        no_signature = {
            k: v for k, v in signed_headers(review, approve).items() if k != "webhook-signature"
        }
        await refused(review, approve, no_signature, 400, "SignatureMissing")
        await refused(
            review, approve, signed_headers(review, approve, "operations"), 403, "BackendForbidden"
        )

        not_json = b'{"decision": "approve",'
        await refused(review, not_json, signed_headers(review, not_json), 400, "MalformedJson")
        array = b"[]"
        await refused(review, array, signed_headers(review, array), 400, "MalformedJson")
        no_reason = json.dumps({"decision": "reject", "decided_by": "reviewer-x9"}).encode()
        error = await refused(
            review, no_reason, signed_headers(review, no_reason), 422, "PayloadInvalid"
        )
        assert "a rejection must carry a reason" in error["message"]
        assert "reviewer-x9" not in json.dumps(error)  # input values are never echoed
        wrong_type = json.dumps({"decision": "maybe", "decided_by": "r"}).encode()
        error = await refused(
            review, wrong_type, signed_headers(review, wrong_type), 422, "PayloadInvalid"
        )
        assert error["fields"] == [{"field": "decision", "type": "literal_error"}]
        assert "maybe" not in json.dumps(error)
        huge = b'{"reason": "' + b"x" * 70_000 + b'"}'
        await refused(review, huge, signed_headers(review, huge), 413, "PayloadTooLarge")
        # NUL and control characters are refused at the edge, naming the field, never the text.
        nul = json.dumps({"decision": "reject", "decided_by": "r", "reason": "bad\u0000x"})
        error = await refused(
            review, nul.encode(), signed_headers(review, nul.encode()), 400, "TextInvalid"
        )
        assert error["fields"] == [{"field": "reason", "type": "control_character"}]
        bell = json.dumps({"decision": "approve", "decided_by": "review\u0007team"}).encode()
        error = await refused(review, bell, signed_headers(review, bell), 400, "TextInvalid")
        assert "decided_by" in error["message"]
        # Deeply nested JSON: a 400, not a server error.
        deep = b'{"reason": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
        error = await refused(review, deep, signed_headers(review, deep), 400, "MalformedJson")
        assert "deeper than 32" in error["message"]

        await refused(
            "/callbacks/direct-bill/4512345/credit-decision", approve,
            signed_headers("/callbacks/direct-bill/4512345/credit-decision", approve),
            404, "PipelineNotFound",
        )  # fmt: skip
        await refused(
            f"{base}/promotion",
            approve,
            signed_headers(f"{base}/promotion", approve),
            404,
            "PipelineNotFound",
        )
        await refused(
            "/callbacks/reseller-enrollment/not-a-partner/review-decision", approve,
            signed_headers("/callbacks/reseller-enrollment/not-a-partner/review-decision", approve),
            404, "PipelineNotFound",
        )  # fmt: skip
        error = await refused(
            "/callbacks/reseller-enrollment/99999/review-decision", approve,
            signed_headers("/callbacks/reseller-enrollment/99999/review-decision", approve),
            404, "PipelineNotFound",
        )  # fmt: skip
        assert "reseller-enrollment-99999" in error["message"]

        # Signed and well-formed, but the pipeline is not in review: its refusal comes back.
        error = await refused(review, approve, signed_headers(review, approve), 409, "WrongStage")
        assert f"PartnerID {partner_id} is at stage email_verification" in error["message"]
        mpa = json.dumps({"reported_by": "partner-center-webhook"}).encode()
        await refused(
            f"{base}/mpa-signed",
            mpa,
            signed_headers(f"{base}/mpa-signed", mpa, "partner-center"),
            409,
            "WrongStage",
        )

        assert (await status(handle)).stage is EnrollmentStage.EMAIL_VERIFICATION
        assert await updates_accepted(handle) == []

        withdrawal = json.dumps({"reason": "chose another provider", "requested_by": "ops"})
        body = withdrawal.encode()
        accepted = await http.post(
            f"{base}/withdrawal",
            content=body,
            headers=signed_headers(f"{base}/withdrawal", body, "operations"),
        )
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["message"] == "withdrawal accepted"
        assert (await asyncio.wait_for(handle.result(), 60)).outcome is EnrollmentStage.WITHDRAWN


async def enrollment_in_review(
    client: Client, stack: Stack, http: httpx.AsyncClient, partner_id: str, messages: int
) -> WorkflowHandle[Any, EnrollmentResult]:
    """`messages`: how many emails the sink holds once this one's link has come (the link is the
    newest of them)."""
    handle = await enrollment_awaiting_verification(client, stack, partner_id)
    await verify_through(http, stack, messages)
    await wait_for_stage(handle, EnrollmentStage.REVIEW)
    return handle


PERSONAL_DATA = ("hanako.yamada@contoso.example", "Hanako", "Yamada")


def assert_no_personal_data_at_info(
    events: Sequence[Mapping[str, Any]], records: list[logging.LogRecord]
) -> None:
    """Nothing logged at INFO or above names the contact (address or name) or carries a
    verification token, except the dev sink's verification link (its purpose)."""
    shown = [e for e in events if e.get("log_level") not in {"debug", None}]
    for event in shown:
        text = repr(event)
        assert not [p for p in PERSONAL_DATA if p in text], event
        if event["event"] != "smtp_sink.verification_link":
            assert "/v/r" not in text and "token=" not in text, event
    for record in records:
        if record.levelno >= logging.INFO:
            text = record.getMessage()
            assert not [p for p in PERSONAL_DATA if p in text], (record.name, text)


async def test_captured_callbacks_replayed_to_another_target_are_refused(
    dev_env: WorkflowEnvironment,
    stack: Stack,
    terminate_after: Callable[[WorkflowHandle[Any, Any]], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The three attacks of issue 12, over a real socket: a captured approval for partner A sent
    to B's route (as captured, then with a new delivery id), a captured withdrawal sent to another
    partner, and a delivery id reused with another body. Each is refused and changes nothing.
    Two enrollments run to the end meanwhile: their logs at INFO name no contact."""
    caplog.set_level(logging.INFO)
    with capture_logs() as events:
        await _replay_attacks(dev_env, stack, terminate_after)
    logged = {e["event"] for e in events}
    assert {"callback_accepted", "smtp_sink.verification_link", "mail.sent"} <= logged
    assert_no_personal_data_at_info(events, caplog.records)


async def _replay_attacks(
    dev_env: WorkflowEnvironment,
    stack: Stack,
    terminate_after: Callable[[WorkflowHandle[Any, Any]], None],
) -> None:
    client = dev_env.client
    partner_a, partner_b = new_partner(stack), new_partner(stack)
    review_a = f"/callbacks/reseller-enrollment/{partner_a}/review-decision"
    review_b = f"/callbacks/reseller-enrollment/{partner_b}/review-decision"
    async with gateway(client) as url, httpx.AsyncClient(base_url=url) as http:
        stack.settings = stack.settings.model_copy(update={"public_base_url": url})
        async with stack.worker(client):
            handle_a = await enrollment_in_review(client, stack, http, partner_a, messages=1)
            terminate_after(handle_a)
            handle_b = await enrollment_in_review(client, stack, http, partner_b, messages=3)
            terminate_after(handle_b)

            # A legitimate approval for A, captured on the way.
            approve = json.dumps({"decision": "approve", "decided_by": "review-team"}).encode()
            captured = signed_headers(review_a, approve, delivery_id="rv-a-1")

            # 1. Replayed unchanged to B's route, then with a fresh delivery id: refused.
            replayed = await http.post(review_b, content=approve, headers=captured)
            assert replayed.status_code == 401, replayed.text
            assert replayed.json()["error"]["type"] == "SignatureInvalid"
            fresh_id = {**captured, "webhook-id": f"rv-{uuid.uuid4()}"}
            replayed = await http.post(review_b, content=approve, headers=fresh_id)
            assert replayed.status_code == 401
            assert replayed.json()["error"]["type"] == "SignatureInvalid"
            # ...and to A's own route with a new delivery id (a second effect): refused too.
            replayed = await http.post(review_a, content=approve, headers=fresh_id)
            assert replayed.status_code == 401

            # 2. A captured withdrawal of A sent to B's withdrawal route: refused.
            withdraw = json.dumps({"reason": "chose another provider", "requested_by": "ops"})
            withdrawal_a = f"/callbacks/reseller-enrollment/{partner_a}/withdrawal"
            withdrawal_b = f"/callbacks/reseller-enrollment/{partner_b}/withdrawal"
            captured_withdrawal = signed_headers(
                withdrawal_a, withdraw.encode(), "operations", delivery_id="wd-a-1"
            )
            replayed = await http.post(
                withdrawal_b, content=withdraw.encode(), headers=captured_withdrawal
            )
            assert replayed.status_code == 401
            assert replayed.json()["error"]["type"] == "SignatureInvalid"

            assert (await status(handle_b)).stage is EnrollmentStage.REVIEW
            assert await updates_accepted(handle_b) == []

            # The genuine delivery to A is accepted once.
            first = await http.post(review_a, content=approve, headers=captured)
            assert first.status_code == 200, first.text

            # 3. The same delivery id with another body (validly signed): 409, no effect.
            reject = json.dumps(
                {"decision": "reject", "decided_by": "review-team", "reason": "late change"}
            ).encode()
            reused = await http.post(
                review_a,
                content=reject,
                headers=signed_headers(review_a, reject, delivery_id="rv-a-1"),
            )
            assert reused.status_code == 409, reused.text
            assert reused.json()["error"]["type"] == "DeliveryIdReused"
            assert "another body" in reused.json()["error"]["message"]
            # The same delivery id sent to another route (re-signed for it): 409 as well.
            moved = await http.post(
                review_b,
                content=approve,
                headers=signed_headers(review_b, approve, delivery_id="rv-a-1"),
            )
            assert moved.status_code == 409
            assert "another route" in moved.json()["error"]["message"]
            assert await updates_accepted(handle_b) == []

            await asyncio.wait_for(handle_a.result(), 60)  # A went on to the end
            # Same delivery id, same body (signed anew): the first answer, even after the end.
            again = await http.post(
                review_a,
                content=approve,
                headers=signed_headers(review_a, approve, delivery_id="rv-a-1"),
            )
            assert again.status_code == 200
            assert again.json() == first.json()
            assert await updates_accepted(handle_a) == ["review:rv-a-1"]
            assert (await handle_a.result()).outcome is EnrollmentStage.ACTIVE


async def test_delivery_ledger_on_each_database(registry_url: str) -> None:
    """The ledger in the registry (revision 0005), SQLite and PostgreSQL: first claim, the entry a
    redelivery finds, the first answer kept, and forgetting only what is older than retention."""
    ledger = SqlDeliveryLedger(registry_url)
    try:
        assert await ledger.claim("review", "d-1", "POST /a", "0" * 64, NOW) is None
        entry = await ledger.claim("review", "d-1", "POST /b", "1" * 64, NOW)
        assert entry == DeliveryEntry(route="POST /a", body_sha256="0" * 64, answer=None)
        await ledger.record_answer("review", "d-1", RecordedAnswer(200, '{"accepted": true}'))
        await ledger.record_answer("review", "d-1", RecordedAnswer(409, "{}"))  # first one wins
        entry = await ledger.claim("review", "d-1", "POST /a", "0" * 64, NOW)
        assert entry is not None and entry.answer == RecordedAnswer(200, '{"accepted": true}')
        # Another backend's delivery id is its own.
        assert await ledger.claim("operations", "d-1", "POST /a", "0" * 64, NOW) is None
        later = NOW + timedelta(days=1)
        assert await ledger.claim("review", "d-2", "POST /a", "0" * 64, later) is None
        assert await ledger.forget_before(NOW + timedelta(hours=1)) == 2
        assert await ledger.claim("review", "d-2", "POST /a", "1" * 64, later) is not None
    finally:
        await ledger.close()


class _ClosingLedger(SqlDeliveryLedger):
    """The in-memory ledger, counting how often it is closed."""

    def __init__(self) -> None:
        super().__init__("sqlite+aiosqlite://")
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1
        await super().close()


async def test_the_gateway_closes_its_delivery_ledger_when_it_stops() -> None:
    """The ledger's connections (for SQLite, aiosqlite's thread) end with the gateway, not when
    the garbage collector finds them on some other thread's event loop."""
    ledger = _ClosingLedger()
    client = await Client.connect("127.0.0.1:7233", lazy=True, data_converter=DATA_CONVERTER)
    async with gateway(client, deliveries=ledger):
        assert await ledger.claim("review", "d-1", "POST /a", "0" * 64, NOW) is None
        assert ledger.closed == 0
    assert ledger.closed == 1


def test_the_ledger_outlives_every_fresh_signature() -> None:
    check = SignatureCheck(BACKEND_SECRETS, max_age=timedelta(seconds=300))
    with pytest.raises(ValueError, match="longer than the signature's freshness window"):
        CallbackConfig(
            check=check, deliveries=SqlDeliveryLedger.in_memory(), retention=timedelta(minutes=5)
        )


async def test_temporal_unreachable_answers_503_and_healthz_is_not_ok() -> None:
    """A gateway whose Temporal is down: every route that needs it answers 503 in the error
    shape, and /healthz and /readyz say so."""
    with socket.socket() as probe:  # a free port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = await Client.connect(f"127.0.0.1:{port}", lazy=True, data_converter=DATA_CONVERTER)
    path = "/callbacks/reseller-enrollment/4512345/review-decision"
    body = json.dumps({"decision": "approve", "decided_by": "review-team"}).encode()
    async with gateway(client) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        health = await http.get("/healthz")
        assert health.status_code == 503
        assert health.json()["error"]["type"] == "TemporalUnavailable"
        assert (await http.get("/readyz")).status_code == 503
        answer = await http.post(path, content=body, headers=signed_headers(path, body))
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["type"] in {"TemporalUnavailable", "PipelineBusy"}
        assert answer.headers["retry-after"] == "5"


async def test_temporal_going_down_answers_503_on_every_route() -> None:
    """A gateway connected to a Temporal server that then stops: /healthz turns 503, and a
    callback and a verification link answer 503 `TemporalUnavailable` in the error shape."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER, test_server_existing_path=temporal_test_server()
    )
    path = "/callbacks/reseller-enrollment/4512345/review-decision"
    body = json.dumps({"decision": "approve", "decided_by": "review-team"}).encode()
    token = mint_token(
        TOKEN_SECRET.encode(),
        TokenClaims(
            workflow_id=names.email_verification_id(names.reseller_enrollment_id("4512345")),
            token_id="link-1",
            expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=1),
        ),
    )
    try:
        async with gateway(env.client) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
            assert (await http.get("/healthz")).status_code == 200
            await env.shutdown()
            health = await http.get("/healthz")
            assert health.status_code == 503
            assert health.json()["error"]["type"] == "TemporalUnavailable"
            answer = await http.post(path, content=body, headers=signed_headers(path, body))
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["type"] == "TemporalUnavailable"
            link = await http.post(
                "/verify-email", data={"token": token}, headers={"accept": "application/json"}
            )
            assert link.status_code == 503, link.text
            assert link.json()["error"]["type"] == "TemporalUnavailable"
    finally:
        await env.shutdown()


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


def _schemathesis_run(
    url: str, document: dict[str, Any], examples: int, scenarios: int
) -> tuple[list[int], list[int]]:
    """Runs in a worker thread (schemathesis is synchronous); the gateway keeps serving on the
    test's event loop. Every request is signed like a backend would, so the run reaches the
    payload validation and the pipelines, not only the signature check. First `examples`
    single requests per the document, then `scenarios` stateful sequences that follow the
    document's links (one pipeline's decisions, one after another, on the same key)."""
    from urllib.parse import unquote, urlsplit

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
            path = unquote(urlsplit(request.path_url).path)  # as the gateway routes it
            if path.startswith("/callbacks/"):
                body = request.body
                raw = body.encode() if isinstance(body, str) else body or b""
                assert isinstance(raw, bytes), "JSON bodies are sent as bytes"
                decision = next((d for d in DECISIONS if path.split("/")[-1] == d.name), None)
                backend = sorted(decision.backends)[0] if decision else "review"
                request.headers.update(
                    {
                        k: v
                        for k, v in signed_headers(
                            path, raw, backend, method=request.method or ""
                        ).items()
                        if k != "content-type"
                    }
                )
            return request

    schema = schemathesis.openapi.from_dict(document)
    statuses: list[int] = []
    scenario_statuses: list[int] = []
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

    class SignedScenario(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": url, "session": session, "auth": BackendSignature(), "timeout": 30}

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            scenario_statuses.append(response.status_code)
            case.validate_response(response, checks=checks)

    SignedScenario.run(
        settings=settings(
            max_examples=scenarios,
            stateful_step_count=4,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    return statuses, scenario_statuses


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
        # 200 derandomized single cases and 30 linked scenarios: well under a minute, and the
        # running pipeline is still reached (the assertions below).
        statuses, scenarios = await asyncio.to_thread(_schemathesis_run, url, document, 200, 30)
    assert statuses and all(s < 500 for s in statuses)
    # The run got past the signature into validation and the pipelines' own answers.
    assert {422, 404} <= set(statuses)
    assert set(statuses) & {200, 409, 410}
    # The linked scenarios ran, signed, with no server error either.
    assert scenarios and all(s < 500 for s in scenarios), sorted(set(scenarios))
