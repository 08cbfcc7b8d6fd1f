"""The codec endpoint as the Temporal Cloud UI uses it, over a real socket: a CORS preflight from
https://cloud.temporal.io, then `POST /decode` with `Authorization: Bearer <JWT>` and
`X-Namespace` (the requests the UI sends, per Temporal's documentation "Codec Server" /
data-encryption: CORS for the UI origin, the user's access token passed as a bearer token).

The JWTs are signed here with keys generated here; the JWKS file has the RFC 7517 shape that
Temporal Cloud and other identity providers publish, saved to disk as the product reads it."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from google.protobuf import json_format
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr
from starlette.applications import Starlette
from temporalio.api.common.v1 import Payload, Payloads

from gateway.codec_endpoint import (
    CodecConfig,
    JwtCheck,
    codec_origins,
    codec_routes,
    jwt_check_from_settings,
    load_jwks,
)
from gateway.server import serve_asgi
from runtime.payload_codec import AesGcmPayloadCodec, new_payload_key, parse_payload_keys
from runtime.settings import Settings

CLOUD = "https://cloud.temporal.io"
LOCAL_UI = "http://127.0.0.1:8233"
OPERATOR = "ops@example.com"
ISSUER = "https://login.example.test/"
AUDIENCE = "csp-codec"
HS_SECRET = "shared-secret-of-an-own-identity-provider-0001"
SECRET_TEXT = b'"Contoso KK, contact hanako@contoso.example"'
CODEC = AesGcmPayloadCodec(parse_payload_keys(new_payload_key("k1")))


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


SIGNING_KEY = _rsa()
OTHER_KEY = _rsa()


def _jwks_file(tmp_path: Path) -> Path:
    jwk = json.loads(RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    jwk.update(kid="cloud-key-1", use="sig", alg="RS256")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk]}))
    return path


def _token(
    *,
    key: Any = SIGNING_KEY,
    algorithm: str = "RS256",
    kid: str | None = "cloud-key-1",
    **claims: Any,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {"sub": "user-123", "email": OPERATOR, "iss": ISSUER, "aud": AUDIENCE}
    body.update(iat=now, exp=now + 300)
    body.update(claims)
    headers = {"kid": kid} if kid else {}
    return jwt.encode(body, key, algorithm=algorithm, headers=headers)


@pytest.fixture
async def codec_url(tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(
        state_dir=tmp_path,
        codec_jwks_file=_jwks_file(tmp_path),
        codec_jwt_secret=SecretStr(HS_SECRET),
        codec_jwt_subjects=f"{OPERATOR}, robot-7",
        codec_jwt_issuer=ISSUER,
        codec_jwt_audience=AUDIENCE,
    )
    config = CodecConfig(
        codec=CODEC,
        tokens=["opaque-codec-token-0001"],
        ui_origins=codec_origins(settings),
        jwt_check=jwt_check_from_settings(settings),
        namespace="default",
    )
    async with serve_asgi(Starlette(routes=codec_routes(config))) as url:
        yield url


async def _encrypted_body() -> dict[str, Any]:
    [encrypted] = await CODEC.encode(
        [Payload(metadata={"encoding": b"json/plain"}, data=SECRET_TEXT)]
    )
    return json_format.MessageToDict(Payloads(payloads=[encrypted]))


def _cloud_headers(token: str, namespace: str = "default") -> dict[str, str]:
    return {
        "origin": CLOUD,
        "authorization": f"Bearer {token}",
        "x-namespace": namespace,
        "content-type": "application/json",
    }


async def test_cloud_ui_preflight_is_answered_for_its_origin_only(codec_url: str) -> None:
    asked = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,x-namespace",
    }
    async with httpx.AsyncClient(base_url=codec_url) as http:
        for path in ("/decode", "/encode"):
            allowed = await http.options(path, headers={"origin": CLOUD, **asked})
            assert allowed.status_code == 200, allowed.text
            assert allowed.headers["access-control-allow-origin"] == CLOUD
            assert allowed.headers["access-control-allow-credentials"] == "true"
            granted = allowed.headers["access-control-allow-headers"].lower()
            assert {"authorization", "content-type", "x-namespace"} <= {
                h.strip() for h in granted.split(",")
            }
            assert "POST" in allowed.headers["access-control-allow-methods"]
        local = await http.options("/decode", headers={"origin": LOCAL_UI, **asked})
        assert local.headers["access-control-allow-origin"] == LOCAL_UI
        stranger = await http.options(
            "/decode", headers={"origin": "https://evil.example", **asked}
        )
        assert stranger.status_code == 400
        assert "access-control-allow-origin" not in stranger.headers


async def test_cloud_ui_access_token_decodes(codec_url: str) -> None:
    body = await _encrypted_body()
    async with httpx.AsyncClient(base_url=codec_url) as http:
        for token in (
            _token(),  # RS256, key from the JWKS file, email listed
            _token(email=None, sub="robot-7"),  # the subject listed instead of the email
            _token(key=HS_SECRET, algorithm="HS256", kid=None),  # own identity provider
        ):
            decoded = await http.post("/decode", json=body, headers=_cloud_headers(token))
            assert decoded.status_code == 200, decoded.text
            assert decoded.headers["access-control-allow-origin"] == CLOUD
            [payload] = json_format.ParseDict(decoded.json(), Payloads()).payloads
            assert payload.data == SECRET_TEXT
        # The opaque codec token (CLI --codec-auth) still works alongside.
        opaque = await http.post(
            "/decode", json=body, headers=_cloud_headers("opaque-codec-token-0001")
        )
        assert opaque.status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_token(exp=int(time.time()) - 3600), id="expired"),
        pytest.param(_token(key=OTHER_KEY), id="signed-by-another-key"),
        pytest.param(_token(kid="unknown-key"), id="unknown-kid"),
        pytest.param(_token(email="intruder@example.com", sub="x"), id="subject-not-listed"),
        pytest.param(_token(iss="https://other-issuer.example/"), id="wrong-issuer"),
        pytest.param(_token(aud="another-api"), id="wrong-audience"),
        pytest.param(_token(exp=None), id="no-expiry"),
        pytest.param(
            _token(key="a-wrong-secret-of-thirty-two-bytes-0000", algorithm="HS256", kid=None),
            id="wrong-secret",
        ),
        pytest.param(
            jwt.encode({"sub": OPERATOR, "exp": int(time.time()) + 60}, "", algorithm="none"),
            id="alg-none",
        ),
        pytest.param("not.a.jwt", id="garbage"),
    ],
)
async def test_invalid_tokens_are_refused_and_decode_nothing(codec_url: str, token: str) -> None:
    body = await _encrypted_body()
    async with httpx.AsyncClient(base_url=codec_url) as http:
        refused = await http.post("/decode", json=body, headers=_cloud_headers(token))
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"]["type"] == "CodecUnauthorized"
    assert "Contoso" not in refused.text and "hanako" not in refused.text


async def test_another_namespace_is_refused(codec_url: str) -> None:
    body = await _encrypted_body()
    async with httpx.AsyncClient(base_url=codec_url) as http:
        refused = await http.post(
            "/decode", json=body, headers=_cloud_headers(_token(), namespace="someone-else")
        )
    assert refused.status_code == 403
    assert refused.json()["error"]["type"] == "CodecWrongNamespace"
    assert "Contoso" not in refused.text


def test_origins_and_jwt_settings(tmp_path: Path) -> None:
    default = Settings(state_dir=tmp_path)
    assert codec_origins(default) == [LOCAL_UI, CLOUD]
    assert jwt_check_from_settings(default) is None
    assert codec_origins(default.model_copy(update={"codec_cloud_origin": ""})) == [LOCAL_UI]
    unlisted = default.model_copy(update={"codec_jwt_secret": SecretStr(HS_SECRET)})
    with pytest.raises(ValueError, match="CSP_CODEC_JWT_SUBJECTS is required"):
        jwt_check_from_settings(unlisted)
    broken = tmp_path / "broken-jwks.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken-jwks\.json: not a readable JWKS"):
        load_jwks(broken)
    with pytest.raises(ValueError, match=r"needs CSP_CODEC_JWKS_FILE or CSP_CODEC_JWT_SECRET"):
        JwtCheck(subjects=frozenset({OPERATOR}))
