"""Tokens from Entra ID through MSAL (adapters/partner_center/auth.py), against a fake token
endpoint answering with Microsoft's documented token response
(fixtures auth.graph_client_credentials.token_response.json), and the settings that choose them."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from adapters.partner_center.auth import (
    GRAPH_APP_SCOPE,
    PARTNER_CENTER_APP_SCOPE,
    PARTNER_CENTER_USER_SCOPE,
    MsalAccessTokens,
    StaticAccessToken,
    TokenAcquisitionFailed,
)
from runtime.settings import Settings
from tests.fake_partner_center import fixture
from worker import access_tokens_from_settings

TENANT = "a2898e3a-06ca-454e-a0d0-c73b0ee36bba"
CUSTOMER_TENANT = "84841066-274d-4ec0-a5c1-276be684bdd3"
SECRET = "client-secret-value"
AUTHORITY = "https://login.microsoftonline.com"


class FakeEntra:
    """OpenID configuration and the v2.0 token endpoint of each tenant."""

    def __init__(self) -> None:
        self.token_requests: list[dict[str, str]] = []
        self.token_paths: list[str] = []
        self.refusal: dict[str, Any] | None = None
        self.expires_in = 3599
        self.rotate_refresh_token = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        tenant = path.strip("/").split("/")[0]
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            base = f"{AUTHORITY}/{tenant}"
            return httpx.Response(
                200,
                json={
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
                },
            )
        if path.endswith("/oauth2/v2.0/token"):
            form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
            self.token_requests.append(form)
            self.token_paths.append(path)
            if self.refusal is not None:
                return httpx.Response(400, json=self.refusal)
            body = fixture("auth.graph_client_credentials.token_response.json")
            body["access_token"] = f"token-{len(self.token_requests)}"
            body["expires_in"] = self.expires_in
            if form.get("grant_type") == "refresh_token":
                body["scope"] = form.get("scope", "")
                if self.rotate_refresh_token:
                    body["refresh_token"] = f"refresh-{len(self.token_requests)}"
            return httpx.Response(200, json=body)
        return httpx.Response(404)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def entra() -> FakeEntra:
    return FakeEntra()


def _tokens(entra: FakeEntra, clock: Clock, **overrides: Any) -> MsalAccessTokens:
    settings: dict[str, Any] = {
        "tenant_id": TENANT,
        "client_id": "11111111-aaaa-bbbb-cccc-222222222222",
        "client_secret": SECRET,
        "scope": GRAPH_APP_SCOPE,
        "http_client": httpx.Client(transport=httpx.MockTransport(entra.handle)),
        "clock": clock,
    }
    settings.update(overrides)
    return MsalAccessTokens(**settings)


async def test_app_only_token_is_cached_and_refreshed_before_expiry(entra: FakeEntra) -> None:
    clock = Clock()
    tokens = _tokens(entra, clock)
    assert await tokens.token() == "token-1"
    assert await tokens.token() == "token-1"
    [form] = entra.token_requests
    assert (form["grant_type"], form["scope"]) == ("client_credentials", GRAPH_APP_SCOPE)
    assert form["client_secret"] == SECRET
    clock.now += 3599 - 300 - 1  # still outside the 5-minute margin
    assert await tokens.token() == "token-1"
    clock.now += 2  # inside the margin: replaced ahead of expiry
    assert await tokens.token() == "token-2"
    assert tokens.audience == "https://graph.microsoft.com"


async def test_invalidate_forces_a_new_token(entra: FakeEntra) -> None:
    tokens = _tokens(entra, Clock())
    assert await tokens.token() == "token-1"
    tokens.invalidate()
    assert await tokens.token() == "token-2"
    assert len(entra.token_requests) == 2


async def test_one_token_per_tenant(entra: FakeEntra) -> None:
    tokens = _tokens(entra, Clock())
    assert await tokens.token() == "token-1"
    assert await tokens.token(CUSTOMER_TENANT) == "token-2"
    assert await tokens.token(CUSTOMER_TENANT) == "token-2"
    assert entra.token_paths == [
        f"/{TENANT}/oauth2/v2.0/token",
        f"/{CUSTOMER_TENANT}/oauth2/v2.0/token",
    ]


async def test_app_plus_user_redeems_the_refresh_token_and_keeps_a_rotated_one(
    entra: FakeEntra,
) -> None:
    entra.rotate_refresh_token = True
    tokens = _tokens(
        entra, Clock(), scope=PARTNER_CENTER_USER_SCOPE, refresh_token="consented-refresh-token"
    )
    assert tokens.mode == "app+user"
    assert await tokens.token() == "token-1"
    tokens.invalidate()
    assert await tokens.token() == "token-2"
    first, second = entra.token_requests
    assert first["grant_type"] == "refresh_token"
    assert first["refresh_token"] == "consented-refresh-token"
    assert PARTNER_CENTER_USER_SCOPE in first["scope"].split()
    assert second["refresh_token"] == "refresh-1"
    assert tokens.audience == "https://api.partnercenter.microsoft.com"


async def test_a_refusal_names_the_audience_and_error_but_no_secret(entra: FakeEntra) -> None:
    entra.refusal = {
        "error": "invalid_client",
        "error_description": "AADSTS7000215: Invalid client secret provided.",
    }
    tokens = _tokens(entra, Clock(), scope=PARTNER_CENTER_APP_SCOPE)
    with pytest.raises(TokenAcquisitionFailed) as refused:
        await tokens.token()
    message = str(refused.value)
    assert "https://api.partnercenter.microsoft.com" in message
    assert "invalid_client" in message
    assert SECRET not in message
    assert SECRET not in repr(tokens)


async def test_static_token() -> None:
    static = StaticAccessToken("abc", audience="https://graph.microsoft.com")
    static.invalidate()
    assert await static.token("any-tenant") == "abc"
    assert "abc" not in repr(static)


def test_settings_choose_one_credential_per_audience(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(f"{SECRET}\n")
    refresh_file = tmp_path / "refresh"
    refresh_file.write_text("consented-refresh-token\n")
    monkeypatch.setenv("CSP_ENTRA_CLIENT_SECRET_FILE", str(secret_file))
    monkeypatch.setenv("CSP_PARTNER_CENTER_REFRESH_TOKEN_FILE", str(refresh_file))
    settings = Settings(
        partner_center_mode="http",
        entra_tenant_id=TENANT,
        entra_client_id="11111111-aaaa-bbbb-cccc-222222222222",
    )
    assert settings.entra_secret == SECRET
    pc, graph = access_tokens_from_settings(settings)
    assert isinstance(pc, MsalAccessTokens) and isinstance(graph, MsalAccessTokens)
    assert (pc.mode, pc.audience) == ("app+user", "https://api.partnercenter.microsoft.com")
    assert (graph.mode, graph.audience) == ("app-only", "https://graph.microsoft.com")

    monkeypatch.delenv("CSP_ENTRA_CLIENT_SECRET_FILE")
    monkeypatch.delenv("CSP_PARTNER_CENTER_REFRESH_TOKEN_FILE")
    app_only = Settings(
        partner_center_mode="http",
        entra_tenant_id=TENANT,
        entra_client_id="11111111-aaaa-bbbb-cccc-222222222222",
        entra_client_secret=SecretStr(SECRET),
    )
    pc, _ = access_tokens_from_settings(app_only)
    assert isinstance(pc, MsalAccessTokens) and pc.mode == "app-only"

    with pytest.raises(ValueError, match="CSP_ENTRA_CLIENT_ID"):
        access_tokens_from_settings(Settings(partner_center_mode="http"))

    static = Settings(
        partner_center_mode="http",
        partner_center_token=SecretStr("pc"),
        graph_token=SecretStr("graph"),
    )
    pc, graph = access_tokens_from_settings(static)
    assert isinstance(pc, StaticAccessToken) and isinstance(graph, StaticAccessToken)
