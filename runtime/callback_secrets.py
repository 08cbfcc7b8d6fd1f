"""CSP_CALLBACK_SECRETS, the backends' shared secrets for signed callbacks (gateway/signatures.py):
read once by every process that loads the settings, so an unreadable value, or two backends with
one secret, stops the start naming the setting and the backends, never a secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping

BACKEND_NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
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
    distinct_secrets(secrets)
    return secrets


def distinct_secrets(secrets: Mapping[str, bytes]) -> None:
    """CallbackSecretsInvalid naming two backends with the same secret (never the secret). Two
    secrets are the same when they key the same HMAC (HMAC pads a short key with NUL bytes), so
    they are compared by what they sign."""
    seen: dict[bytes, str] = {}
    for name, secret in secrets.items():
        identity = hmac.new(secret, b"csp-callback-secret", hashlib.sha256).digest()
        if identity in seen:
            raise CallbackSecretsInvalid(
                f"CSP_CALLBACK_SECRETS: backends {seen[identity]!r} and {name!r} have the same "
                "secret; give each backend its own (X-Csp-Backend is authenticated only by its "
                "secret, so a delivery signed by one would be accepted as the other's)"
            )
        seen[identity] = name
