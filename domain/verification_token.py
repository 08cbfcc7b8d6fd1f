"""HMAC-signed, expiring verification tokens for email links (ENR-06).

A token names the workflow that awaits it, a token id and an expiry, signed with HMAC-SHA256.
Minting is deterministic for the same inputs, so an activity retried after a crash mails the same
link. Workflows keep only `token_digest(token)`; single use is enforced by the workflow.
Verification accepts any of several secrets so the signing key can be rotated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from domain.calendar import show_instant
from domain.errors import TokenExpired, TokenInvalid

_VERSION = "v1"


class TokenClaims(BaseModel):
    model_config = ConfigDict(frozen=True)

    workflow_id: str
    token_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, signed.encode(), hashlib.sha256).digest()


def mint_token(secret: bytes, claims: TokenClaims) -> str:
    body = json.dumps(
        {"w": claims.workflow_id, "t": claims.token_id, "e": int(claims.expires_at.timestamp())},
        separators=(",", ":"),
        sort_keys=True,
    )
    signed = f"{_VERSION}.{_b64(body.encode())}"
    return f"{signed}.{_b64(_signature(secret, signed))}"


def token_digest(token: str) -> str:
    """What a workflow stores instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def read_token(secrets: Sequence[bytes], token: str, *, now: datetime) -> TokenClaims:
    """The claims of a genuine, unexpired token; `TokenInvalid` or `TokenExpired` otherwise."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise TokenInvalid("the verification link is malformed")
    signed = f"{parts[0]}.{parts[1]}"
    try:
        presented = _unb64(parts[2])
    except ValueError as err:
        raise TokenInvalid("the verification link is malformed") from err
    if not any(hmac.compare_digest(_signature(s, signed), presented) for s in secrets):
        raise TokenInvalid("the verification link is not genuine")
    try:
        body = json.loads(_unb64(parts[1]))
        claims = TokenClaims(
            workflow_id=body["w"],
            token_id=body["t"],
            expires_at=datetime.fromtimestamp(int(body["e"]), tz=UTC),
        )
    except (ValueError, KeyError, TypeError, ValidationError) as err:
        raise TokenInvalid("the verification link is malformed") from err
    if now >= claims.expires_at:
        raise TokenExpired(
            f"the verification link expired at {show_instant(claims.expires_at)}",
            expired_at=claims.expires_at,
        )
    return claims
