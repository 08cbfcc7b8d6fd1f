"""Access tokens for Partner Center and Microsoft Graph, one credential per audience.

Partner Center and Graph are different audiences and take different tokens. `MsalAccessTokens`
gets them from Microsoft Entra ID through MSAL:

- app-only (client credentials): scope `<resource>/.default`, e.g.
  `https://graph.microsoft.com/.default` (Graph's "Get access without a user") or
  `https://api.partnercenter.microsoft.com/.default` (the Partner Center resource id with the
  identity platform's `.default` suffix).
- app+user (Secure Application Model): a refresh token obtained once by an Admin agent's consent is
  redeemed for access tokens; scope `https://api.partnercenter.microsoft.com/user_impersonation`.
  Partner Center's MPN profile, agreementstatus, relationships, relationship request and
  indirect-reseller order pages say "App+User credentials only". When Entra ID rotates the refresh
  token the new one is kept (in memory).

A token is cached per tenant and replaced `refresh_margin` seconds before it expires; `invalidate`
drops it (the HTTP client calls it once after a 401). Tokens never reach logs: errors name the
audience, the tenant and Entra ID's error code and description only.

`StaticAccessToken` serves one fixed token (tests, or a token minted elsewhere); it cannot refresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import msal  # type: ignore[import-untyped]

PARTNER_CENTER_RESOURCE = "https://api.partnercenter.microsoft.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
PARTNER_CENTER_APP_SCOPE = f"{PARTNER_CENTER_RESOURCE}/.default"
PARTNER_CENTER_USER_SCOPE = f"{PARTNER_CENTER_RESOURCE}/user_impersonation"
GRAPH_APP_SCOPE = f"{GRAPH_RESOURCE}/.default"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"


class TokenAcquisitionFailed(Exception):
    """Entra ID refused to issue a token (bad secret, no consent, expired refresh token...)."""


class AccessTokens(Protocol):
    """Bearer tokens for one audience."""

    @property
    def audience(self) -> str: ...

    async def token(self, tenant: str | None = None) -> str:
        """A token valid for at least the refresh margin; `tenant` None means the home tenant."""
        ...

    def invalidate(self, tenant: str | None = None) -> None:
        """Forget the cached token, so that the next `token()` asks Entra ID again."""
        ...


class StaticAccessToken:
    """One fixed token for every tenant. It cannot be refreshed: `invalidate` does nothing."""

    def __init__(self, value: str, *, audience: str) -> None:
        self._value = value
        self._audience = audience

    @property
    def audience(self) -> str:
        return self._audience

    async def token(self, tenant: str | None = None) -> str:
        return self._value

    def invalidate(self, tenant: str | None = None) -> None:
        return None

    def __repr__(self) -> str:
        return f"StaticAccessToken(audience={self._audience!r})"


@dataclass(frozen=True)
class _Cached:
    value: str
    expires_at: float


class MsalAccessTokens:
    """Tokens for `scope` from Entra ID, app-only or (with `refresh_token`) app+user."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        scope: str,
        refresh_token: str | None = None,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        refresh_margin: float = 300.0,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._home_tenant = tenant_id
        self._client_id = client_id
        self._secret = client_secret
        self._scope = scope
        self._refresh_token = refresh_token
        self._authority_host = authority_host.rstrip("/")
        self._margin = refresh_margin
        self._http = http_client or httpx.Client(timeout=httpx.Timeout(30.0))
        self._clock = clock
        self._apps: dict[str, Any] = {}
        self._cache: dict[str, _Cached] = {}
        self._lock = asyncio.Lock()

    @property
    def audience(self) -> str:
        return self._scope.rsplit("/", 1)[0]

    @property
    def mode(self) -> str:
        return "app+user" if self._refresh_token else "app-only"

    def __repr__(self) -> str:
        return f"MsalAccessTokens(scope={self._scope!r}, mode={self.mode!r})"

    async def token(self, tenant: str | None = None) -> str:
        key = tenant or self._home_tenant
        async with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.expires_at - self._margin > self._clock():
                return cached.value
            fresh = await asyncio.to_thread(self._acquire, key)
            self._cache[key] = fresh
            return fresh.value

    def invalidate(self, tenant: str | None = None) -> None:
        self._cache.pop(tenant or self._home_tenant, None)

    def _app(self, tenant: str) -> Any:
        app = self._apps.get(tenant)
        if app is None:
            app = msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._secret,
                authority=f"{self._authority_host}/{tenant}",
                http_client=_MsalHttp(self._http),
                instance_discovery=False,
            )
            self._apps[tenant] = app
        return app

    def _acquire(self, tenant: str) -> _Cached:
        try:
            app = self._app(tenant)
            # This class decides when a token is due (ahead of expiry, or after a 401): drop the
            # access tokens MSAL cached itself, so that Entra ID issues a new one.
            cache = app.token_cache
            for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                cache.remove_at(entry)
            started = self._clock()
            if self._refresh_token:
                result = app.acquire_token_by_refresh_token(
                    self._refresh_token, scopes=[self._scope]
                )
            else:
                result = app.acquire_token_for_client(scopes=[self._scope])
        except (httpx.HTTPError, ValueError) as exc:
            raise TokenAcquisitionFailed(
                f"could not reach Entra ID for a {self.audience} token (tenant {tenant}): "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(result, Mapping) or "access_token" not in result:
            error = result.get("error") if isinstance(result, Mapping) else None
            description = result.get("error_description") if isinstance(result, Mapping) else None
            raise TokenAcquisitionFailed(
                f"Entra ID issued no {self.audience} token ({self.mode}, tenant {tenant}): "
                f"{error}: {description}"
            )
        if result.get("refresh_token"):
            self._refresh_token = str(result["refresh_token"])
        expires_in = float(result.get("expires_in") or 0)
        return _Cached(value=str(result["access_token"]), expires_at=started + expires_in)


class _MsalHttp:
    """The HTTP client MSAL expects (`get`/`post` returning status_code/text/headers), on httpx."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        **_: Any,
    ) -> httpx.Response:
        return self._client.get(url, params=params, headers=headers)

    def post(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        **_: Any,
    ) -> httpx.Response:
        return self._client.post(url, params=params, data=data, headers=headers)

    def close(self) -> None:
        self._client.close()
