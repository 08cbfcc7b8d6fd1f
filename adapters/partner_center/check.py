"""`csp partner-center check`: read-only calls with the configured credentials, one verdict each.

`check_partner_center` runs every read the product makes, with no effect anywhere, and returns per
operation OK or the exact failure, classified for an operator:

- `auth`: Entra ID issued no token, or the API refused it (401 after one refresh).
- `permission`: the token was accepted but lacks the right (403 with an authorization code, e.g.
  900329 "This resource does not support application-only authentication": configure the App+User
  refresh token).
- `network`: Partner Center / Graph / Entra ID could not be reached, or answered 408 / 429 / 5xx.
- `not configured`: a setting the operation needs is missing (e.g. no Graph credential).
- `error`: any other answer (status, code and `MS-CorrelationId` in the detail).
- `skipped`: the call needs the answer of one that failed (the own PartnerID).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from adapters.partner_center import (
    PartnerCenterAuthError,
    PartnerCenterOperationUnsupported,
    PartnerCenterRequestFailed,
    PartnerCenterUnavailable,
)
from adapters.partner_center.http import PartnerCenterHttpClient
from domain.errors import BusinessRuleViolation
from domain.identifiers import TenantId
from domain.partner_center import RelationshipType


@dataclass(frozen=True)
class CheckResult:
    operation: str
    ok: bool
    kind: str
    """"ok", "auth", "permission", "network", "not configured" or "error"."""
    detail: str

    def line(self) -> str:
        verdict = "OK" if self.ok else f"FAILED ({self.kind})"
        return f"{verdict:<26} {self.operation}: {self.detail}"


class _Skipped(Exception):
    """The check needs an earlier answer that failed."""


def classify(error: BaseException) -> str:
    """The operator's name for why a call failed."""
    if isinstance(error, _Skipped):
        return "skipped"
    if isinstance(error, PartnerCenterAuthError):
        status = error.error.status if error.error is not None else None
        return "permission" if status == 403 else "auth"
    if isinstance(error, PartnerCenterUnavailable):
        return "network"
    if isinstance(error, PartnerCenterOperationUnsupported):
        return "not configured"
    if isinstance(error, httpx.TransportError):
        return "network"
    return "error"


async def check_partner_center(
    client: PartnerCenterHttpClient, *, graph_tenant: TenantId | None
) -> list[CheckResult]:
    """Run the read-only operations; `graph_tenant` is the tenant whose organization Graph reads
    (the partner's own, from the settings), None to skip Graph."""
    results: list[CheckResult] = []
    own_id: list[str] = []

    async def own_profile() -> str:
        profile = await client.own_mpn_profile()
        own_id.append(profile.partner_id)
        return f"PartnerID {profile.partner_id} ({profile.partner_name})"

    async def legal_business() -> str:
        legal = await client.legal_business_profile()
        address = legal.get("address") or {}
        return (
            f"{legal.get('companyName')}, country {address.get('country')}, vetting status "
            f"{legal.get('vettingStatus')}"
        )

    async def relationships() -> str:
        listed = await client.list_relationships(
            own_id[0] if own_id else "", RelationshipType.INDIRECT_PROVIDER_OF
        )
        return f"{len(listed)} indirect reseller(s)"

    async def agreement() -> str:
        if not own_id:
            raise _Skipped("needs the own PartnerID, and GET /v1/profiles/mpn failed")
        answer = await client.agreement_status(own_id[0])
        code = f" ({answer.code})" if answer.code else ""
        return f"PartnerID {own_id[0]}: {answer.verdict.value}{code}"

    async def relationship_request() -> str:
        url = await client.get_customer_relationship_request("", None)
        return f"invitation link {url.split('?', 1)[0]}"

    async def organization() -> str:
        if graph_tenant is None:
            raise PartnerCenterOperationUnsupported("no tenant id (CSP_ENTRA_TENANT_ID)")
        tenant = await client.get_tenant(graph_tenant)
        return f"tenant {tenant.tenant_id}, country {tenant.country}, {tenant.default_domain}"

    steps: list[tuple[str, Callable[[], Awaitable[str]]]] = [
        ("Partner Center GET /v1/profiles/mpn", own_profile),
        ("Partner Center GET /v1/profiles/legalbusiness", legal_business),
        ("Partner Center GET /v1/relationships", relationships),
        ("Partner Center GET /v1/compliance/csp/agreementstatus", agreement),
        ("Partner Center GET /v1/customers/relationshiprequests", relationship_request),
        ("Graph GET /v1.0/organization/{tenant}", organization),
    ]
    for operation, step in steps:
        try:
            detail = await step()
        except (
            PartnerCenterRequestFailed,
            PartnerCenterUnavailable,
            PartnerCenterOperationUnsupported,
            BusinessRuleViolation,
            httpx.TransportError,
            _Skipped,
        ) as err:
            results.append(CheckResult(operation, False, classify(err), " ".join(str(err).split())))
        else:
            results.append(CheckResult(operation, True, "ok", detail))
    return results
