"""Signed backend callbacks: one route per entry of `contract.pipelines.DECISIONS`.

Each request is checked in this order, and nothing reaches a pipeline unless all pass: route and
key (404), signature headers (400), backend and HMAC signature over method, path, delivery id,
timestamp and body (401), freshness (401), backend allowed for this decision (403), JSON (400:
malformed, nested too deeply, or a string with NUL/control characters), payload model (422), the
delivery ledger (409 when the delivery id was first seen with another route or body; the first
answer again for a redelivery). Then the decision goes to the pipeline as a Temporal update whose id
is `<backend>:<webhook-id>`, so a redelivery has exactly one effect and gets the same answer; the
pipeline's acknowledgement (200) or refusal (its error type, mapped to 409/410/422) goes back to the
caller and is kept in the ledger. Temporal not answering is 503 (`TemporalUnavailable`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
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
from temporalio.service import RPCError, RPCStatusCode

from contract.pipelines import Decision
from gateway.deliveries import DEFAULT_RETENTION, DeliveryLedger, RecordedAnswer, admit
from gateway.refusals import (
    CallbackRejected,
    MalformedJson,
    PayloadInvalid,
    PayloadTooLarge,
    PipelineBusy,
    PipelineClosed,
    PipelineNotFound,
    TemporalUnavailable,
    TextInvalid,
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
MAX_JSON_DEPTH = 32
UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


def callback_path(decision: Decision) -> str:
    """The decision's route: `/callbacks/<pipeline>/<key>.../<decision>`."""
    keys = "/".join(f"{{{k.name}}}" for k in decision.pipeline.keys)
    return f"/callbacks/{decision.pipeline.name}/{keys}/{decision.name}"


def is_connect_failure(err: BaseException) -> bool:
    """A lazily connecting Temporal client that cannot reach the server raises a RuntimeError
    (temporalio's bridge: "Failed client connect: ..."), not an RPCError."""
    return isinstance(err, RuntimeError) and str(err).startswith("Failed client connect")


def error_response(
    error_type: str,
    message: str,
    status: int,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    answer_headers = {"Retry-After": "5"} if status == 503 else {}
    answer_headers.update(headers or {})
    return JSONResponse(
        {"error": {"type": error_type, "message": message, **extra}},
        status,
        headers=answer_headers or None,
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
    deliveries: DeliveryLedger
    update_timeout: timedelta = timedelta(seconds=30)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    retention: timedelta = DEFAULT_RETENTION

    def __post_init__(self) -> None:
        if self.retention <= self.check.max_age + self.check.max_future:
            raise ValueError(
                "the delivery ledger must remember delivery ids longer than the signature's "
                "freshness window plus clock skew"
            )


def _is_control(char: str) -> bool:
    code = ord(char)
    return (code < 0x20 and char not in "\t\n\r") or 0x7F <= code <= 0x9F


def _refuse_control_characters(node: Any, where: str = "") -> None:
    """NUL and other control characters (tab, line feed and carriage return aside) in any
    string or key: refused at the edge, naming the field (never its value)."""
    if isinstance(node, str):
        if any(_is_control(c) for c in node):
            field = where or "(body)"
            raise TextInvalid(
                f"{field}: text holds NUL or another control character",
                [{"field": field, "type": "control_character"}],
            )
    elif isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}" if where else str(key)
            _refuse_control_characters(key, path)
            _refuse_control_characters(value, path)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            _refuse_control_characters(item, f"{where}[{index}]")


def _depth(node: Any) -> int:
    depth, level = 0, [node]
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return depth
        nested: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                nested.extend(item.values())
            elif isinstance(item, list):
                nested.extend(item)
        level = nested
    return depth - 1


def _validated(decision: Decision, body: bytes) -> pydantic.BaseModel:
    try:
        parsed = json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise MalformedJson("the body is not valid UTF-8 JSON") from None
    except RecursionError:
        raise MalformedJson(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(parsed, dict):
        raise MalformedJson("the body must be a JSON object")
    if _depth(parsed) > MAX_JSON_DEPTH:
        raise MalformedJson(f"the JSON nests deeper than {MAX_JSON_DEPTH} levels")
    _refuse_control_characters(parsed)
    try:
        return decision.payload.model_validate_json(body)
    except pydantic.ValidationError as err:
        raise PayloadInvalid(validation_summary(err), validation_fields(err)) from None


def _answer(answer: RecordedAnswer) -> Response:
    return Response(answer.body, answer.status, media_type="application/json")


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
            now = config.clock()
            delivery = config.check.verify(
                request.method, request.url.path, request.headers, body, decision, now
            )
            payload = _validated(decision, body)
            workflow_id = decision.pipeline.workflow_id(**keys)
            earlier = await admit(config.deliveries, delivery, now, config.retention)
            if earlier is not None:
                log.info(
                    "callback_redelivered",
                    decision=decision.name,
                    workflow_id=workflow_id,
                    backend=delivery.backend,
                    delivery_id=delivery.delivery_id,
                    status=earlier.status,
                )
                return _answer(earlier)
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
                refusal = error_response(refused.error_type, refused.message, status)
                await config.deliveries.record_answer(
                    delivery.backend,
                    delivery.delivery_id,
                    RecordedAnswer(status, bytes(refusal.body).decode()),
                )
                return refusal
            except PipelineSilent as silent:
                raise PipelineBusy(silent.message) from None
            except PipelineMissing as missing:
                raise PipelineNotFound(missing.message) from None
            except PipelineEnded as ended:
                raise PipelineClosed(ended.message) from None
            except (RPCError, RuntimeError) as err:
                unavailable = (
                    err.status in UNAVAILABLE
                    if isinstance(err, RPCError)
                    else is_connect_failure(err)
                )
                if not unavailable:
                    raise
                raise TemporalUnavailable(
                    "Temporal did not answer; deliver again later with the same webhook-id"
                ) from None
        except CallbackRejected as rejected:
            log.info(
                "callback_rejected",
                path=request.url.path,
                backend=delivery.backend if delivery else None,
                workflow_id=workflow_id,
                error_type=rejected.error_type,
                status=rejected.status,
            )
            extra: dict[str, Any] = (
                {"fields": rejected.fields}
                if isinstance(rejected, PayloadInvalid | TextInvalid)
                else {}
            )
            return error_response(rejected.error_type, rejected.message, rejected.status, **extra)
        log.info(
            "callback_accepted",
            decision=decision.name,
            workflow_id=workflow_id,
            backend=delivery.backend,
            delivery_id=delivery.delivery_id,
        )
        accepted = JSONResponse(answer.model_dump(mode="json"))
        kept = RecordedAnswer(200, bytes(accepted.body).decode())
        await config.deliveries.record_answer(delivery.backend, delivery.delivery_id, kept)
        return accepted

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
