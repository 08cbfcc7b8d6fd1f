"""Payload encryption: the AES-GCM codec and its keys, validation messages without input values,
and, on the real dev server with encryption on, a finished pipeline whose history (fetched with the
`temporal` CLI) holds no email address or company name anywhere, while the gateway's codec
endpoint decodes it for an authorised caller only."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pydantic
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contract import names
from devstack import dev_server_command
from domain.reseller_enrollment import (
    EnrollmentResult,
    EnrollmentStage,
    ResellerEnrollmentApplication,
)
from gateway.app import app_from_settings, codec_tokens
from gateway.codec_endpoint import SESSION_COOKIE, CodecConfig, codec_routes
from gateway.server import serve_asgi
from runtime.binaries import temporal_cli
from runtime.payload_codec import (
    ENCODING,
    KEY_ID_METADATA,
    AesGcmPayloadCodec,
    EncodedFailureConverter,
    PayloadDecryptionError,
    PayloadKeyError,
    PlaintextPayloadRefused,
    ValidationSafeFailureConverter,
    new_payload_key,
    parse_payload_keys,
    validation_summary,
)
from runtime.payload_converter import StrictPayloadConverter
from runtime.temporal_client import DATA_CONVERTER, data_converter
from tests.conftest import Stack, application
from tests.enrollment_driver import start_enrollment
from tests.test_callbacks import (
    gateway,
    new_partner,
    signed_headers,
    verify_through,
    wait_for_stage,
)

EMAIL = "hanako.yamada@contoso.example"
PERSONAL = (EMAIL, "Contoso K.K.", "Hanako", "Yamada")
CODEC_TOKEN = "codec-token-for-operators-0001"
UI_ORIGIN = "http://127.0.0.1:8233"
KEY_OLD = new_payload_key("k2025")
KEY_NEW = new_payload_key("k2026")


def _payload(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


# ---- keys and the codec -----------------------------------------------------------------------


def test_payload_keys_setting() -> None:
    keys = parse_payload_keys(f"{KEY_NEW}, {KEY_OLD}")
    assert [k.key_id for k in keys] == ["k2026", "k2025"]
    assert "base64" not in repr(keys) and KEY_NEW.split(":")[1] not in repr(keys)
    short = base64.b64encode(b"x" * 16).decode()
    for bad, says in [
        ("no-colon", "not `<key id>:<base64 key>`"),
        ("bad id!:" + KEY_NEW.split(":")[1], "not `<key id>:<base64 key>`"),
        ("k1:not base64!", "not valid base64"),
        (f"k1:{short}", "16 bytes; AES-256 needs 32"),
        (f"{KEY_NEW},{KEY_NEW}", "twice"),
    ]:
        with pytest.raises(PayloadKeyError, match=says):
            parse_payload_keys(bad)


async def test_codec_encrypts_with_the_current_key_and_reads_previous_ones() -> None:
    old_only = AesGcmPayloadCodec(parse_payload_keys(KEY_OLD))
    rotated = AesGcmPayloadCodec(parse_payload_keys(f"{KEY_NEW},{KEY_OLD}"))
    plain = _payload(json.dumps({"email": EMAIL}))

    [sealed_old] = await old_only.encode([plain])
    assert sealed_old.metadata["encoding"] == ENCODING
    assert sealed_old.metadata[KEY_ID_METADATA] == b"k2025"
    assert EMAIL.encode() not in sealed_old.SerializeToString()

    # After a rotation, old payloads still decode and new ones use the new key.
    assert await rotated.decode([sealed_old]) == [plain]
    [sealed_new] = await rotated.encode([plain])
    assert sealed_new.metadata[KEY_ID_METADATA] == b"k2026"
    assert await rotated.decode([sealed_new]) == [plain]
    assert sealed_new.data != (await rotated.encode([plain]))[0].data  # fresh nonce each time

    # A payload written without the codec is refused, naming the way to send it...
    with pytest.raises(PlaintextPayloadRefused, match=r"not encrypted \(encoding 'json/plain'\)"):
        rotated.decrypt(plain)
    # ...which `decode` hands to the payload converter: converting it raises the refusal as a
    # non-retryable ApplicationError (a workflow fails at once, an update is rejected) instead of
    # the codec failing the workflow task again and again.
    [refused] = await rotated.decode([plain])
    assert refused.data == b""
    with pytest.raises(ApplicationError, match=r"not encrypted \(encoding 'json/plain'\)") as err:
        StrictPayloadConverter().from_payloads([refused])
    assert err.value.type == "PlaintextPayloadRefused" and err.value.non_retryable
    # ...unless plaintext is accepted (CSP_PAYLOAD_ACCEPT_PLAINTEXT: histories from before
    # encryption); the codec endpoint shows one as it is (displaying writes nothing).
    lenient = AesGcmPayloadCodec(parse_payload_keys(KEY_NEW), accept_plaintext=True)
    assert await lenient.decode([plain]) == [plain]
    assert rotated.decrypt(plain, allow_plaintext=True) == plain

    with pytest.raises(PayloadDecryptionError, match="'k2026', which is not among"):
        await old_only.decode([sealed_new])
    tampered = Payload()
    tampered.CopyFrom(sealed_new)
    tampered.data = sealed_new.data[:-1] + bytes([sealed_new.data[-1] ^ 1])
    with pytest.raises(PayloadDecryptionError, match="failed authentication"):
        await rotated.decode([tampered])
    relabelled = Payload()
    relabelled.CopyFrom(sealed_old)
    relabelled.metadata[KEY_ID_METADATA] = b"k2026"  # the key id is authenticated too
    with pytest.raises(PayloadDecryptionError):
        await rotated.decode([relabelled])
    truncated = Payload(metadata=dict(sealed_new.metadata), data=b"short")
    with pytest.raises(PayloadDecryptionError, match="truncated"):
        await rotated.decode([truncated])


def test_data_converter_follows_the_setting(stack: Stack) -> None:
    assert data_converter(stack.settings) is DATA_CONVERTER
    assert DATA_CONVERTER.payload_codec is None
    encrypted = data_converter(
        stack.settings.model_copy(update={"payload_keys": SecretStr(KEY_NEW)})
    )
    assert isinstance(encrypted.payload_codec, AesGcmPayloadCodec)
    assert isinstance(encrypted.failure_converter, EncodedFailureConverter)


# ---- validation errors without input values ------------------------------------------------


def _invalid_application() -> pydantic.ValidationError:
    bad = application()
    bad["primary_contact"] = {**bad["primary_contact"], "is_employee": False}
    bad["support"] = {"email": "Contoso K.K. support", "phone": "+81 3 1234 0000"}
    with pytest.raises(pydantic.ValidationError) as caught:
        ResellerEnrollmentApplication.model_validate(bad)
    return caught.value


def test_validation_summary_names_fields_and_types_never_values() -> None:
    error = _invalid_application()
    assert "Contoso K.K." in str(error)  # what pydantic itself would record
    summary = validation_summary(error)
    assert summary.startswith("1 invalid field in ResellerEnrollmentApplication: support.email")
    assert "value_error" in summary
    assert not any(value in summary for value in PERSONAL)

    # The product's own rule texts (domain/ validators) are kept: they state the rule.
    not_employee = application()
    not_employee["primary_contact"] = {**not_employee["primary_contact"], "is_employee": False}
    with pytest.raises(pydantic.ValidationError) as caught:
        ResellerEnrollmentApplication.model_validate(not_employee)
    assert validation_summary(caught.value) == (
        "1 invalid field in ResellerEnrollmentApplication: (whole payload) "
        "(value_error: the primary contact must be an employee of the company (ENR-05))"
    )


@pytest.mark.parametrize("encoded", [False, True])
def test_failure_converter_records_validation_errors_without_input(encoded: bool) -> None:
    converter = EncodedFailureConverter() if encoded else ValidationSafeFailureConverter()
    failure = Failure()
    converter.to_failure(_invalid_application(), DATA_CONVERTER.payload_converter, failure)
    recorded = failure.SerializeToString()
    assert not any(value.encode() in recorded for value in PERSONAL)
    assert failure.application_failure_info.type == "ValidationError"
    if encoded:
        assert failure.message == "Encoded failure" and not failure.stack_trace
    back = converter.from_failure(failure, DATA_CONVERTER.payload_converter)
    assert isinstance(back, ApplicationError)
    assert back.message.startswith("1 invalid field in ResellerEnrollmentApplication")


# ---- encryption on, on the real dev server ------------------------------------------------


def _texts(value: Any) -> Iterator[str]:
    """Every string in a history JSON, and what each base64 string decodes to (payload data,
    metadata), so plaintext hidden in base64 is found too."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, str):
        yield value
        with contextlib.suppress(binascii.Error, ValueError):
            yield base64.b64decode(value, validate=True).decode("latin-1")
    else:
        yield str(value)


def personal_data_in(document: Any) -> list[str]:
    texts = list(_texts(document))
    return [value for value in PERSONAL if any(value in text for text in texts)]


async def temporal_json(target: str, *args: str) -> Any:
    """The `temporal` CLI's JSON output (run without blocking the loop the gateway serves on)."""
    process = await asyncio.create_subprocess_exec(
        temporal_cli(),
        *args,
        "--address",
        target,
        "--output",
        "json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return json.loads(out)


async def test_encrypted_pipeline_leaves_no_personal_data_in_temporal(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    target = dev_env.client.service_client.config.target_host
    stack.settings = stack.settings.model_copy(
        update={"payload_keys": SecretStr(f"{KEY_NEW},{KEY_OLD}")}
    )
    client = await Client.connect(
        target, namespace=dev_env.client.namespace, data_converter=data_converter(stack.settings)
    )
    partner_id = new_partner(stack)
    broken_partner = new_partner(stack)
    workflow_id = names.reseller_enrollment_id(partner_id)
    broken_id = names.reseller_enrollment_id(broken_partner)
    handles: list[WorkflowHandle[Any, Any]] = []
    options: dict[str, Any] = {"codec_tokens": [CODEC_TOKEN], "ui_origins": [UI_ORIGIN]}
    async with gateway(client, **options) as url, httpx.AsyncClient(base_url=url) as http:
        stack.settings = stack.settings.model_copy(update={"public_base_url": url})
        try:
            async with stack.worker(client):
                handle = await start_enrollment(
                    client, workflow_id, application(partner_id=partner_id)
                )
                handles.append(handle)
                await verify_through(http, stack)
                await wait_for_stage(handle, EnrollmentStage.REVIEW)
                body = json.dumps({"decision": "approve", "decided_by": "review-team"}).encode()
                decided = await http.post(
                    f"/callbacks/reseller-enrollment/{partner_id}/review-decision",
                    content=body,
                    headers=signed_headers(
                        f"/callbacks/reseller-enrollment/{partner_id}/review-decision", body
                    ),
                )
                assert decided.status_code == 200, decided.text
                result: EnrollmentResult = await asyncio.wait_for(handle.result(), 60)
                assert result.outcome is EnrollmentStage.ACTIVE

                # A pipeline that fails on its input: the failure must not quote it either.
                broken = application(partner_id=broken_partner)
                broken["primary_contact"] = {**broken["primary_contact"], "is_employee": False}
                failing = await client.start_workflow(
                    names.RESELLER_ENROLLMENT,
                    broken,
                    id=broken_id,
                    task_queue=names.TASK_QUEUE,
                )
                handles.append(failing)
                with pytest.raises(WorkflowFailureError) as failed:
                    await asyncio.wait_for(failing.result(), 60)
                cause = failed.value.cause
                assert isinstance(cause, ApplicationError)
                assert cause.type == "ValidationError"
                assert "the primary contact must be an employee" in cause.message
                assert not any(value in cause.message for value in PERSONAL)
        finally:
            for started in handles:
                with contextlib.suppress(Exception):  # most have finished already
                    await started.terminate("test cleanup")

        # Everything the server keeps, as the `temporal` CLI fetches it without the codec.
        child_id = names.email_verification_id(workflow_id)
        show = ("workflow", "show", "--workflow-id")
        stored = {
            "history": await temporal_json(target, *show, workflow_id),
            "child": await temporal_json(target, *show, child_id),
            "failed": await temporal_json(target, *show, broken_id),
            "describe": await temporal_json(
                target, "workflow", "describe", "--workflow-id", workflow_id
            ),
            "list": await temporal_json(
                target,
                "workflow",
                "list",
                "--query",
                f"PartnerId IN ('{partner_id}', '{broken_partner}')",
            ),
        }
        assert stored["list"], "visibility lists both pipelines"
        assert personal_data_in(stored) == []
        events = stored["history"]["events"]
        started_input = events[0]["workflowExecutionStartedEventAttributes"]["input"]
        failed_events = stored["failed"]["events"]
        failure = failed_events[-1]["workflowExecutionFailedEventAttributes"]["failure"]
        assert failure["message"] == "Encoded failure"

        # The codec endpoint decodes for an authorised operator...
        authorised = {"authorization": f"Bearer {CODEC_TOKEN}", "x-namespace": "default"}
        decoded = await http.post("/decode", json=started_input, headers=authorised)
        assert decoded.status_code == 200, decoded.text
        assert personal_data_in(decoded.json()) == list(PERSONAL)
        decoded_failure = await http.post(
            "/decode", json={"payloads": [failure["encodedAttributes"]]}, headers=authorised
        )
        assert decoded_failure.status_code == 200
        failure_texts = "\n".join(_texts(decoded_failure.json()))
        assert "the primary contact must be an employee" in failure_texts
        assert personal_data_in(decoded_failure.json()) == []

        # ... and refuses everyone else, decoding nothing.
        for headers in ({}, {"authorization": "Bearer wrong-token"}, {"authorization": "Basic x"}):
            refused = await http.post("/decode", json=started_input, headers=headers)
            assert refused.status_code == 401
            assert refused.json()["error"]["type"] == "CodecUnauthorized"
            assert personal_data_in(refused.json()) == []

        # /encode round-trips through /decode (what `temporal workflow start --codec-endpoint`
        # and the UI's forms use).
        plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "e30="}]}
        encoded = (await http.post("/encode", json=plain, headers=authorised)).json()
        assert encoded["payloads"][0]["metadata"]["encoding"] == base64.b64encode(ENCODING).decode()
        assert (await http.post("/decode", json=encoded, headers=authorised)).json() == plain
        unknown_key = {"payloads": [{**encoded["payloads"][0]}]}
        unknown_key["payloads"][0]["metadata"] = {
            **encoded["payloads"][0]["metadata"],
            KEY_ID_METADATA: base64.b64encode(b"k1999").decode(),
        }
        undecodable = await http.post("/decode", json=unknown_key, headers=authorised)
        assert undecodable.status_code == 422
        assert undecodable.json()["error"]["type"] == "PayloadUndecodable"
        malformed = await http.post("/decode", content=b"[1,", headers=authorised)
        assert malformed.status_code == 400
        deep = b'{"payloads": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
        too_deep = await http.post("/decode", content=deep, headers=authorised)
        assert too_deep.status_code in {400, 413}, too_deep.text
        assert too_deep.json()["error"]["type"] in {"MalformedJson", "PayloadTooLarge"}

        # CORS answers the configured UI origin only.
        preflight = {"access-control-request-method": "POST"}
        allowed = await http.options("/decode", headers={"origin": UI_ORIGIN, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == UI_ORIGIN
        assert allowed.headers["access-control-allow-credentials"] == "true"
        other = await http.options(
            "/decode", headers={"origin": "http://evil.example", **preflight}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers

        # A browser session for the Web UI: the token typed once, then a same-site cookie.
        login = await http.post("/codec-login", data={"token": "wrong"})
        assert login.status_code == 401 and "csp_codec_session" not in login.cookies
        login = await http.post("/codec-login", data={"token": CODEC_TOKEN})
        assert login.status_code == 200
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        by_cookie = await http.post("/decode", json=started_input)  # the client kept the cookie
        assert by_cookie.status_code == 200
        http.cookies.clear()

        # The real `temporal` CLI decodes through the gateway with the operator's token.
        shown = await temporal_json(
            target,
            "workflow",
            "show",
            "--workflow-id",
            workflow_id,
            "--codec-endpoint",
            url,
            "--codec-auth",
            f"Bearer {CODEC_TOKEN}",
        )
        # The same search that found nothing above finds all of it once decoded.
        assert personal_data_in(shown) == list(PERSONAL)


async def test_codec_endpoint_is_off_without_encryption(dev_env: WorkflowEnvironment) -> None:
    async with (
        gateway(dev_env.client, codec_tokens=[CODEC_TOKEN]) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        answer = await http.post(
            "/decode", json={"payloads": []}, headers={"authorization": f"Bearer {CODEC_TOKEN}"}
        )
    assert answer.status_code == 404
    assert answer.json()["error"]["type"] == "CodecDisabled"


async def test_session_cookie_with_non_ascii_digits_is_refused_not_a_server_error() -> None:
    """A forged session cookie is refused as 401 CodecUnauthorized whatever it holds: Unicode
    digits (`str.isdigit` takes "\u00b2"), a non-ASCII signature (`hmac.compare_digest` raises on
    non-ASCII text) or an expiry too long for `int()`."""
    app = Starlette(
        routes=codec_routes(
            CodecConfig(
                codec=AesGcmPayloadCodec(parse_payload_keys(KEY_NEW)),
                tokens=[CODEC_TOKEN],
                ui_origins=[UI_ORIGIN],
            )
        )
    )
    body: dict[str, list[Any]] = {"payloads": []}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        login = await http.post("/codec-login", data={"token": CODEC_TOKEN})
        session = login.cookies[SESSION_COOKIE]
        http.cookies.clear()
        good = {"cookie": f"{SESSION_COOKIE}={session}"}
        assert (await http.post("/decode", json=body, headers=good)).status_code == 200
        expires = session.split(".")[1]
        for forged in (
            "v1.\u00b2",
            "v1.9999999999.\u00e9",
            f"v1.{expires}.{session.split('.')[2][:-1]}\u00e9",
            "v1.\u00b9\u00b2\u00b3\u00b9\u00b2\u00b3\u00b9\u00b2\u00b3\u00b9\u00b2.abc",
            "v1." + "9" * 5000 + ".abc",
        ):
            header = {b"cookie": f"{SESSION_COOKIE}={forged}".encode("latin-1")}
            refused = await http.post("/decode", json=body, headers=header)
            assert refused.status_code == 401, (forged[:20], refused.text)
            assert refused.json()["error"]["type"] == "CodecUnauthorized"


def test_new_payload_key_is_a_usable_setting() -> None:
    entry = new_payload_key("k-test")
    [key] = parse_payload_keys(entry)
    assert key.key_id == "k-test" and len(key.secret) == 32
    assert new_payload_key("k-test") != entry


def test_embedded_ui_is_pointed_at_the_codec_endpoint(stack: Stack) -> None:
    plain = dev_server_command(stack.settings)
    assert "--ui-codec-endpoint" not in plain
    encrypted = dev_server_command(
        stack.settings.model_copy(update={"payload_keys": SecretStr(KEY_NEW)})
    )
    flag = encrypted.index("--ui-codec-endpoint")
    assert encrypted[flag + 1] == stack.settings.public_base_url


async def test_gateway_from_settings_keeps_a_codec_token_in_the_state_folder(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    settings = stack.settings.model_copy(
        update={
            "payload_keys": SecretStr(KEY_NEW),
            "callback_secrets": SecretStr("review=review-backend-secret-0001"),
        }
    )
    client = await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=dev_env.client.namespace,
        data_converter=data_converter(settings),
    )
    tokens = codec_tokens(settings)
    token_file = settings.state_dir / "codec-token"
    assert tokens == [token_file.read_text().strip()] and len(tokens[0]) >= 32
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert codec_tokens(settings) == tokens  # kept, not regenerated
    configured = settings.model_copy(update={"codec_tokens": SecretStr("t-one, t-two")})
    assert codec_tokens(configured) == ["t-one", "t-two"]

    async with (
        serve_asgi(app_from_settings(client, settings)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "e30="}]}
        bearer = {"authorization": f"Bearer {tokens[0]}"}
        encoded = await http.post("/encode", json=plain, headers=bearer)
        assert encoded.status_code == 200
        # The callback secret from the setting signs review decisions (no such pipeline here).
        body = b'{"decision": "approve", "decided_by": "r"}'
        answer = await http.post(
            "/callbacks/reseller-enrollment/5555555/review-decision",
            content=body,
            headers=signed_headers("/callbacks/reseller-enrollment/5555555/review-decision", body),
        )
        assert answer.status_code == 404
        assert answer.json()["error"]["type"] == "PipelineNotFound"


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def _refusal_with_cause() -> ApplicationError:
    try:
        try:
            raise ValueError("inner detail")
        except ValueError as inner:
            raise ApplicationError(
                "PartnerID 4512345 is at stage email_verification, not awaiting a review decision",
                type="WrongStage",
                non_retryable=True,
            ) from inner
    except ApplicationError as refusal:
        return refusal


@pytest.mark.parametrize("encoded", [False, True])
def test_business_refusals_carry_no_stack_trace_unexpected_errors_keep_theirs(
    encoded: bool,
) -> None:
    converter = EncodedFailureConverter() if encoded else ValidationSafeFailureConverter()
    payloads = DATA_CONVERTER.payload_converter

    refusal = Failure()
    converter.to_failure(_refusal_with_cause(), payloads, refusal)
    assert refusal.application_failure_info.type == "WrongStage"
    assert b".py" not in refusal.SerializeToString()  # no trace at any level, encoded or not
    back = converter.from_failure(refusal, payloads)
    assert isinstance(back, ApplicationError) and back.type == "WrongStage"
    assert back.message.startswith("PartnerID 4512345 is at stage email_verification")
    assert isinstance(back.cause, ApplicationError) and back.cause.message == "inner detail"

    unexpected = Failure()
    converter.to_failure(_raised(RuntimeError("bug")), payloads, unexpected)
    back = converter.from_failure(unexpected, payloads)
    assert isinstance(back, ApplicationError) and back.type == "RuntimeError"
    assert back.failure is not None and "test_codec.py" in back.failure.stack_trace
    if encoded:
        assert unexpected.message == "Encoded failure" and not unexpected.stack_trace
