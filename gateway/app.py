"""The gateway's ASGI app.

`GET /verify-email?token=...` only shows a confirmation page (mail scanners pre-fetch links, so a
GET must never consume a single-use token); the page's button POSTs the token, which completes the
`verify_email` update on the workflow named inside the signed token.

`GET /v/<token>` is the same page for a short link. Pages are in the reader's language
(gateway/pages.py); every answer carries the security headers of `gateway.pages.SECURITY_HEADERS`.
`GET /api` is the API page (Swagger UI, assets from the swagger-ui-bundle package).

`POST /callbacks/...`: signed backend decisions (gateway/callbacks.py), one route per entry of
`contract.pipelines.DECISIONS`. `POST /decode` and `/encode`: the payload codec for the Temporal UI
and CLI (gateway/codec_endpoint.py). `GET /openapi.json`: the document of all of these.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path
from temporalio.client import (
    Client,
    WorkflowQueryFailedError,
    WorkflowQueryRejectedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import MetricMeter
from temporalio.exceptions import ApplicationError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from adapters.registry.deliveries import SqlDeliveryLedger
from contract import names
from contract.pipelines import DECISIONS, Decision
from domain.email_verification import EmailVerificationStatus, VerifyEmail
from domain.errors import BusinessRuleViolation
from domain.messages import Acknowledgement
from domain.verification_token import TokenClaims, read_token
from gateway.callbacks import (
    UNAVAILABLE,
    CallbackConfig,
    callback_routes,
    error_response,
    is_connect_failure,
)
from gateway.codec_endpoint import (
    CodecConfig,
    JwtCheck,
    codec_origins,
    codec_routes,
    jwt_check_from_settings,
)
from gateway.deliveries import DEFAULT_RETENTION, DeliveryLedger
from gateway.metrics import GatewayMetricsMiddleware
from gateway.openapi import as_openapi_30, openapi_document
from gateway.pages import (
    SECURITY_HEADERS,
    STATIC,
    SecurityHeaders,
    api_page,
    page_locale,
    verification_page,
)
from gateway.refusals import PipelineBusy, TemporalUnavailable, refusal_status
from gateway.signatures import SignatureCheck
from runtime.callback_secrets import parse_backend_secrets
from runtime.health import health_routes, temporal_readiness
from runtime.settings import Settings
from runtime.state_dir import write_secret_file

log = structlog.get_logger(__name__)
_QUERY_TIMEOUT = timedelta(seconds=3)
# A call that ran out of its rpc_timeout (the SDK's own reading for updates).
_NO_ANSWER = {RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


_PAGE_FOR_REFUSAL = {
    "TokenExpired": "expired",
    "TokenAlreadyUsed": "already_confirmed",
    "WrongStage": "already_confirmed",
}


def _refusal(
    request: Request,
    error_type: str,
    message: str,
    status: int,
    state: EmailVerificationStatus | None = None,
) -> Response:
    log.info("verification_refused", error_type=error_type, status=status)
    if _wants_json(request):
        return JSONResponse({"error": {"type": error_type, "message": message}}, status)
    kind = _PAGE_FOR_REFUSAL.get(error_type, "invalid")
    if error_type == "TokenInvalid" and "replaced" in message:
        kind = "replaced"
    return _verification_page(request, kind, state, status=status, reason=message)


def _verification_page(
    request: Request,
    kind: str,
    state: EmailVerificationStatus | None,
    *,
    status: int = 200,
    reason: str = "",
    deadline: datetime | None = None,
    form_token: str | None = None,
) -> Response:
    locale = page_locale(
        request.headers.get("accept-language", ""), state.locale if state else None
    )
    return verification_page(
        kind,
        locale,
        status=status,
        company=state.legal_name if state else None,
        partner_id=state.partner_id if state else None,
        deadline=state.deadline if state else deadline,
        time_zone=(state.time_zone if state else None) or "UTC",
        reason=reason,
        form_token=form_token,
    )


async def _verification_state(client: Client, workflow_id: str) -> EmailVerificationStatus | None:
    """What the page shows about the link's workflow (company, deadline, language); None when
    the workflow is unknown or does not answer in time (the page then shows the token's facts)."""
    try:
        state: EmailVerificationStatus = await client.get_workflow_handle(workflow_id).query(
            names.QUERY_STATUS, result_type=EmailVerificationStatus, rpc_timeout=_QUERY_TIMEOUT
        )
    except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError) as err:
        log.info("verification_state_unavailable", error=type(err).__name__)
        return None
    except (ValueError, TypeError) as err:  # an answer that is not a verification's status
        log.warning("verification_state_unreadable", error=type(err).__name__)
        return None
    return state


def _names_a_verification(claims: TokenClaims) -> bool:
    """Links are minted only for email-verification workflows (contract.names)."""
    suffix = names.email_verification_id("")
    return claims.workflow_id.endswith(suffix) and len(claims.workflow_id) > len(suffix)


def _busy(request: Request, token: str, waited: timedelta) -> Response:
    """No answer within `waited` (no worker running?): 503 at once, and the page keeps the button
    so the partner can press it again shortly. A press the pipeline takes later is harmless: the
    next one then answers "already confirmed"."""
    message = (
        f"the enrollment did not answer within {int(waited.total_seconds())} s; "
        "try the link again in a few minutes"
    )
    log.warning("verification_busy", status=503)
    if _wants_json(request):
        return error_response(PipelineBusy.error_type, message, 503)
    # No status query: with no worker answering it would only wait as long again.
    page = _verification_page(request, "busy", None, status=503, form_token=token)
    page.headers["Retry-After"] = "5"
    return page


async def _closed_verification(
    request: Request, client: Client, workflow_id: str, token: str, waited: timedelta
) -> Response:
    """The link's workflow no longer takes updates: say whether it was verified or lapsed."""
    try:
        state = await client.get_workflow_handle(workflow_id).query(
            names.QUERY_STATUS, result_type=EmailVerificationStatus, rpc_timeout=waited
        )
    except RPCError as err:
        if err.status in _NO_ANSWER:  # a closed workflow's query needs a worker too
            return _busy(request, token, waited)
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
        return _refusal(request, "TokenInvalid", "no enrollment is waiting for this link", 404)
    except (WorkflowQueryFailedError, WorkflowQueryRejectedError, ValueError, TypeError):
        return _refusal(request, "TokenInvalid", "no enrollment is waiting for this link", 404)
    if state.verified:
        message = "this verification link was already used; the email address is verified"
        return _refusal(request, "TokenAlreadyUsed", message, 409, state)
    message = "this enrollment is no longer waiting for email verification"
    return _refusal(request, "TokenExpired", message, 410, state)


def create_app(
    client: Client,
    signing_secrets: Sequence[bytes],
    *,
    callback_secrets: Mapping[str, bytes] | None = None,
    callback_max_age: timedelta = timedelta(seconds=300),
    callback_timeout: timedelta = timedelta(seconds=30),
    codec_tokens: Sequence[str] = (),
    ui_origins: Sequence[str] = (),
    codec_session: timedelta = timedelta(hours=12),
    codec_jwt: JwtCheck | None = None,
    decisions: Sequence[Decision] = DECISIONS,
    meter: MetricMeter | None = None,
    deliveries: DeliveryLedger | None = None,
    delivery_retention: timedelta = DEFAULT_RETENTION,
) -> Starlette:
    """The gateway. The codec is the client's own (its data converter's payload codec).
    `deliveries` remembers callback delivery ids (the registry's ledger in production; without
    one, a private in-memory database); the app closes it when it shuts down."""
    document = openapi_document(decisions)
    callbacks = CallbackConfig(
        check=SignatureCheck(secrets=dict(callback_secrets or {}), max_age=callback_max_age),
        deliveries=deliveries or SqlDeliveryLedger.in_memory(),
        update_timeout=callback_timeout,
        retention=delivery_retention,
    )
    temporal_ready = temporal_readiness(client)
    codec = CodecConfig(
        codec=client.data_converter.payload_codec,
        tokens=tuple(codec_tokens),
        ui_origins=tuple(ui_origins),
        session_lifetime=codec_session,
        jwt_check=codec_jwt,
        namespace=client.namespace,
    )

    async def healthz(request: Request) -> Response:
        """OK only while Temporal answers: without it no link or callback can be served."""
        reason = await temporal_ready()
        if reason is None:
            return JSONResponse({"status": "ok"})
        return error_response(TemporalUnavailable.error_type, reason, 503)

    async def openapi(request: Request) -> Response:
        return JSONResponse(document)

    document_30 = as_openapi_30(document)

    async def openapi_30(request: Request) -> Response:
        return JSONResponse(document_30)

    def claims_of(token: str) -> TokenClaims:
        return read_token(
            signing_secrets,
            token,
            now=datetime.now(UTC),
            workflow_for_key=names.workflow_for_link_key,
        )

    async def show_verification(request: Request) -> Response:
        """The confirmation page (GET never consumes the token; mail scanners pre-fetch links)."""
        token = request.path_params.get("token") or request.query_params.get("token", "")
        try:
            claims = claims_of(token)
        except BusinessRuleViolation as err:
            return _refusal(request, err.error_type, err.message, refusal_status(err.error_type))
        if not _names_a_verification(claims):
            return _refusal(request, "TokenInvalid", "this link names no email verification", 400)
        state = await _verification_state(client, claims.workflow_id)
        if state is not None and state.verified:
            return _verification_page(request, "already_confirmed", state)
        return _verification_page(
            request, "confirm", state, deadline=claims.expires_at, form_token=token
        )

    async def verify(request: Request) -> Response:
        form = await request.form()
        token = form.get("token")
        if not isinstance(token, str) or not token:
            return _refusal(request, "TokenInvalid", "no verification token was submitted", 400)
        try:
            claims = claims_of(token)
        except BusinessRuleViolation as err:
            return _refusal(request, err.error_type, err.message, refusal_status(err.error_type))
        if not _names_a_verification(claims):
            return _refusal(request, "TokenInvalid", "this link names no email verification", 400)
        handle = client.get_workflow_handle(claims.workflow_id)
        try:
            ack = await handle.execute_update(
                names.UPDATE_VERIFY_EMAIL,
                VerifyEmail(token=token),
                result_type=Acknowledgement,
                rpc_timeout=callbacks.update_timeout,
            )
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            return _busy(request, token, callbacks.update_timeout)
        except WorkflowUpdateFailedError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type:
                state = (
                    None
                    if _wants_json(request)
                    else await _verification_state(client, claims.workflow_id)
                )
                status = refusal_status(cause.type)
                return _refusal(request, cause.type, cause.message, status, state)
            raise
        except RPCError as err:
            if err.status is not RPCStatusCode.NOT_FOUND:
                raise
            return await _closed_verification(
                request, client, claims.workflow_id, token, callbacks.update_timeout
            )
        log.info("email_verified", workflow_id=claims.workflow_id)
        if _wants_json(request):
            return JSONResponse({"status": "verified", "message": ack.message})
        state = await _verification_state(client, claims.workflow_id)
        return _verification_page(request, "confirmed", state)

    async def api(request: Request) -> Response:
        return api_page("CSP gateway")

    async def api_init(request: Request) -> Response:
        return Response((STATIC / "init.js").read_bytes(), media_type="text/javascript")

    routes = [
        Route("/healthz", healthz),
        *health_routes(temporal_ready),
        Route("/openapi.json", openapi),
        Route("/api", api, methods=["GET"]),
        Route("/api/openapi-3.0.json", openapi_30, methods=["GET"]),
        Route("/api/init.js", api_init, methods=["GET"]),
        Mount("/api/assets", StaticFiles(directory=str(swagger_ui_path)), name="api-assets"),
        Route("/v/{token}", show_verification, methods=["GET"]),
        Route("/verify-email", show_verification, methods=["GET"]),
        Route("/verify-email", verify, methods=["POST"]),
        *callback_routes(client, callbacks, decisions),
        *codec_routes(codec),
    ]
    # Request counts and latency by route and status (gateway/metrics.py), on the metrics
    # endpoint of the client's runtime.
    runtime = client.service_client.config.runtime or Runtime.default()

    async def server_error(request: Request, err: Exception) -> Response:
        """Anything unforeseen: logged with its trace, answered in the error shape (no trace)."""
        log.exception("gateway_error", path=request.url.path[:200], error=type(err).__name__)
        # Starlette answers these outside the middleware stack: the headers are added here.
        return error_response(
            "InternalError",
            "the gateway failed; the operator is told",
            500,
            headers=SECURITY_HEADERS,
        )

    async def temporal_error(request: Request, err: Exception) -> Response:
        """Temporal down or unreachable: 503 in the error shape (any other RPC failure: 500)."""
        if isinstance(err, RuntimeError) and not is_connect_failure(err):
            return await server_error(request, err)
        if not isinstance(err, RPCError) or err.status in UNAVAILABLE:
            log.warning("temporal_unavailable", path=request.url.path, error=type(err).__name__)
            return error_response(
                TemporalUnavailable.error_type,
                "Temporal is not answering; try again shortly",
                503,
            )
        log.error("temporal_error", path=request.url.path, status=str(err.status))
        return error_response("TemporalError", "Temporal refused the request", 500)

    async def http_error(request: Request, err: Exception) -> Response:
        """Starlette's own refusals (no such route, method not allowed) in the error shape."""
        assert isinstance(err, HTTPException)
        kinds = {404: "NotFound", 405: "MethodNotAllowed"}
        return error_response(
            kinds.get(err.status_code, "HttpError"),
            f"{request.method} {request.url.path[:200]}: {err.detail}",
            err.status_code,
            headers=err.headers,  # 405: Allow
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """The delivery ledger's connections end with the app (its engine's pool, and for SQLite
        the driver's thread)."""
        try:
            yield
        finally:
            await callbacks.deliveries.close()

    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            RPCError: temporal_error,
            RuntimeError: temporal_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(
                GatewayMetricsMiddleware, meter=meter or runtime.metric_meter, routes=routes
            ),
        ],
    )


def codec_tokens(settings: Settings) -> list[str]:
    """CSP_CODEC_TOKENS, or with encryption on, a token kept in `<state>/codec-token`."""
    if settings.codec_tokens is not None:
        tokens = settings.codec_tokens.get_secret_value().split(",")
        return [t.strip() for t in tokens if t.strip()]
    if settings.payload_keys is None:
        return []
    token_file = Path(settings.state_dir) / "codec-token"
    if not token_file.exists():
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            write_secret_file(token_file, secrets.token_urlsafe(32))
    return [token_file.read_text().strip()]


def app_from_settings(client: Client, settings: Settings) -> Starlette:
    secrets_text = settings.callback_secrets
    return create_app(
        client,
        settings.signing_secrets(),
        callback_secrets=(
            parse_backend_secrets(secrets_text.get_secret_value()) if secrets_text else {}
        ),
        callback_max_age=timedelta(seconds=settings.callback_max_age_seconds),
        callback_timeout=timedelta(seconds=settings.callback_timeout_seconds),
        codec_tokens=codec_tokens(settings),
        ui_origins=codec_origins(settings),
        codec_session=timedelta(hours=settings.codec_session_hours),
        codec_jwt=jwt_check_from_settings(settings),
        deliveries=SqlDeliveryLedger(settings.registry_database_url),
    )
