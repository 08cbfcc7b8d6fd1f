"""HMAC-signed, expiring verification tokens for email links (ENR-06).

A token names the workflow that awaits it, a token id and an expiry, signed with HMAC-SHA256.
Minting is deterministic for the same inputs, so an activity retried after a crash mails the same
link. Workflows keep only `token_digest(token)`; single use is enforced by the workflow.
Verification accepts any of several secrets so the signing key can be rotated.

Two formats. v1 (`v1.<claims>.<hmac>`, ~230 characters in a link) names the workflow in full. The
short format `<key>.<token id>.<expiry>.<hmac-128>` (about 45 characters) names the workflow by a
short key that contract/names.py maps to and from the workflow id (`mint_token(short_key=...)`,
`read_token(workflow_for_key=...)`); the HMAC covers the expanded workflow id, the token id and the
expiry, so the same single-use, expiry and rotation rules hold. Both formats are read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, ValidationError

from domain.calendar import show_instant
from domain.errors import TokenExpired, TokenInvalid

_VERSION = "v1"
_SHORT_PART = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_SHORT_MAC_BYTES = 16  # 128-bit truncated HMAC-SHA256 (RFC 2104 section 5 allows truncation)


def _no_keys(key: str) -> str | None:
    return None


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


def _short_signed(workflow_id: str, token_id: str, expires: int) -> str:
    return f"s1|{workflow_id}|{token_id}|{expires}"


def short_token_possible(short_key: str | None, token_id: str) -> bool:
    return (
        short_key is not None
        and _SHORT_PART.match(short_key) is not None
        and _SHORT_PART.match(token_id) is not None
    )


def mint_token(secret: bytes, claims: TokenClaims, *, short_key: str | None = None) -> str:
    """The token for `claims`; the short format when `short_key` (the workflow's short key) and
    the token id are plain words, else v1."""
    if short_key is not None and short_token_possible(short_key, claims.token_id):
        expires = int(claims.expires_at.timestamp())
        signed = _short_signed(claims.workflow_id, claims.token_id, expires)
        mac = _signature(secret, signed)[:_SHORT_MAC_BYTES]
        return f"{short_key}.{claims.token_id}.{_base36(expires)}.{_b64(mac)}"
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


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


def _read_short(
    secrets: Sequence[bytes], parts: list[str], workflow_for_key: Callable[[str], str | None]
) -> TokenClaims:
    key, token_id, expiry, mac_text = parts
    workflow_id = workflow_for_key(key)
    if workflow_id is None or not _SHORT_PART.match(token_id):
        raise TokenInvalid("the verification link is malformed")
    try:
        expires = int(expiry, 36)
        presented = _unb64(mac_text)
    except ValueError as err:
        raise TokenInvalid("the verification link is malformed") from err
    signed = _short_signed(workflow_id, token_id, expires)
    if len(presented) != _SHORT_MAC_BYTES or not any(
        hmac.compare_digest(_signature(s, signed)[:_SHORT_MAC_BYTES], presented) for s in secrets
    ):
        raise TokenInvalid("the verification link is not genuine")
    return TokenClaims(
        workflow_id=workflow_id,
        token_id=token_id,
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
    )


def read_token(
    secrets: Sequence[bytes],
    token: str,
    *,
    now: datetime,
    workflow_for_key: Callable[[str], str | None] = _no_keys,
) -> TokenClaims:
    """The claims of a genuine, unexpired token; `TokenInvalid` or `TokenExpired` otherwise.
    `workflow_for_key` expands the short format's workflow key (None: unknown key)."""
    parts = token.strip().split(".")
    if len(parts) == 4:
        claims = _read_short(secrets, parts, workflow_for_key)
        _check_expiry(claims, now)
        return claims
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
    _check_expiry(claims, now)
    return claims


def _check_expiry(claims: TokenClaims, now: datetime) -> None:
    if now >= claims.expires_at:
        raise TokenExpired(
            f"the verification link expired at {show_instant(claims.expires_at)}",
            expired_at=claims.expires_at,
        )
