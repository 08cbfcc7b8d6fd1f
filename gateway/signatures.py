"""Signed backend callbacks: the signature scheme and its checks, as pure functions.

The scheme is Standard Webhooks (https://www.standardwebhooks.com/) with the target bound into the
signed content, so a signature is valid for one route and one delivery only:

    webhook-id:        the delivery id (1-128 of A-Z a-z 0-9 . _ : -), unique per delivery
    webhook-timestamp: Unix seconds of signing
    webhook-signature: `v1,<base64 HMAC-SHA256>` (several, space-separated, during a rotation)
    X-Csp-Backend:     the calling backend; its shared secret keys the HMAC

    signed content = <webhook-id> "." <webhook-timestamp> "." <METHOD> "." <path> "." <raw body>

`<path>` is the request path as routed (`/callbacks/<pipeline>/<key>.../<decision>`, no query).
The backend name is not in the signed content: it is authenticated by its secret, so every backend
has its own (two backends with one secret are refused at start, `distinct_secrets`); otherwise a
captured delivery sent again under the other name would be a new delivery and a second effect.
A timestamp older than the freshness window (default 300 s) or more than 60 s in the future is
refused. Tested at their edges in tests/test_callbacks.py.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from contract.pipelines import Decision
from gateway.refusals import (
    BackendForbidden,
    DeliveryIdInvalid,
    SignatureInvalid,
    SignatureMissing,
    SignatureStale,
)
from runtime.callback_secrets import MIN_SECRET_LENGTH, distinct_secrets

HEADER_BACKEND = "X-Csp-Backend"
HEADER_TIMESTAMP = "webhook-timestamp"
HEADER_SIGNATURE = "webhook-signature"
HEADER_DELIVERY_ID = "webhook-id"

DELIVERY_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
TIMESTAMP_PATTERN = r"^[0-9]{1,12}$"
SIGNATURE_PATTERN = r"^v1,[A-Za-z0-9+/]{43}=( v1,[A-Za-z0-9+/]{43}=){0,3}$"
MAX_FUTURE_SKEW = timedelta(seconds=60)


def signed_content(method: str, path: str, delivery_id: str, timestamp: str, body: bytes) -> bytes:
    """What the HMAC covers: delivery id, timestamp, method, path and the raw body."""
    head = f"{delivery_id}.{timestamp}.{method.upper()}.{path}."
    return head.encode() + body


def sign(
    secret: bytes, method: str, path: str, delivery_id: str, timestamp: str, body: bytes
) -> str:
    """The `webhook-signature` value: `v1,<base64 HMAC-SHA256 over signed_content(...)>`."""
    content = signed_content(method, path, delivery_id, timestamp, body)
    digest = hmac.new(secret, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(
    secret: bytes,
    backend: str,
    method: str,
    path: str,
    delivery_id: str,
    timestamp: int,
    body: bytes,
) -> dict[str, str]:
    """Every header a backend sends with a callback (a sender's one helper)."""
    stamp = str(timestamp)
    return {
        HEADER_BACKEND: backend,
        HEADER_DELIVERY_ID: delivery_id,
        HEADER_TIMESTAMP: stamp,
        HEADER_SIGNATURE: sign(secret, method, path, delivery_id, stamp, body),
    }


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class SignedDelivery:
    backend: str
    delivery_id: str
    route: str
    """`<METHOD> <path>`: the one target this delivery was signed for."""
    digest: str
    """SHA-256 of the raw body (hex): a delivery id names one body."""

    @property
    def update_id(self) -> str:
        """The Temporal update id: a redelivery of the same delivery has exactly one effect."""
        return f"{self.backend}:{self.delivery_id}"


@dataclass(frozen=True)
class SignatureCheck:
    secrets: Mapping[str, bytes]
    max_age: timedelta = timedelta(seconds=300)
    max_future: timedelta = MAX_FUTURE_SKEW

    def __post_init__(self) -> None:
        distinct_secrets(self.secrets)

    def verify(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        decision: Decision,
        now: datetime,
    ) -> SignedDelivery:
        """Who signed this delivery for this route, or the reason it is refused. Order: headers
        present and well-formed (400), backend known and signature valid for this method, path,
        delivery id, timestamp and body (401), timestamp fresh (401), backend allowed for this
        decision (403)."""
        backend = headers.get(HEADER_BACKEND, "")
        timestamp = headers.get(HEADER_TIMESTAMP, "")
        signatures = headers.get(HEADER_SIGNATURE, "")
        delivery_id = headers.get(HEADER_DELIVERY_ID, "")
        missing = [
            name
            for name, value in (
                (HEADER_BACKEND, backend),
                (HEADER_TIMESTAMP, timestamp),
                (HEADER_SIGNATURE, signatures),
            )
            if not value
        ]
        if missing:
            raise SignatureMissing(f"missing header(s): {', '.join(missing)}")
        if not re.fullmatch(TIMESTAMP_PATTERN, timestamp):
            raise SignatureMissing(f"{HEADER_TIMESTAMP} is not a Unix time in seconds")
        if not re.fullmatch(SIGNATURE_PATTERN, signatures):
            raise SignatureMissing(
                f"{HEADER_SIGNATURE} is not `v1,<base64 HMAC-SHA256>` (up to 4, space-separated)"
            )
        if not re.fullmatch(DELIVERY_ID_PATTERN, delivery_id):
            raise DeliveryIdInvalid(
                f"{HEADER_DELIVERY_ID} is required: 1-128 letters, digits or . _ : -"
            )
        # An unknown backend costs the same as a bad signature.
        secret = self.secrets.get(backend, b"-" * MIN_SECRET_LENGTH)
        expected = sign(secret, method, path, delivery_id, timestamp, body)
        matched = False
        for candidate in signatures.split(" "):
            matched |= hmac.compare_digest(candidate, expected)
        if backend not in self.secrets or not matched:
            raise SignatureInvalid(
                "unknown backend or bad signature (it covers webhook-id, webhook-timestamp, "
                "method, path and body)"
            )
        age = now.timestamp() - int(timestamp)
        if age > self.max_age.total_seconds():
            raise SignatureStale(
                f"signature timestamp is {int(age)} s old; the window is "
                f"{int(self.max_age.total_seconds())} s (sign again with the current time)"
            )
        if -age > self.max_future.total_seconds():
            raise SignatureStale(
                f"signature timestamp is {int(-age)} s in the future; at most "
                f"{int(self.max_future.total_seconds())} s of clock skew is allowed"
            )
        if backend not in decision.backends:
            allowed = ", ".join(sorted(decision.backends))
            raise BackendForbidden(
                f"backend {backend!r} may not report {decision.pipeline.name} {decision.name} "
                f"(allowed: {allowed})"
            )
        return SignedDelivery(
            backend=backend,
            delivery_id=delivery_id,
            route=f"{method.upper()} {path}",
            digest=body_digest(body),
        )
