"""The gateway's OpenAPI 3.1 document, generated from the decision table and the pydantic models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from contract.pipelines import Decision
from gateway.callbacks import callback_path
from gateway.signatures import (
    DELIVERY_ID_PATTERN,
    HEADER_BACKEND,
    HEADER_DELIVERY_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    SIGNATURE_PATTERN,
    TIMESTAMP_PATTERN,
)

_REF = "#/components/schemas/{model}"
_ERROR = {"$ref": "#/components/schemas/ErrorBody"}

_ERROR_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string", "description": "stable error type"},
                "message": {"type": "string", "description": "what failed, for an operator"},
                "fields": {
                    "type": "array",
                    "description": "PayloadInvalid: each failing field (never its value)",
                    "items": {
                        "type": "object",
                        "required": ["field", "type"],
                        "properties": {
                            "field": {"type": "string"},
                            "type": {"type": "string"},
                            "rule": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}

_PAYLOADS: dict[str, Any] = {
    "type": "object",
    "description": "Temporal Payloads in proto3 JSON (metadata values and data are base64)",
    "required": ["payloads"],
    "properties": {
        "payloads": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "metadata": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "contentEncoding": "base64"},
                    },
                    "data": {"type": "string", "contentEncoding": "base64"},
                },
            },
        }
    },
}

_SIGNING = (
    "Signed by a backend, Standard Webhooks style with the target bound: `webhook-signature: "
    "v1,<base64 HMAC-SHA256>` with the backend's (`X-Csp-Backend`) shared secret over "
    "`<webhook-id>.<webhook-timestamp>.<METHOD>.<path>.<raw body>`, so a signature is valid for "
    "one route and one delivery only. The timestamp (Unix seconds) must be at most the freshness "
    "window old and at most 60 s ahead. `webhook-id` names one delivery: sent again unchanged it "
    "has no second effect and gets the first answer; reused with another body or route it is "
    "refused (409 DeliveryIdReused) and changes nothing."
)


# The signature scheme as OpenAPI security schemes, named from gateway/signatures.py's header
# constants so a change there follows here. All of them together sign one call.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "backendName": {
        "type": "apiKey",
        "in": "header",
        "name": HEADER_BACKEND,
        "description": (
            "The calling backend's name (its shared secret is looked up by it; every backend "
            "has its own, so the name is authenticated by the signature)."
        ),
    },
    "backendTimestamp": {
        "type": "apiKey",
        "in": "header",
        "name": HEADER_TIMESTAMP,
        "description": "Unix seconds of signing: at most the freshness window old, 60 s ahead.",
    },
    "backendSignature": {
        "type": "apiKey",
        "in": "header",
        "name": HEADER_SIGNATURE,
        "description": _SIGNING,
    },
    "backendDeliveryId": {
        "type": "apiKey",
        "in": "header",
        "name": HEADER_DELIVERY_ID,
        "description": "The delivery id; signed, and bound to one route and one body.",
    },
}
CALLBACK_SECURITY: dict[str, list[str]] = {name: [] for name in SECURITY_SCHEMES}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: (
            "malformed request: missing or malformed signature headers, delivery id or JSON, "
            "JSON nested too deeply, or text with NUL/control characters (TextInvalid, field named)"
        ),
        401: "unknown backend, bad signature or stale timestamp (SignatureInvalid/Stale)",
        403: "this backend may not report this decision (BackendForbidden)",
        404: "no such pipeline, or no pipeline with this key (PipelineNotFound)",
        409: (
            "the pipeline refused: wrong stage or another business rule (type says which); or "
            "DeliveryIdReused: this webhook-id was first delivered with another body or route"
        ),
        410: "the pipeline has ended or the request has expired",
        413: "body over 64 KiB",
        422: "the body does not fit the decision's model (PayloadInvalid, fields listed)",
        503: (
            "the pipeline did not answer in time (PipelineBusy) or Temporal is unreachable "
            "(TemporalUnavailable): redeliver with the same delivery id"
        ),
    }
    return {
        str(s): {"description": reasons[s], "content": {"application/json": {"schema": _ERROR}}}
        for s in statuses
    }


def _header(name: str, pattern: str, description: str, example: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
        "example": example,
    }


def _next_decisions(decision: Decision, decisions: Sequence[Decision]) -> dict[str, Any]:
    """OpenAPI links: after a decision, the other decisions of the same pipeline take the same
    key (what a backend, and a stateful test, can send next)."""
    return {
        other.name: {
            "operationId": f"{other.pipeline.name}.{other.name}",
            "parameters": {key.name: f"$request.path.{key.name}" for key in other.pipeline.keys},
            "description": f"{other.summary} (the same {decision.pipeline.name} pipeline)",
        }
        for other in decisions
        if other.pipeline.name == decision.pipeline.name and other.name != decision.name
    }


def _callback_operation(decision: Decision, decisions: Sequence[Decision] = ()) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": key.name,
            "in": "path",
            "required": True,
            "description": key.description,
            "schema": {"type": "string", "pattern": key.pattern},
            "example": key.example,
        }
        for key in decision.pipeline.keys
    ]
    backend_example = sorted(decision.backends)[0]
    parameters += [
        _header(
            HEADER_BACKEND,
            "^(" + "|".join(sorted(decision.backends)) + ")$",
            f"the calling backend; allowed: {', '.join(sorted(decision.backends))}",
            backend_example,
        ),
        _header(HEADER_TIMESTAMP, TIMESTAMP_PATTERN, "Unix time (seconds) of signing", "0"),
        _header(
            HEADER_SIGNATURE,
            SIGNATURE_PATTERN,
            "v1,<base64 HMAC-SHA256> (space-separated while rotating)",
            "v1," + "A" * 43 + "=",
        ),
        _header(
            HEADER_DELIVERY_ID,
            DELIVERY_ID_PATTERN,
            "unique per delivery, reused on redelivery; signed",
            "delivery-0001",
        ),
    ]
    return {
        "operationId": f"{decision.pipeline.name}.{decision.name}",
        "security": [CALLBACK_SECURITY],
        "summary": decision.summary,
        "description": (
            f"Temporal update `{decision.update}` on the `{decision.pipeline.workflow_type}` "
            f"workflow. {_SIGNING}"
        ),
        "tags": [decision.pipeline.name],
        "parameters": parameters,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": _REF.format(model=decision.payload.__name__)}
                }
            },
        },
        "responses": {
            "200": {
                "description": "accepted: the pipeline's acknowledgement",
                "content": {
                    "application/json": {
                        "schema": {"$ref": _REF.format(model=decision.result.__name__)}
                    }
                },
                **({"links": links} if (links := _next_decisions(decision, decisions)) else {}),
            },
            **_errors(400, 401, 403, 404, 409, 410, 413, 422, 503),
        },
    }


def _codec_operation(kind: str) -> dict[str, Any]:
    return {
        "operationId": f"codec.{kind}",
        "summary": f"{kind.capitalize()} Temporal payloads (remote codec for the UI and CLI)",
        "security": [{"codecToken": []}, {"codecSession": []}],
        "tags": ["codec"],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payloads"}}},
        },
        "responses": {
            "200": {
                "description": f"the {kind}d payloads",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Payloads"}}
                },
            },
            **{
                status: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
                for status, text in {
                    "400": "not Payloads JSON",
                    "401": "no valid bearer token or session",
                    "404": "payload encryption is off",
                    "413": "body over 4 MiB",
                    "422": "a payload cannot be decrypted (unknown key id or tampered)",
                }.items()
            },
        },
    }


def _short_link_paths() -> dict[str, Any]:
    show = _verify_email_paths()["get"]
    return {
        "get": {
            **show,
            "operationId": "verify-email.show-short",
            "summary": "The confirmation page of a short email-verification link",
            "parameters": [
                {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
        }
    }


def _verify_email_paths() -> dict[str, Any]:
    html = {"text/html": {"schema": {"type": "string"}}}
    html_or_json = {**html, "application/json": {"schema": _ERROR}}
    refused = {
        status: {"description": text, "content": html_or_json}
        for status, text in {
            "400": "TokenInvalid",
            "404": "no enrollment waits for this link",
            "409": "TokenAlreadyUsed / WrongStage",
            "410": "TokenExpired",
        }.items()
    }
    return {
        "get": {
            "operationId": "verify-email.show",
            "summary": "The confirmation page of an email-verification link (never consumes it)",
            "tags": ["verify-email"],
            "parameters": [
                {"name": "token", "in": "query", "required": False, "schema": {"type": "string"}}
            ],
            "responses": {"200": {"description": "the page", "content": html}, **refused},
        },
        "post": {
            "operationId": "verify-email.confirm",
            "summary": "Confirm an email address (the page's button)",
            "tags": ["verify-email"],
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {
                        "schema": {
                            "type": "object",
                            "properties": {"token": {"type": "string"}},
                            "required": ["token"],
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "verified",
                    "content": {
                        **html,
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "status": {"type": "string"},
                                    "message": {"type": "string"},
                                },
                            }
                        },
                    },
                },
                **refused,
                "503": {
                    "description": (
                        "PipelineBusy: the enrollment did not answer in time (no worker "
                        "running?); try the link again in a few minutes"
                    ),
                    "content": html_or_json,
                },
            },
        },
    }


def openapi_document(decisions: Sequence[Decision], title: str = "CSP gateway") -> dict[str, Any]:
    models: list[type[BaseModel]] = []
    for decision in decisions:
        for model in (decision.payload, decision.result):
            if model not in models:
                models.append(model)
    _, definitions = models_json_schema(
        [
            (m, "validation" if m in {d.payload for d in decisions} else "serialization")
            for m in models
        ],
        ref_template=_REF,
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    schemas["ErrorBody"] = _ERROR_BODY
    schemas["Payloads"] = _PAYLOADS
    paths: dict[str, Any] = {
        callback_path(decision): {"post": _callback_operation(decision, decisions)}
        for decision in decisions
    }
    paths["/verify-email"] = _verify_email_paths()
    paths["/v/{token}"] = _short_link_paths()
    paths["/decode"] = {"post": _codec_operation("decode")}
    paths["/encode"] = {"post": _codec_operation("encode")}
    paths["/healthz"] = {
        "get": {
            "operationId": "healthz",
            "summary": "Liveness: OK only while Temporal answers",
            "responses": {
                "503": {
                    "description": "Temporal is unreachable (TemporalUnavailable)",
                    "content": {"application/json": {"schema": _ERROR}},
                },
                "200": {
                    "description": "up",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"status": {"type": "string"}},
                            }
                        }
                    },
                },
            },
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": "1",
            "description": (
                "Backend callbacks for the CSP enrollment pipelines, the email-verification "
                "link, and the payload codec. " + _SIGNING
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                **SECURITY_SCHEMES,
                "codecToken": {"type": "http", "scheme": "bearer"},
                "codecSession": {"type": "apiKey", "in": "cookie", "name": "csp_codec_session"},
            },
        },
    }


def as_openapi_30(document: dict[str, Any]) -> dict[str, Any]:
    """The document for readers of OpenAPI 3.0 only (the API page's Swagger UI 4 from the
    swagger-ui-bundle package): `anyOf [X, null]` becomes `nullable`, `const` an `enum`, schema
    `examples` one `example`. `/openapi.json` itself stays 3.1."""

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: convert(value) for key, value in node.items()}
        variants = out.get("anyOf")
        if isinstance(variants, list) and {"type": "null"} in variants:
            rest = [v for v in variants if v != {"type": "null"}]
            out.pop("anyOf")
            if len(rest) == 1 and isinstance(rest[0], dict) and "$ref" not in rest[0]:
                out.update(rest[0])
            else:
                out["anyOf"] = rest
            out["nullable"] = True
        if "const" in out:
            out["enum"] = [out.pop("const")]
        if isinstance(out.get("examples"), list) and "type" in out:
            examples = out.pop("examples")
            if examples:
                out["example"] = examples[0]
        return out

    converted: dict[str, Any] = convert(document)
    converted["openapi"] = "3.0.3"
    return converted
