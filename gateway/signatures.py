"""Signed backend callbacks: the HMAC scheme and its checks, as pure functions.

HMAC-SHA256 over `<timestamp>.<raw body>` with the backend's shared secret, a freshness window, and
the backend's right to report the decision. Tested at their edges in tests/test_callbacks.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
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

HEADER_BACKEND = "X-Csp-Backend"
HEADER_TIMESTAMP = "X-Csp-Timestamp"
HEADER_SIGNATURE = "X-Csp-Signature"
HEADER_DELIVERY_ID = "X-Delivery-Id"

BACKEND_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
DELIVERY_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
TIMESTAMP_PATTERN = r"^[0-9]{1,12}$"
SIGNATURE_PATTERN = r"^sha256=[0-9a-f]{64}$"
MIN_SECRET_LENGTH = 16


class CallbackSecretsInvalid(ValueError):
    """CSP_CALLBACK_SECRETS cannot be read (startup error, names the setting)."""


def parse_backend_secrets(text: str) -> dict[str, bytes]:
    """`name=secret,name2=secret2` or a JSON object `{"name": "secret"}` -> {name: secret}."""
    text = text.strip()
    pairs: list[tuple[str, str]] = []
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            raise CallbackSecretsInvalid("CSP_CALLBACK_SECRETS is not valid JSON") from None
        if not isinstance(loaded, dict) or not all(isinstance(v, str) for v in loaded.values()):
            raise CallbackSecretsInvalid(
                'CSP_CALLBACK_SECRETS as JSON is an object {"backend": "secret"}'
            )
        pairs = [(str(k), v) for k, v in loaded.items()]
    else:
        for position, entry in enumerate(e.strip() for e in text.split(",")):
            if not entry:
                continue
            name, sep, secret = entry.partition("=")
            if not sep:
                raise CallbackSecretsInvalid(
                    f"CSP_CALLBACK_SECRETS entry {position + 1} is not `backend=secret`"
                )
            pairs.append((name.strip(), secret.strip()))
    secrets: dict[str, bytes] = {}
    for name, secret in pairs:
        if not re.fullmatch(BACKEND_NAME_PATTERN, name):
            raise CallbackSecretsInvalid(
                f"CSP_CALLBACK_SECRETS backend name {name[:64]!r} is not lower-case letters, "
                "digits and '-'"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise CallbackSecretsInvalid(
                f"CSP_CALLBACK_SECRETS secret of {name!r} is shorter than {MIN_SECRET_LENGTH} "
                "characters"
            )
        if name in secrets:
            raise CallbackSecretsInvalid(f"CSP_CALLBACK_SECRETS names backend {name!r} twice")
        secrets[name] = secret.encode()
    return secrets


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The `X-Csp-Signature` value: HMAC-SHA256 over `<timestamp>.<raw body>`."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class SignedDelivery:
    backend: str
    delivery_id: str

    @property
    def update_id(self) -> str:
        """The Temporal update id: a redelivery of the same delivery has exactly one effect."""
        return f"{self.backend}:{self.delivery_id}"


@dataclass(frozen=True)
class SignatureCheck:
    secrets: Mapping[str, bytes]
    max_age: timedelta = timedelta(seconds=300)

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        decision: Decision,
        now: datetime,
    ) -> SignedDelivery:
        """Who signed this delivery, or the reason it is refused. Order: headers present and
        well-formed (400), backend known and signature valid (401), timestamp fresh (401),
        backend allowed for this decision (403)."""
        backend = headers.get(HEADER_BACKEND, "")
        timestamp = headers.get(HEADER_TIMESTAMP, "")
        signature = headers.get(HEADER_SIGNATURE, "")
        delivery_id = headers.get(HEADER_DELIVERY_ID, "")
        missing = [
            name
            for name, value in (
                (HEADER_BACKEND, backend),
                (HEADER_TIMESTAMP, timestamp),
                (HEADER_SIGNATURE, signature),
            )
            if not value
        ]
        if missing:
            raise SignatureMissing(f"missing header(s): {', '.join(missing)}")
        if not re.fullmatch(TIMESTAMP_PATTERN, timestamp):
            raise SignatureMissing(f"{HEADER_TIMESTAMP} is not a Unix time in seconds")
        if not re.fullmatch(SIGNATURE_PATTERN, signature):
            raise SignatureMissing(f"{HEADER_SIGNATURE} is not `sha256=<64 hex digits>`")
        if not re.fullmatch(DELIVERY_ID_PATTERN, delivery_id):
            raise DeliveryIdInvalid(
                f"{HEADER_DELIVERY_ID} is required: 1-128 letters, digits or . _ : -"
            )
        secret = self.secrets.get(backend)
        if secret is None:
            # Compare anyway so an unknown backend costs the same as a bad signature.
            hmac.compare_digest(signature, sign(b"-" * MIN_SECRET_LENGTH, timestamp, body))
            raise SignatureInvalid("unknown backend or bad signature")
        if not hmac.compare_digest(signature, sign(secret, timestamp, body)):
            raise SignatureInvalid("unknown backend or bad signature")
        age = now.timestamp() - int(timestamp)
        window = self.max_age.total_seconds()
        if abs(age) > window:
            raise SignatureStale(
                f"signature timestamp is {abs(int(age))} s "
                f"{'old' if age > 0 else 'in the future'}; the window is {int(window)} s "
                "(sign again with the current time)"
            )
        if backend not in decision.backends:
            allowed = ", ".join(sorted(decision.backends))
            raise BackendForbidden(
                f"backend {backend!r} may not report {decision.pipeline.name} {decision.name} "
                f"(allowed: {allowed})"
            )
        return SignedDelivery(backend=backend, delivery_id=delivery_id)
