"""Signed backend callbacks: one route per entry of `contract.pipelines.DECISIONS`.

Each request is checked in this order, and nothing reaches a pipeline unless all pass: route and
key (404), signature headers (400), backend and HMAC signature (401), freshness (401), backend
allowed for this decision (403), JSON (400), payload model (422). Then the decision goes to the
pipeline as a Temporal update whose id is `<backend>:<X-Delivery-Id>`, so a redelivery has exactly
one effect and gets the same answer; the pipeline's acknowledgement (200) or refusal (its error
type, mapped to 409/410/422) goes back to the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.client import (
    Client,
)

from contract.pipelines import Decision
from gateway.refusals import (
    CallbackRejected,
    MalformedJson,
    PayloadInvalid,
    PayloadTooLarge,
    PipelineBusy,
    PipelineClosed,
    PipelineNotFound,
    refusal_status,
)
from gateway.signatures import SignatureCheck, SignedDelivery
from runtime.decisions import (
    DecisionRefused,
    PipelineEnded,
    PipelineMissing,
    PipelineSilent,
    send_decision,
)
from runtime.payload_codec import validation_fields, validation_summary

log = structlog.get_logger(__name__)

MAX_BODY_BYTES = 64 * 1024


def callback_path(decision: Decision) -> str:
    """The decision's route: `/callbacks/<pipeline>/<key>.../<decision>`."""
    keys = "/".join(f"{{{k.name}}}" for k in decision.pipeline.keys)
    return f"/callbacks/{decision.pipeline.name}/{keys}/{decision.name}"


def error_response(error_type: str, message: str, status: int, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": "5"} if status == 503 else None
    return JSONResponse(
        {"error": {"type": error_type, "message": message, **extra}}, status, headers=headers
    )


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is over {limit // 1024} KiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over {limit // 1024} KiB")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class CallbackConfig:
    check: SignatureCheck
    update_timeout: timedelta = timedelta(seconds=30)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)


def _validated(decision: Decision, body: bytes) -> pydantic.BaseModel:
    try:
        parsed = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedJson("the body is not valid UTF-8 JSON") from None
    if not isinstance(parsed, dict):
        raise MalformedJson("the body must be a JSON object")
    try:
        return decision.payload.model_validate_json(body)
    except pydantic.ValidationError as err:
        raise PayloadInvalid(validation_summary(err), validation_fields(err)) from None


def callback_routes(
    client: Client, config: CallbackConfig, decisions: Sequence[Decision]
) -> list[Route]:
    async def deliver(request: Request, decision: Decision) -> Response:
        delivery: SignedDelivery | None = None
        workflow_id: str | None = None
        try:
            keys = {k.name: str(request.path_params[k.name]) for k in decision.pipeline.keys}
            for key in decision.pipeline.keys:
                if not key.matches(keys[key.name]):
                    raise PipelineNotFound(
                        f"no {decision.pipeline.name} pipeline has {key.name} "
                        f"{keys[key.name][:64]!r} ({key.description})"
                    )
            body = await read_body(request, MAX_BODY_BYTES)
            delivery = config.check.verify(request.headers, body, decision, config.clock())
            payload = _validated(decision, body)
            workflow_id = decision.pipeline.workflow_id(**keys)
            try:
                answer = await send_decision(
                    client,
                    decision,
                    workflow_id,
                    payload,
                    update_id=delivery.update_id,
                    answer_within=config.update_timeout,
                )
            except DecisionRefused as refused:
                status = refusal_status(refused.error_type)
                log.info(
                    "callback_refused_by_pipeline",
                    decision=decision.name,
                    workflow_id=workflow_id,
                    backend=delivery.backend,
                    delivery_id=delivery.delivery_id,
                    error_type=refused.error_type,
                    status=status,
                )
                return error_response(refused.error_type, refused.message, status)
            except PipelineSilent as silent:
                raise PipelineBusy(silent.message) from None
            except PipelineMissing as missing:
                raise PipelineNotFound(missing.message) from None
            except PipelineEnded as ended:
                raise PipelineClosed(ended.message) from None
        except CallbackRejected as rejected:
            log.info(
                "callback_rejected",
                path=request.url.path,
                backend=delivery.backend if delivery else None,
                workflow_id=workflow_id,
                error_type=rejected.error_type,
                status=rejected.status,
            )
            extra = {"fields": rejected.fields} if isinstance(rejected, PayloadInvalid) else {}
            return error_response(rejected.error_type, rejected.message, rejected.status, **extra)
        log.info(
            "callback_accepted",
            decision=decision.name,
            workflow_id=workflow_id,
            backend=delivery.backend,
            delivery_id=delivery.delivery_id,
        )
        return JSONResponse(answer.model_dump(mode="json"))

    def endpoint(decision: Decision) -> Callable[[Request], Any]:
        async def handler(request: Request) -> Response:
            return await deliver(request, decision)

        return handler

    async def unknown(request: Request) -> Response:
        known = sorted({f"{d.pipeline.name}/{d.name}" for d in decisions})
        return error_response(
            PipelineNotFound.error_type,
            f"no callback at {request.url.path[:200]}; known: {', '.join(known)}",
            404,
        )

    routes = [Route(callback_path(d), endpoint(d), methods=["POST"]) for d in decisions]
    routes.append(Route("/callbacks/{rest:path}", unknown, methods=["POST"]))
    return routes
