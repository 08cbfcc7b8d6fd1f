"""Signed, expiring verification tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contract import names
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


# The short format names the workflow by its key (contract/names.py) instead of its id.
SHORT_WORKFLOW = names.email_verification_id(names.reseller_enrollment_id("1234567"))
SHORT_CLAIMS = CLAIMS.model_copy(update={"workflow_id": SHORT_WORKFLOW})


def _read_short(secrets: list[bytes], token: str, now: datetime = NOW) -> TokenClaims:
    return read_token(secrets, token, now=now, workflow_for_key=names.workflow_for_link_key)


def test_short_token_round_trip_and_length() -> None:
    key = names.verification_link_key(SHORT_WORKFLOW)
    assert key == "r1234567"
    token = mint_token(b"k1", SHORT_CLAIMS, short_key=key)
    assert token == mint_token(b"k1", SHORT_CLAIMS, short_key=key)
    assert token.startswith("r1234567.link-1.") and len(token) < 50, token
    assert _read_short([b"k1"], token) == SHORT_CLAIMS
    # The long format is still read (links mailed before the short format keep working).
    assert _read_short([b"k1"], mint_token(b"k1", SHORT_CLAIMS)) == SHORT_CLAIMS


def test_short_token_refuses_tampering_expiry_unknown_keys_and_rotated_out_secrets() -> None:
    token = mint_token(b"k1", SHORT_CLAIMS, short_key="r1234567")
    key, token_id, expiry, mac = token.split(".")
    later = f"{key}.{token_id}.{int(expiry, 36) + 86400:x}.{mac}"
    for forged in (
        f"r7654321.{token_id}.{expiry}.{mac}",  # another partner's workflow
        f"{key}.link-2.{expiry}.{mac}",  # another link
        later,  # a later expiry
        f"{key}.{token_id}.{expiry}.{mac[:-2]}",  # a shorter MAC
    ):
        with pytest.raises(TokenInvalid):
            _read_short([b"k1"], forged)
    with pytest.raises(TokenInvalid, match="malformed"):
        _read_short([b"k1"], f"x1234567.{token_id}.{expiry}.{mac}")  # no such key
    with pytest.raises(TokenInvalid, match="malformed"):
        read_token([b"k1"], token, now=NOW)  # a reader that knows no keys
    assert _read_short([b"k2", b"k1"], token) == SHORT_CLAIMS  # rotation
    with pytest.raises(TokenInvalid, match="not genuine"):
        _read_short([b"k2"], token)
    _read_short([b"k1"], token, now=SHORT_CLAIMS.expires_at - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        _read_short([b"k1"], token, now=SHORT_CLAIMS.expires_at)


def test_link_keys_only_for_reseller_enrollment_verifications() -> None:
    assert names.verification_link_key("wf-1") is None
    assert names.verification_link_key(names.reseller_enrollment_id("42")) is None
    assert names.workflow_for_link_key("r") is None
    assert names.workflow_for_link_key("r42") == SHORT_WORKFLOW.replace("1234567", "42")
    # Without a key the long format is minted.
    assert mint_token(b"k1", CLAIMS, short_key=None).startswith("v1.")
