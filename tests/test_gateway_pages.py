"""What a partner's browser gets from the gateway, over a real socket against the dev server:
the confirmation page in the contact's language with the company and the deadline in words, the
"already confirmed" and "expired" pages, the API page from packaged assets, and the security
headers on every answer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from adapters.mail.smtp_sink import verification_links
from contract import names
from domain.reseller_enrollment import EnrollmentStage, EnrollmentStatus
from domain.verification_token import TokenClaims, mint_token
from gateway.app import app_from_settings
from gateway.pages import SECURITY_HEADERS
from gateway.server import serve_asgi
from gateway.signatures import HEADER_BACKEND, HEADER_SIGNATURE, HEADER_TIMESTAMP
from tests.conftest import TOKEN_SECRET, Stack, application
from tests.enrollment_driver import links_recorded, start_enrollment
from tests.test_callbacks import gateway, new_partner, signed_headers, wait_for_stage


def assert_secure(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.url, name)
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@contextlib.asynccontextmanager
async def awaiting_verification(
    dev_env: WorkflowEnvironment, stack: Stack, **contact: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, str, str]]:
    """A JP enrollment waiting for its contact, the gateway, and the mailed link."""
    client = dev_env.client
    partner_id = new_partner(stack, mpa_signed=False)
    workflow_id = names.reseller_enrollment_id(partner_id)
    primary = {**application()["primary_contact"], **contact}
    for key in [k for k, v in primary.items() if v is None]:
        del primary[key]
    async with gateway(client) as url, httpx.AsyncClient(base_url=url) as http:
        stack.settings = stack.settings.model_copy(update={"public_base_url": url})
        async with stack.worker(client):
            handle = await start_enrollment(
                client,
                workflow_id,
                application(partner_id=partner_id, primary_contact=primary),
            )
            try:
                await wait_for_stage(handle, EnrollmentStage.EMAIL_VERIFICATION)
                messages = await stack.sink.wait_for_messages(1, timeout_seconds=30)
                [link] = verification_links(messages[-1])
                yield http, link, partner_id
            finally:
                with contextlib.suppress(Exception):
                    await handle.terminate("test finished")


async def test_japanese_contact_sees_company_deadline_then_already_confirmed(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    # No locale in the input: a JP partner's contact reads Japanese, dates in Tokyo time.
    async with awaiting_verification(dev_env, stack, locale=None) as (http, link, partner_id):
        assert len(link) < 100 and "/v/" in link

        page = await http.get(link, headers={"accept-language": "en-US,en;q=0.9"})
        assert page.status_code == 200
        assert_secure(page)
        assert '<html lang="ja">' in page.text  # the contact's language, not the browser's
        assert f"Contoso K.K. (PartnerID {partner_id})" in page.text
        assert "日本時間" in page.text and "年" in page.text
        assert 'name="viewport"' in page.text
        assert 'method="post"' in page.text
        token = link.rpartition("/v/")[2]

        confirmed = await http.post("/verify-email", data={"token": token})
        assert confirmed.status_code == 200
        assert_secure(confirmed)
        assert 'id="confirmed"' in confirmed.text and "確認しました" in confirmed.text

        again = await http.get(link)
        assert again.status_code == 200
        assert 'id="already_confirmed"' in again.text
        assert 'method="post"' not in again.text  # no button after use

        reused = await http.post("/verify-email", data={"token": token})
        assert reused.status_code == 409
        assert 'id="already_confirmed"' in reused.text


async def test_english_contact_and_expired_link(dev_env: WorkflowEnvironment, stack: Stack) -> None:
    async with awaiting_verification(dev_env, stack, locale="en", time_zone="Europe/London") as (
        http,
        link,
        partner_id,
    ):
        page = await http.get(link)
        assert page.status_code == 200
        assert '<html lang="en">' in page.text
        assert "Confirm your email address" in page.text and "Contoso K.K." in page.text
        assert " GMT" in page.text or " BST" in page.text  # London time, in words

        workflow_id = names.email_verification_id(names.reseller_enrollment_id(partner_id))
        expired = mint_token(
            TOKEN_SECRET.encode(),
            TokenClaims(
                workflow_id=workflow_id,
                token_id="link-1",
                expires_at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5),
            ),
            short_key=names.verification_link_key(workflow_id),
        )
        gone = await http.get(f"/v/{expired}", headers={"accept-language": "en"})
        assert gone.status_code == 410
        assert_secure(gone)
        assert 'id="expired"' in gone.text
        assert "To get a new link" in gone.text
        assert 'method="post"' not in gone.text

        gone_ja = await http.get(f"/v/{expired}", headers={"accept-language": "ja,en;q=0.5"})
        assert '<html lang="ja">' in gone_ja.text and "新しいリンク" in gone_ja.text

        forged = await http.get(f"/v/{expired[:-4]}AAAA")
        assert forged.status_code == 400 and 'id="invalid"' in forged.text


async def test_api_page_from_packaged_assets_and_signature_scheme(
    dev_env: WorkflowEnvironment,
) -> None:
    async with gateway(dev_env.client) as url, httpx.AsyncClient(base_url=url) as http:
        page = await http.get("/api")
        assert page.status_code == 200
        assert_secure(page)
        assert "/api/assets/swagger-ui-bundle.js" in page.text
        # No CDN: every script and style comes from the gateway itself.
        assert "http://" not in page.text and "https://" not in page.text
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
            served = await http.get(f"/api/assets/{asset}")
            assert served.status_code == 200 and len(served.content) > 10_000, asset
            assert_secure(served)
        init = await http.get("/api/init.js")
        assert init.status_code == 200 and "/api/openapi-3.0.json" in init.text
        document_30 = (await http.get("/api/openapi-3.0.json")).json()
        assert document_30["openapi"] == "3.0.3"
        assert document_30["components"]["securitySchemes"]["backendSignature"]["name"] == (
            HEADER_SIGNATURE
        )
        assert '{"type": "null"}' not in str(document_30).replace("'", '"')

        document = (await http.get("/openapi.json")).json()
        schemes = document["components"]["securitySchemes"]
        assert schemes["backendSignature"] == {
            **schemes["backendSignature"],
            "type": "apiKey",
            "in": "header",
            "name": HEADER_SIGNATURE,
        }
        assert schemes["backendName"]["name"] == HEADER_BACKEND
        assert schemes["backendTimestamp"]["name"] == HEADER_TIMESTAMP
        callbacks = [p for p in document["paths"] if p.startswith("/callbacks/")]
        assert callbacks
        for path in callbacks:
            [requirement] = document["paths"][path]["post"]["security"]
            assert set(requirement) == {
                "backendName",
                "backendTimestamp",
                "backendSignature",
                "backendDeliveryId",
            }
        # The documented scheme binds the target: method and path are in the signed content.
        signing = schemes["backendSignature"]["description"]
        assert "<webhook-id>.<webhook-timestamp>.<METHOD>.<path>.<raw body>" in signing
        assert "60 s" in signing

        # The framework's own refusals come in the documented error shape too.
        missing = await http.get("/no-such-page")
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound"
        wrong_method = await http.get("/callbacks/reseller-enrollment/1234567/review-decision")
        assert wrong_method.status_code == 405
        assert wrong_method.json()["error"]["type"] == "MethodNotAllowed"
        assert wrong_method.headers["allow"] == "POST"

        for answer in (
            await http.get("/healthz"),
            await http.get("/openapi.json"),
            await http.post("/callbacks/reseller-enrollment/1234567/review-decision"),
            await http.get("/no-such-page"),
        ):
            assert_secure(answer)


async def test_a_valid_token_naming_another_kind_of_workflow_is_refused(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    """A correctly signed token whose workflow is a running enrollment, not its email
    verification: a 4xx in the documented shape, never a server error, and nothing changes."""
    async with awaiting_verification(dev_env, stack, locale="en") as (http, _link, partner_id):
        enrollment_id = names.reseller_enrollment_id(partner_id)
        token = mint_token(
            TOKEN_SECRET.encode(),
            TokenClaims(
                workflow_id=enrollment_id,
                token_id="link-1",
                expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=1),
            ),
        )
        page = await http.get("/verify-email", params={"token": token})
        assert page.status_code == 400 and 'id="invalid"' in page.text
        as_json = await http.post(
            "/verify-email", data={"token": token}, headers={"accept": "application/json"}
        )
        assert as_json.status_code == 400
        assert as_json.json()["error"]["type"] == "TokenInvalid"
        assert "names no email verification" in as_json.json()["error"]["message"]
        status = await dev_env.client.get_workflow_handle(enrollment_id).query(
            names.QUERY_STATUS, result_type=EnrollmentStatus
        )
        assert status.stage is EnrollmentStage.EMAIL_VERIFICATION


class _LedgerOnAFullDisk:
    """The delivery ledger's database failing in a way nobody foresaw (ENOSPC)."""

    async def claim(self, *args: Any) -> None:
        raise OSError(28, "No space left on device")

    async def record_answer(self, *args: Any) -> None:
        raise AssertionError("a delivery that was never claimed has no answer to keep")

    async def forget_before(self, cutoff: datetime) -> int:
        return 0

    async def close(self) -> None:
        pass


async def test_an_unforeseen_failure_is_a_500_in_the_error_shape_with_the_security_headers(
    dev_env: WorkflowEnvironment,
) -> None:
    """Starlette answers unhandled errors outside the middleware stack: the 500 still carries
    the security headers, the documented error shape and nothing of the error's own text."""
    path = "/callbacks/reseller-enrollment/1234567/review-decision"
    body = b'{"decision": "approve", "decided_by": "review-team"}'
    async with (
        gateway(dev_env.client, deliveries=_LedgerOnAFullDisk()) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        answer = await http.post(path, content=body, headers=signed_headers(path, body))
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {"type": "InternalError", "message": "the gateway failed; the operator is told"}
    }
    assert_secure(answer)


async def test_confirming_while_no_worker_runs_answers_503_at_once_then_confirms_later(
    dev_env: WorkflowEnvironment, stack: Stack
) -> None:
    """The link's button pressed while no worker runs: the update is never taken, and the gateway
    answers within CSP_CALLBACK_TIMEOUT_SECONDS (503 PipelineBusy, a page saying to try again
    shortly, with the button) instead of leaving the partner's browser waiting forever. Pressed
    again once a worker runs, the address is confirmed."""
    client = dev_env.client
    partner_id = new_partner(stack, mpa_signed=False)
    workflow_id = names.reseller_enrollment_id(partner_id)
    settings = stack.settings.model_copy(update={"callback_timeout_seconds": 1})
    async with (
        serve_asgi(app_from_settings(client, settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=20) as http,
    ):
        stack.settings = stack.settings.model_copy(update={"public_base_url": url})
        handle = await start_enrollment(client, workflow_id, application(partner_id=partner_id))
        try:
            async with stack.worker(client):
                await wait_for_stage(handle, EnrollmentStage.EMAIL_VERIFICATION)
                [message] = await stack.sink.wait_for_messages(1, timeout_seconds=30)
                [link] = verification_links(message)
                await links_recorded(client, workflow_id, 1)
            token = link.rpartition("/v/")[2]

            # No worker: refused at once, in the error shape and as a page with the button.
            as_json = await http.post(
                "/verify-email", data={"token": token}, headers={"accept": "application/json"}
            )
            assert as_json.status_code == 503, as_json.text
            assert as_json.headers["retry-after"] == "5"
            assert as_json.json()["error"]["type"] == "PipelineBusy"
            assert "try the link again" in as_json.json()["error"]["message"]
            page = await http.post(
                "/verify-email", data={"token": token}, headers={"accept-language": "en"}
            )
            assert page.status_code == 503
            assert_secure(page)
            assert 'id="busy"' in page.text and "try again" in page.text
            assert f'name="token" value="{token}"' in page.text  # the button, to press again
            page_ja = await http.post(
                "/verify-email", data={"token": token}, headers={"accept-language": "ja"}
            )
            assert page_ja.status_code == 503 and "もう一度" in page_ja.text

            # A worker again: pressed again (as often as the page says), the address is confirmed
            # (or was already, by a press the pipeline took meanwhile).
            async with stack.worker(client):
                for _ in range(30):
                    again = await http.post("/verify-email", data={"token": token})
                    if again.status_code != 503:
                        break
                assert again.status_code in {200, 409}, again.text
                assert 'id="confirmed"' in again.text or 'id="already_confirmed"' in again.text
                await wait_for_stage(handle, EnrollmentStage.REVIEW)

            # The verification has ended; the link pressed again while no worker runs: the
            # ended workflow's status query needs a worker too, so 503 at once again.
            late = await http.post(
                "/verify-email", data={"token": token}, headers={"accept": "application/json"}
            )
            assert late.status_code == 503, late.text
            assert late.json()["error"]["type"] == "PipelineBusy"
            async with stack.worker(client):
                for _ in range(30):
                    late = await http.post("/verify-email", data={"token": token})
                    if late.status_code != 503:
                        break
                assert late.status_code == 409 and 'id="already_confirmed"' in late.text
        finally:
            with contextlib.suppress(Exception):
                await handle.terminate("test finished")
