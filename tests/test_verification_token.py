"""Signed, expiring verification tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import TokenExpired, TokenInvalid
from domain.verification_token import TokenClaims, mint_token, read_token, token_digest

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CLAIMS = TokenClaims(workflow_id="wf-1", token_id="link-1", expires_at=NOW + timedelta(days=30))


def test_round_trip_and_determinism() -> None:
    token = mint_token(b"k1", CLAIMS)
    assert token == mint_token(b"k1", CLAIMS)
    assert read_token([b"k1"], token, now=NOW) == CLAIMS
    assert token_digest(token) != token and len(token_digest(token)) == 64


def test_expiry_is_exclusive() -> None:
    token = mint_token(b"k1", CLAIMS)
    read_token([b"k1"], token, now=CLAIMS.expires_at - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        read_token([b"k1"], token, now=CLAIMS.expires_at)


def test_rotation_accepts_previous_key_and_refuses_unknown_keys() -> None:
    old = mint_token(b"old", CLAIMS)
    assert read_token([b"new", b"old"], old, now=NOW) == CLAIMS
    with pytest.raises(TokenInvalid, match="not genuine"):
        read_token([b"new"], old, now=NOW)


@pytest.mark.parametrize("mangle", ["body", "signature", "version", "garbage", "empty"])
def test_tampering_is_refused(mangle: str) -> None:
    token = mint_token(b"k1", CLAIMS)
    version, body, signature = token.split(".")
    other = mint_token(b"k1", CLAIMS.model_copy(update={"workflow_id": "wf-2"})).split(".")[1]
    tampered = {
        "body": f"{version}.{other}.{signature}",
        "signature": f"{version}.{body}.{signature[::-1]}",
        "version": f"v2.{body}.{signature}",
        "garbage": "v1.%%%.###",
        "empty": "",
    }[mangle]
    with pytest.raises(TokenInvalid):
        read_token([b"k1"], tampered, now=NOW)
