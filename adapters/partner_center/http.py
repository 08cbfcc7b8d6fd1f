"""`PartnerCenterHttpClient`: the `PartnerCenter` interface over the Partner Center REST API and
Microsoft Graph, as Microsoft documents them (the fixtures in tests/fixtures/partner_center/ are
the published examples each operation is tested against; SOURCES.md names the documents).

Operations (Partner Center base `https://api.partnercenter.microsoft.com`, Graph
`https://graph.microsoft.com`):

- `get_mpn_profile`: `GET /v1/profiles/mpn?mpnId=<id>` -> `{"partnerName", "mpnId",
  "profileType", "links", "attributes"}` (`partnerName` optional; `partnerId` read only as a
  fallback for `mpnId`). 404 / code 3000 -> `PartnerIdNotFound`. The profile has no country; the
  country comes from a documented call about *that* partner: for the signed-in partner (the id
  `GET /v1/profiles/mpn` without `mpnId` answers) `GET /v1/profiles/legalbusiness?vettingVersion=
  Current` -> `address.country`; for any other partner its `location` on the signed-in partner's
  `GET /v1/relationships` lists (resellers, then providers). Not listed -> `country=None`.
- `agreement_status`: `GET /v1/compliance/csp/agreementstatus?mpnId=<id>` -> 200
  `{"isAgreementSigned": bool}`, or HTTP 400 with 2203/2206 (not signed), 2200 (unknown), 2204 (not
  an indirect reseller), 2201 (other CSP region), 2205 (no account): verdicts, not failures.
  2000/2001 (malformed id) -> `PartnerIdNotFound`.
- `get_tenant`: Graph `GET /v1.0/organization/{tenant}?$select=id,countryLetterCode,
  verifiedDomains`; 404 -> `TenantNotFound`.
- `is_global_admin`: Graph `GET /v1.0/directoryRoles/roleTemplateId=62e90394-.../members`
  (`userPrincipalName` compared case-insensitively; `@odata.nextLink` followed if ever present).
- `ensure_admin_agent`: Graph `GET /v1.0/groups?$filter=displayName eq 'AdminAgents'&$select=id`,
  `GET /v1.0/groups/{id}/members?$select=id` (paged), then `POST /v1.0/groups/{id}/members/$ref`
  `{"@odata.id": ".../directoryObjects/<id>"}` -> 204. Graph documents only the status of its
  "already a member" answer (400), not the body: after a 400 the members are listed again and the
  member being there counts as success.
- `list_relationships`: `GET /v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf`
  (or `IsIndirectResellerOf`) -> `{"totalCount", "items": [{"id", "name", "relationshipType":
  "is_indirect_cloud_solution_provider_of", "state", "mpnId", "location"}]}`; `links.next` followed.
- `get_customer_relationship_request`: `GET /v1/customers/relationshiprequests` -> `{"url"}`.
- `validate_resellers`: `POST /v1/partners/validateresellers` `{"partnerIds": [...]}` ->
  `{"validationResults": [{"partnerId", "isValidPartnerIdOnRecord", "errorCode"?,
  "errorDescription"?}]}` (`errorCode` is a number in the example).
- `place_order`: `POST /v1/customers/{id}/orders` `{"referenceCustomerId", "billingCycle",
  "lineItems": [{"lineItemNumber", "offerId", "quantity", "friendlyName", "partnerIdOnRecord"}]}`
  -> 201 `Order`. 800015 / 800016 / 800039 / 2072 -> `PorInvalid`, 900123 -> `MpaNotSigned`, 2030 ->
  `RegionMismatch`, 20002 -> `NoCommerceRelationship` (whatever the HTTP status: 800039, 900123,
  2030 and 20002 arrive as 403); 800060 (order in progress) -> `PartnerCenterUnavailable`.
- `create_customer` ("Create a customer for an indirect reseller"): `POST /v1/customers`
  `{"CompanyProfile": {"Domain"}, "BillingProfile": {..., "DefaultAddress"}, "AssociatedPartnerId"}`
  -> 201 `Customer`; no refusal codes documented (a 4xx is final).
- `set_subscription_support_contact`: `PUT /v1/customers/{id}/subscriptions/{id}/supportcontact`
  `{"SupportTenantId", "SupportMpnId", "Name"}` -> 200 `SupportContact`.
- `update_subscription_partner_of_record`: `GET /v1/customers/{id}/subscriptions/{id}`, then
  `PATCH` of the full resource with the new `partnerId` (that this changes the reseller of record
  is inferred) -> 200 resource, or 202 + `Location` (pending). 800098 / 2072 / 800015 / 800016 /
  800039 / 900123 -> `PorInvalid`; 20003 / 2011 / 800091 -> `SubscriptionNotChangeable`; 2055 /
  800082 / 900278 -> `PartnerCenterUnavailable`.
- `create_tenant`: no public API -> `PartnerCenterOperationUnsupported`.

Headers: `Authorization: Bearer`, `Accept: application/json`, `X-Locale: en-US`, `MS-CorrelationId`
(a new uuid4 per operation, shared by its requests, as headers.md asks it to be reset per call) and
`MS-RequestId`: a GUID; for a request that changes something (orders, customers, the subscription
PATCH, adding the Admin agent) it is
`uuid5(REQUEST_ID_NAMESPACE, idempotency key)`, so a retried step (activity retry included) sends
the same id; reads get a new uuid4. The same id is sent on every in-place retry of a request. Graph
requests also send it as `client-request-id`.

Errors: the error body is parsed first (Partner Center `{"code", "description", "data",
"source"}` with `code` a number or a string; the 429 body `{"statusCode", "message"}`; Graph
`{"error": {"code", "message"}}`), and the operation's documented codes are mapped before the HTTP
status. Then: 401 -> the token is refreshed once and the request repeated; a second 401 ->
`PartnerCenterAuthError`. 403 with an authorization code (2032, 900308, 900309, 900329, Graph
`Authorization_RequestDenied`...) -> `PartnerCenterAuthError`. 408 / 429 / 5xx / transport
errors -> retried in place, waiting `Retry-After` (seconds or HTTP date) or an exponential
backoff, while the wait fits both `max_retry_wait` and the running activity's own deadline; then
`PartnerCenterUnavailable` (carrying `retry_after`). Other answers -> `PartnerCenterRequestFailed`
naming operation, status, code and `MS-CorrelationId`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any
from uuid import UUID, uuid4, uuid5

import httpx
import structlog
from temporalio import activity

from adapters.partner_center import (
    ApiError,
    PartnerCenterAuthError,
    PartnerCenterOperationUnsupported,
    PartnerCenterRequestFailed,
    PartnerCenterUnavailable,
    signed_from_verdict,
)
from adapters.partner_center.auth import (
    GRAPH_RESOURCE,
    PARTNER_CENTER_RESOURCE,
    AccessTokens,
    StaticAccessToken,
    TokenAcquisitionFailed,
)
from domain.errors import (
    MpaNotSigned,
    NoCommerceRelationship,
    PartnerIdNotFound,
    PorInvalid,
    RegionMismatch,
    SubscriptionNotChangeable,
    TenantNotFound,
)
from domain.identifiers import TenantId
from domain.partner_center import (
    AGREEMENT_STATUS_ERROR_VERDICTS,
    ORDER_MPA_ERROR_CODE,
    ORDER_NO_RELATIONSHIP_ERROR_CODE,
    ORDER_POR_ERROR_CODES,
    ORDER_REGION_ERROR_CODE,
    ORDER_RETRYABLE_ERROR_CODES,
    SUBSCRIPTION_POR_ERROR_CODES,
    SUBSCRIPTION_RETRYABLE_ERROR_CODES,
    SUBSCRIPTION_STATE_ERROR_CODES,
    AgreementAnswer,
    AgreementVerdict,
    CreatedCustomer,
    MpnProfile,
    NewCustomer,
    OrderLine,
    OrderSubmission,
    PartnerRelationship,
    PlacedOrder,
    RelationshipType,
    ResellerValidation,
    SubscriptionPartnerOfRecord,
    SupportContact,
    TenantInfo,
)

__all__ = [
    "ADMIN_AGENTS_GROUP",
    "GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID",
    "REQUEST_ID_NAMESPACE",
    "ApiError",
    "PartnerCenterAuthError",
    "PartnerCenterHttpClient",
    "PartnerCenterOperationUnsupported",
    "PartnerCenterRequestFailed",
    "request_id_for",
]

GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID = "62e90394-69f5-4237-9190-012177145e10"
ADMIN_AGENTS_GROUP = "AdminAgents"

REQUEST_ID_NAMESPACE = UUID("6f1c2b7e-3d4a-5e8f-9a0b-1c2d3e4f5a6b")
"""Namespace of the `MS-RequestId` GUIDs derived from a step's idempotency key."""

AUTH_ERROR_CODES = frozenset(
    {
        "800001",  # Partner Token missing (401)
        "2032",  # Access denied
        "900308",  # Insufficient privileges
        "900309",  # Conditional Access
        "900329",  # This resource does not support application-only authentication
        "Authorization_RequestDenied",
        "Authorization_IdentityNotFound",
        "InvalidAuthenticationToken",
        "insufficient_claims",
        "accessDenied",
    }
)
"""Error codes meaning the credential lacks the right (not a business refusal)."""

RELATIONSHIP_TYPE_WIRE_VALUES = {
    "is_indirect_cloud_solution_provider_of": RelationshipType.INDIRECT_PROVIDER_OF,
    "is_indirect_reseller_of": RelationshipType.INDIRECT_RESELLER_OF,
    "isindirectcloudsolutionproviderof": RelationshipType.INDIRECT_PROVIDER_OF,
    "isindirectresellerof": RelationshipType.INDIRECT_RESELLER_OF,
}
"""`relationshipType` as answered (snake case), and the PascalCase query value, case-folded."""

_log = structlog.get_logger(__name__)

_CODE_IN_TEXT = re.compile(r'"code"\s*:\s*"?([A-Za-z0-9_]+)')
_DESCRIPTION_IN_TEXT = re.compile(r'"(?:description|message)"\s*:\s*"([^"\u201c\u201d]*)')


def request_id_for(idempotency_key: str) -> str:
    """The `MS-RequestId` GUID of the request a step with this idempotency key sends."""
    return str(uuid5(REQUEST_ID_NAMESPACE, idempotency_key))


@dataclass(frozen=True)
class _Call:
    """One operation: its name (for errors), audience, `MS-CorrelationId` and Graph tenant."""

    operation: str
    correlation_id: str
    tenant: TenantId | None = None

    @property
    def graph(self) -> bool:
        return self.tenant is not None


OnError = Callable[[ApiError], Exception | None]


class PartnerCenterHttpClient:
    """The `PartnerCenter` interface over HTTP. Close it with `aclose()` or `async with`."""

    def __init__(
        self,
        *,
        partner_center_tokens: AccessTokens | str,
        graph_tokens: AccessTokens | str | None = None,
        base_url: str = "https://api.partnercenter.microsoft.com",
        graph_url: str = "https://graph.microsoft.com",
        admin_agent_object_id: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 4,
        retry_backoff: float = 1.0,
        max_retry_wait: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._base = base_url.rstrip("/")
        self._graph = graph_url.rstrip("/")
        self._pc_tokens: AccessTokens = (
            StaticAccessToken(partner_center_tokens, audience=PARTNER_CENTER_RESOURCE)
            if isinstance(partner_center_tokens, str)
            else partner_center_tokens
        )
        self._graph_tokens: AccessTokens | None = (
            StaticAccessToken(graph_tokens, audience=GRAPH_RESOURCE)
            if isinstance(graph_tokens, str)
            else graph_tokens
        )
        self._admin_agent_object_id = admin_agent_object_id
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._max_retry_wait = max_retry_wait
        self._own_mpn_id: str | None = None
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), transport=transport)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> PartnerCenterHttpClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- profiles ----------------------------------------------------------------------------

    async def get_mpn_profile(self, partner_id: str) -> MpnProfile:
        pid = partner_id.strip()
        call = _call("get MPN profile")

        def not_found(error: ApiError) -> Exception | None:
            if error.code == "3000" or error.status == 404:
                return PartnerIdNotFound(
                    f"PartnerID {pid} was not found: {error.description}", partner_id=pid
                )
            return None

        profile = await self._get(
            call, f"{self._base}/v1/profiles/mpn", params={"mpnId": pid}, on_error=not_found
        )
        with _reading(call, "MPN profile"):
            if not isinstance(profile, dict):
                raise TypeError("the MPN profile is not an object")
            name = profile.get("partnerName")
        # The id verified is the one asked for ("the identifier is considered valid if the
        # request succeeds"); `mpnId` in the answer names the same partner.
        return MpnProfile(
            partner_id=pid,
            partner_name=str(name) if name else f"PartnerID {pid}",
            country=await self._partner_country(pid),
        )

    async def own_mpn_profile(self) -> MpnProfile:
        """`GET /v1/profiles/mpn` without `mpnId`: the signed-in partner's profile."""
        call = _call("get own MPN profile")
        profile = await self._get(call, f"{self._base}/v1/profiles/mpn")
        with _reading(call, "MPN profile"):
            mpn_id = str(profile.get("mpnId") or profile.get("partnerId"))
            name = profile.get("partnerName")
        self._own_mpn_id = mpn_id
        return MpnProfile(partner_id=mpn_id, partner_name=str(name or f"PartnerID {mpn_id}"))

    async def legal_business_profile(self) -> dict[str, Any]:
        """`GET /v1/profiles/legalbusiness?vettingVersion=Current`: the signed-in partner only."""
        call = _call("get legal business profile")
        answer = await self._get(
            call,
            f"{self._base}/v1/profiles/legalbusiness",
            params={"vettingVersion": "Current"},
        )
        with _reading(call, "legal business profile"):
            if not isinstance(answer, dict):
                raise TypeError("the legal business profile is not an object")
            return answer

    async def _partner_country(self, mpn_id: str) -> str | None:
        if self._own_mpn_id is None:
            await self.own_mpn_profile()
        if mpn_id == self._own_mpn_id:
            legal = await self.legal_business_profile()
            with _reading(_call("get legal business profile"), "legal business profile"):
                country = legal["address"]["country"]
                return str(country).upper() if country else None
        for relationship_type in RelationshipType:
            try:
                listed = await self.list_relationships(mpn_id, relationship_type)
            except PartnerCenterAuthError:
                raise
            except PartnerCenterRequestFailed as exc:
                # The list is only where a country may be found: a refusal leaves it unknown.
                _log.warning("partner_center.country_unknown", partner_id=mpn_id, reason=str(exc))
                continue
            for relationship in listed:
                if relationship.mpn_id == mpn_id and relationship.location:
                    return relationship.location.upper()
        return None

    # -- MPA status --------------------------------------------------------------------------

    async def agreement_status(self, partner_id: str) -> AgreementAnswer:
        pid = partner_id.strip()
        call = _call("get agreement status")

        def verdict(error: ApiError) -> Exception | None:
            if error.code in AGREEMENT_STATUS_ERROR_VERDICTS:
                return _Verdict(
                    AgreementAnswer(
                        partner_id=pid,
                        verdict=AGREEMENT_STATUS_ERROR_VERDICTS[error.code],
                        code=error.code,
                        description=error.description,
                    )
                )
            if error.code in {"2000", "2001"}:
                return PartnerIdNotFound(
                    f"PartnerID {pid!r} is not a valid PartnerID: {error.description} "
                    f"(agreement status error {error.code})",
                    partner_id=pid,
                )
            return None

        try:
            status = await self._get(
                call,
                f"{self._base}/v1/compliance/csp/agreementstatus",
                params={"mpnId": pid},
                on_error=verdict,
            )
        except _Verdict as answered:
            return answered.answer
        with _reading(call, "agreement status"):
            signed = status["isAgreementSigned"]
            if not isinstance(signed, bool):
                raise TypeError("isAgreementSigned is not a boolean")
        return AgreementAnswer(
            partner_id=pid,
            verdict=AgreementVerdict.SIGNED if signed else AgreementVerdict.NOT_SIGNED,
        )

    async def is_agreement_signed(self, partner_id: str) -> bool:
        return signed_from_verdict(await self.agreement_status(partner_id))

    # -- Graph -------------------------------------------------------------------------------

    async def get_tenant(self, tenant_id: TenantId) -> TenantInfo:
        call = _call("get organization", tenant=tenant_id)
        organization = await self._get(
            call,
            f"{self._graph}/v1.0/organization/{tenant_id}",
            params={"$select": "id,countryLetterCode,verifiedDomains"},
            on_error=_tenant_not_found(tenant_id),
        )
        with _reading(call, "organization"):
            domains = organization.get("verifiedDomains") or []
            default = next((d for d in domains if d.get("isDefault")), None) or domains[0]
            return TenantInfo(
                tenant_id=tenant_id,
                country=str(organization["countryLetterCode"]).upper(),
                default_domain=str(default["name"]),
            )

    async def is_global_admin(self, tenant_id: TenantId, user_principal_name: str) -> bool:
        call = _call("list Global administrators", tenant=tenant_id)
        members = await self._graph_collection(
            call,
            f"{self._graph}/v1.0/directoryRoles/roleTemplateId="
            f"{GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID}/members",
            params={},
            on_error=_tenant_not_found(tenant_id),
        )
        wanted = user_principal_name.strip().casefold()
        with _reading(call, "role members"):
            return any(
                str(member.get("userPrincipalName") or "").casefold() == wanted
                for member in members
            )

    async def create_tenant(
        self, *, domain_prefix: str, country: str, global_admin: str, idempotency_key: str
    ) -> TenantInfo:
        raise PartnerCenterOperationUnsupported(
            "Partner Center has no public API to create an Entra tenant for a partner's own "
            f"enrollment; create the tenant {domain_prefix}.onmicrosoft.com in the Partner Center "
            "UI and restart the enrollment with its tenant_id"
        )

    async def ensure_admin_agent(self, tenant_id: TenantId, *, idempotency_key: str) -> None:
        if self._admin_agent_object_id is None:
            raise PartnerCenterOperationUnsupported(
                "ensure_admin_agent needs admin_agent_object_id: the directory object id of the "
                "partner application to put in the AdminAgents group"
            )
        member_id = self._admin_agent_object_id
        call = _call("add Admin agent", tenant=tenant_id)
        on_error = _tenant_not_found(tenant_id)
        groups = await self._graph_collection(
            call,
            f"{self._graph}/v1.0/groups",
            params={"$filter": f"displayName eq '{ADMIN_AGENTS_GROUP}'", "$select": "id"},
            on_error=on_error,
        )
        if not groups:
            raise PartnerCenterRequestFailed(
                f"tenant {tenant_id} has no {ADMIN_AGENTS_GROUP} group; Partner Center creates it "
                "when the tenant becomes a partner account"
            )
        with _reading(call, "groups"):
            group_id = str(groups[0]["id"])
        if await self._is_member(call, group_id, member_id):
            return

        def maybe_member(error: ApiError) -> Exception | None:
            return _MaybeMember() if error.status == 400 else None

        try:
            await self._request(
                call,
                "POST",
                f"{self._graph}/v1.0/groups/{group_id}/members/$ref",
                json_body={"@odata.id": f"{self._graph}/v1.0/directoryObjects/{member_id}"},
                request_id=request_id_for(idempotency_key),
                on_error=maybe_member,
            )
        except _MaybeMember:
            # Graph answers 400 to a reference that already exists (its body is not documented):
            # the member being listed now is the documented way to tell.
            if not await self._is_member(call, group_id, member_id):
                raise PartnerCenterRequestFailed(
                    f"Graph refused to add {member_id} to {ADMIN_AGENTS_GROUP} in tenant "
                    f"{tenant_id} (400) and it is not a member "
                    f"[MS-CorrelationId={call.correlation_id}]"
                ) from None

    async def _is_member(self, call: _Call, group_id: str, member_id: str) -> bool:
        members = await self._graph_collection(
            call,
            f"{self._graph}/v1.0/groups/{group_id}/members",
            params={"$select": "id"},
            on_error=_tenant_not_found(TenantId(str(call.tenant))),
        )
        with _reading(call, "group members"):
            return any(member.get("id") == member_id for member in members)

    # -- relationships, POR, orders ----------------------------------------------------------

    async def list_relationships(
        self, partner_id: str, relationship_type: RelationshipType
    ) -> list[PartnerRelationship]:
        call = _call("list relationships")
        items = await self._pc_collection(
            call,
            f"{self._base}/v1/relationships",
            params={"relationship_type": relationship_type.value},
        )
        with _reading(call, "relationships"):
            return [
                PartnerRelationship(
                    partner_tenant_id=str(item.get("id") or ""),
                    name=str(item.get("name") or ""),
                    mpn_id=str(item["mpnId"]),
                    location=item.get("location") or None,
                    relationship_type=_relationship_type(
                        item.get("relationshipType"), relationship_type
                    ),
                    state=str(item.get("state") or ""),
                )
                for item in items
            ]

    async def get_customer_relationship_request(
        self, reseller_partner_id: str, provider_partner_id: str | None
    ) -> str:
        call = _call("get customer relationship request")
        answer = await self._get(call, f"{self._base}/v1/customers/relationshiprequests")
        with _reading(call, "relationship request"):
            url = answer["url"]
            if not isinstance(url, str) or not url.startswith("https://"):
                raise ValueError(f"url is not an https link: {url!r}")
            return url

    async def validate_resellers(self, partner_ids: Sequence[str]) -> list[ResellerValidation]:
        call = _call("validate resellers")
        answer = await self._request(
            call,
            "POST",
            f"{self._base}/v1/partners/validateresellers",
            json_body={"partnerIds": [pid.strip() for pid in partner_ids]},
        )
        with _reading(call, "reseller validation"):
            return [
                ResellerValidation(
                    partner_id=str(item["partnerId"]),
                    is_valid_partner_id_on_record=bool(item["isValidPartnerIdOnRecord"]),
                    error_code=None if item.get("errorCode") is None else str(item["errorCode"]),
                    error_description=item.get("errorDescription"),
                )
                for item in answer["validationResults"]
            ]

    async def place_order(self, order: OrderSubmission, *, idempotency_key: str) -> PlacedOrder:
        customer = str(order.customer_id)
        call = _call("create order")
        records = sorted(
            {li.partner_id_on_record for li in order.line_items if li.partner_id_on_record}
        )
        record = records[0] if records else None

        def refusal(error: ApiError) -> Exception | None:
            code = error.code or ""
            detail = f"(error {code}: {error.description})"
            if code in ORDER_POR_ERROR_CODES:
                return PorInvalid(
                    f"Partner Center refused the Partner of Record {', '.join(records)} {detail}",
                    partner_of_record=record,
                    partner_center_code=code,
                )
            if code == ORDER_MPA_ERROR_CODE:
                return MpaNotSigned(
                    f"the indirect reseller {record} has not accepted the MPA {detail}",
                    partner_id=record,
                    partner_center_code=code,
                )
            if code == ORDER_REGION_ERROR_CODE:
                return RegionMismatch(
                    f"the partner is not onboarded to sell in the country/region of customer "
                    f"{customer} {detail}",
                    customer_tenant_id=customer,
                    partner_center_code=code,
                )
            if code == ORDER_NO_RELATIONSHIP_ERROR_CODE:
                return NoCommerceRelationship(
                    f"no commerce relationship with customer {customer} {detail}",
                    customer_tenant_id=customer,
                    partner_center_code=code,
                )
            if code in ORDER_RETRYABLE_ERROR_CODES:
                return PartnerCenterUnavailable(str(error))
            return None

        body = {
            "referenceCustomerId": customer,
            "billingCycle": order.billing_cycle,
            "lineItems": [_line_item_body(line) for line in order.line_items],
        }
        answer = await self._request(
            call,
            "POST",
            f"{self._base}/v1/customers/{customer}/orders",
            json_body=body,
            request_id=request_id_for(idempotency_key),
            on_error=refusal,
        )
        with _reading(call, "order"):
            return PlacedOrder(
                order_id=str(answer["id"]),
                status=str(answer.get("status") or ""),
                customer_id=str(answer.get("referenceCustomerId") or customer),
                line_items=tuple(
                    OrderLine(
                        line_item_number=int(item["lineItemNumber"]),
                        offer_id=str(item["offerId"]),
                        quantity=int(item["quantity"]),
                        friendly_name=item.get("friendlyName"),
                        partner_id_on_record=item.get("partnerIdOnRecord"),
                    )
                    for item in answer.get("lineItems") or []
                ),
            )

    # -- provider operations for partnered resellers (REL-05, REL-06; issue 14) ---------------

    async def create_customer(
        self, customer: NewCustomer, *, idempotency_key: str
    ) -> CreatedCustomer:
        """ "Create a customer for an indirect reseller": `POST /v1/customers` with the documented
        request body (`CompanyProfile.Domain`, `BillingProfile` with its `DefaultAddress`,
        `AssociatedPartnerId` = the reseller's tenant id) -> 201 `Customer`. No refusal codes are
        documented for it: any 4xx is final (`PartnerCenterRequestFailed`)."""
        call = _call("create customer for indirect reseller")
        address = customer.address
        default_address = {
            "Country": address.country,
            "City": address.city,
            "State": address.state,
            "AddressLine1": address.address_line1,
            "PostalCode": address.postal_code,
            "FirstName": address.first_name,
            "LastName": address.last_name,
            "PhoneNumber": address.phone_number,
        }
        body = {
            "CompanyProfile": {"Domain": customer.domain},
            "BillingProfile": {
                "Email": customer.email,
                "Culture": customer.culture,
                "Language": customer.language,
                "CompanyName": customer.company_name,
                "DefaultAddress": {k: v for k, v in default_address.items() if v is not None},
            },
            "AssociatedPartnerId": customer.reseller_tenant_id,
        }
        answer = await self._request(
            call,
            "POST",
            f"{self._base}/v1/customers",
            json_body=body,
            request_id=request_id_for(idempotency_key),
        )
        with _reading(call, "customer"):
            profile = answer.get("companyProfile") or {}
            return CreatedCustomer(
                customer_id=str(answer["id"]),
                domain=str(profile.get("domain") or customer.domain),
                company_name=str(profile.get("companyName") or customer.company_name),
                associated_partner_id=answer.get("associatedPartnerId"),
            )

    async def set_subscription_support_contact(
        self,
        provider_partner_id: str,
        customer_id: TenantId,
        subscription_id: str,
        contact: SupportContact,
    ) -> SupportContact:
        """ "Update a subscription's support contact": `PUT /v1/customers/{id}/subscriptions/{id}/
        supportcontact` with the `SupportContact` resource (`SupportTenantId`, `SupportMpnId`,
        `Name`) -> 200 `SupportContact` (camelCase). A PUT of the same contact is idempotent."""
        call = _call("update subscription support contact")

        def refusal(error: ApiError) -> Exception | None:
            return _subscription_refusal(error, subscription_id, None)

        answer = await self._request(
            call,
            "PUT",
            f"{self._base}/v1/customers/{customer_id}/subscriptions/{subscription_id}"
            "/supportcontact",
            json_body={
                "SupportTenantId": contact.support_tenant_id,
                "SupportMpnId": contact.support_mpn_id,
                "Name": contact.name,
            },
            on_error=refusal,
        )
        with _reading(call, "support contact"):
            return SupportContact(
                support_tenant_id=str(answer["supportTenantId"]),
                support_mpn_id=str(answer["supportMpnId"]),
                name=str(answer.get("name") or contact.name),
            )

    async def update_subscription_partner_of_record(
        self,
        customer_id: TenantId,
        subscription_id: str,
        partner_id: str,
        *,
        idempotency_key: str,
    ) -> SubscriptionPartnerOfRecord:
        """GET the subscription, PATCH it back whole with the new `partnerId` ("A full
        Subscription resource is required": a partial body would switch auto-renew off and drop
        next-term instructions). 200 -> the updated subscription; 202 + `Location` (no body) ->
        Partner Center is still applying it (`pending`). That this PATCH changes the reseller of
        record is an inference (the page shows quantity and friendlyName changes only)."""
        call = _call("update subscription partner of record")
        url = f"{self._base}/v1/customers/{customer_id}/subscriptions/{subscription_id}"
        pid = partner_id.strip()

        def refusal(error: ApiError) -> Exception | None:
            return _subscription_refusal(error, subscription_id, pid)

        current = await self._get(call, url, on_error=refusal)
        with _reading(call, "subscription"):
            if not isinstance(current, dict):
                raise TypeError("the subscription is not an object")
            body = dict(current)
            body.pop("links", None)
            body.pop("Links", None)
            key = "PartnerId" if "PartnerId" in body else "partnerId"
            body[key] = pid
        answer = await self._request(
            call,
            "PATCH",
            url,
            json_body=body,
            request_id=request_id_for(idempotency_key),
            on_error=refusal,
        )
        source = answer if isinstance(answer, dict) else body
        with _reading(call, "subscription"):
            offer = source.get("offerId") or source.get("OfferId")
            partner = source.get("partnerId") or source.get("PartnerId")
            return SubscriptionPartnerOfRecord(
                customer_id=str(customer_id),
                subscription_id=subscription_id,
                offer_id=str(offer) if offer else None,
                partner_id=str(partner) if partner else None,
                status=str(source.get("status") or source.get("Status") or ""),
                pending=not isinstance(answer, dict),
            )

    # -- plumbing ----------------------------------------------------------------------------

    async def _get(
        self,
        call: _Call,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        on_error: OnError | None = None,
    ) -> Any:
        return await self._request(call, "GET", url, params=params, on_error=on_error)

    async def _pc_collection(
        self, call: _Call, url: str, *, params: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """A Partner Center collection's `items`, following `links.next` (its `uri`, `method` and
        `headers`, i.e. `MS-ContinuationToken`) until absent."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        next_params: Mapping[str, str] | None = params
        method = "GET"
        extra: dict[str, str] = {}
        while next_url is not None:
            page = await self._request(
                call, method, next_url, params=next_params, extra_headers=extra
            )
            with _reading(call, "collection page"):
                items.extend(page.get("items") or [])
                nxt = (page.get("links") or {}).get("next")
                if not nxt:
                    break
                next_url = self._pc_link(str(nxt["uri"]))
                method = str(nxt.get("method") or "GET").upper()
                extra = {str(h["key"]): str(h["value"]) for h in nxt.get("headers") or []}
                next_params = None
        return items

    def _pc_link(self, uri: str) -> str:
        """A `links.*.uri` as a URL: absolute ones must stay on Partner Center; relative ones may
        or may not carry the `/v1` prefix."""
        if uri.startswith(("https://", "http://")):
            if not uri.startswith(f"{self._base}/"):
                raise PartnerCenterRequestFailed(f"refusing to follow link {uri}")
            return uri
        path = uri if uri.startswith("/") else f"/{uri}"
        return f"{self._base}{path}" if path.startswith("/v1/") else f"{self._base}/v1{path}"

    async def _graph_collection(
        self, call: _Call, url: str, *, params: Mapping[str, str], on_error: OnError
    ) -> list[dict[str, Any]]:
        """A Graph collection's `value`, following `@odata.nextLink` (only back to Graph)."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        next_params: Mapping[str, str] | None = params
        while next_url is not None:
            page = await self._request(call, "GET", next_url, params=next_params, on_error=on_error)
            with _reading(call, "collection page"):
                items.extend(page["value"])
                next_url = page.get("@odata.nextLink")
            if next_url is not None and not next_url.startswith(f"{self._graph}/"):
                raise PartnerCenterRequestFailed(f"refusing to follow nextLink {next_url}")
            next_params = None
        return items

    async def _token(self, call: _Call) -> str:
        tokens = self._tokens(call)
        try:
            return await tokens.token(str(call.tenant) if call.graph else None)
        except TokenAcquisitionFailed as exc:
            raise PartnerCenterAuthError(
                f"{call.operation}: no {tokens.audience} token: {exc}"
            ) from exc

    def _tokens(self, call: _Call) -> AccessTokens:
        if call.graph:
            if self._graph_tokens is None:
                raise PartnerCenterOperationUnsupported(
                    f"{call.operation} calls Microsoft Graph, and no Graph credential is "
                    "configured: set CSP_ENTRA_TENANT_ID, CSP_ENTRA_CLIENT_ID and "
                    "CSP_ENTRA_CLIENT_SECRET (app-only Graph tokens from Entra ID), or a static "
                    "CSP_GRAPH_TOKEN"
                )
            return self._graph_tokens
        return self._pc_tokens

    async def _request(
        self,
        call: _Call,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        request_id: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        on_error: OnError | None = None,
    ) -> Any:
        """Send one request, retrying transient failures with the same ids; the JSON answer."""
        request_id = request_id or str(uuid4())
        headers = {
            "Accept": "application/json",
            "MS-RequestId": request_id,
            "MS-CorrelationId": call.correlation_id,
            **(extra_headers or {}),
        }
        if call.graph:
            headers["client-request-id"] = request_id
        else:
            headers["X-Locale"] = "en-US"
        path = httpx.URL(url).path
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            headers["Authorization"] = f"Bearer {await self._token(call)}"
            retry_after: float | None = None
            cause: Exception | None = None
            try:
                response = await self._client.request(
                    method, url, params=params, json=json_body, headers=headers
                )
            except httpx.TransportError as exc:
                cause = exc
                failure = PartnerCenterUnavailable(
                    f"{call.operation}: {method} {path} failed: {type(exc).__name__}: {exc} "
                    f"[MS-CorrelationId={call.correlation_id}, MS-RequestId={request_id}]"
                )
            else:
                if response.is_success:
                    return _json(response, call, method, path)
                error = _api_error(response, method, path, request_id, call.correlation_id)
                mapped = on_error(error) if on_error is not None else None
                if mapped is not None:
                    raise mapped
                status = response.status_code
                if status == 401 and not refreshed:
                    refreshed = True
                    attempt -= 1
                    self._tokens(call).invalidate(str(call.tenant) if call.graph else None)
                    continue
                if status == 401 or (status == 403 and _is_auth_code(error.code)):
                    audience = self._tokens(call).audience
                    raise PartnerCenterAuthError(
                        f"{call.operation}: the {audience} credential was refused: {error}", error
                    )
                if status not in _TRANSIENT_4XX and status < 500:
                    raise PartnerCenterRequestFailed(f"{call.operation}: {error}", error)
                retry_after = _retry_after(response)
                failure = PartnerCenterUnavailable(
                    f"{call.operation}: {error}", retry_after=retry_after
                )
            delay = (
                retry_after if retry_after is not None else self._retry_backoff * 2 ** (attempt - 1)
            )
            if attempt >= self._max_attempts or not self._may_wait(delay):
                raise failure from cause
            _log.info(
                "partner_center.retry",
                operation=call.operation,
                method=method,
                path=path,
                attempt=attempt,
                delay=delay,
                correlation_id=call.correlation_id,
                reason=str(failure),
            )
            await asyncio.sleep(delay)

    def _may_wait(self, delay: float) -> bool:
        """Whether waiting `delay` seconds in place fits `max_retry_wait` and, inside an activity,
        the attempt's start-to-close deadline (with a margin for the request itself)."""
        if delay > self._max_retry_wait:
            return False
        if not activity.in_activity():
            return True
        info = activity.info()
        timeout = info.start_to_close_timeout
        if timeout is None:
            return True
        started = info.current_attempt_scheduled_time.timestamp()
        remaining = started + timeout.total_seconds() - time.time()
        return bool(delay + (self._client.timeout.read or 0.0) < remaining)


class _Verdict(Exception):
    def __init__(self, answer: AgreementAnswer) -> None:
        super().__init__(answer.verdict.value)
        self.answer = answer


class _MaybeMember(Exception):
    """Graph answered 400 to adding a member: perhaps it already is one."""


_TRANSIENT_4XX = frozenset({408, 429})
"""The 4xx answers a repeat can cure. 408 Request Timeout (RFC 9110 section 15.5.9): the server did
not receive the complete request in the time it was prepared to wait, and the client MAY repeat
it; Partner Center lists 408 among its REST APIs' statuses (developer/error-codes.md). 429: the
documented throttling answer. Repeats send the same MS-RequestId, so a write is still one."""


def _call(operation: str, *, tenant: TenantId | None = None) -> _Call:
    return _Call(operation=operation, correlation_id=str(uuid4()), tenant=tenant)


def _is_auth_code(code: str | None) -> bool:
    return code is None or code in AUTH_ERROR_CODES


def _relationship_type(value: Any, asked: RelationshipType) -> RelationshipType:
    if value is None:
        return asked
    found = RELATIONSHIP_TYPE_WIRE_VALUES.get(str(value).casefold())
    if found is None:
        raise ValueError(f"unknown relationshipType {value!r}")
    return found


def _line_item_body(line: OrderLine) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lineItemNumber": line.line_item_number,
        "offerId": line.offer_id,
        "quantity": line.quantity,
    }
    if line.friendly_name is not None:
        body["friendlyName"] = line.friendly_name
    if line.partner_id_on_record is not None:
        body["partnerIdOnRecord"] = line.partner_id_on_record
    return body


def _tenant_not_found(tenant_id: TenantId) -> OnError:
    def mapping(error: ApiError) -> Exception | None:
        if error.status == 404:
            return TenantNotFound(
                f"tenant {tenant_id} was not found: {error.description}", tenant_id=str(tenant_id)
            )
        return None

    return mapping


def _subscription_refusal(
    error: ApiError, subscription_id: str, partner_id: str | None
) -> Exception | None:
    """A subscription update's documented refusals (error-codes.md) as domain errors."""
    code = error.code or ""
    if partner_id is not None and code in SUBSCRIPTION_POR_ERROR_CODES:
        return PorInvalid(
            f"Partner Center refused {partner_id} as the reseller of record of subscription "
            f"{subscription_id} (error {code}: {error.description})",
            partner_of_record=partner_id,
            partner_center_code=code,
        )
    if code in SUBSCRIPTION_STATE_ERROR_CODES:
        return SubscriptionNotChangeable(
            f"subscription {subscription_id} cannot be updated (error {code}: {error.description})",
            subscription_id=subscription_id,
            partner_center_code=code,
        )
    if code in SUBSCRIPTION_RETRYABLE_ERROR_CODES:
        return PartnerCenterUnavailable(str(error))
    return None


def _json(response: httpx.Response, call: _Call, method: str, path: str) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise PartnerCenterRequestFailed(
            f"{call.operation}: {method} {path} answered {response.status_code} with a body that "
            f"is not JSON [MS-CorrelationId={call.correlation_id}]"
        ) from exc


def _api_error(
    response: httpx.Response, method: str, path: str, request_id: str, correlation_id: str
) -> ApiError:
    code: Any = None
    description: Any = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        graph_error = body.get("error")
        if isinstance(graph_error, dict):
            code, description = graph_error.get("code"), graph_error.get("message")
        else:
            code = body.get("code")
            description = body.get("description") or body.get("message")
    elif body is None and response.content:
        # Not JSON (e.g. the published 2201 example closes its description with a typographic
        # quote): read the code and the description as far as they are legible.
        text = response.text
        found = _CODE_IN_TEXT.search(text)
        code = found.group(1) if found else None
        said = _DESCRIPTION_IN_TEXT.search(text)
        description = said.group(1).strip() if said else None
    if not description:
        description = response.text[:300].strip() or response.reason_phrase
    return ApiError(
        method=method,
        path=path,
        status=response.status_code,
        code=None if code is None or code == "" else str(code).strip(),
        description=str(description),
        request_id=request_id,
        correlation_id=response.headers.get("MS-CorrelationId") or correlation_id,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@contextlib.contextmanager
def _reading(call: _Call, what: str) -> Iterator[None]:
    """Turn an answer of an unexpected shape into `PartnerCenterRequestFailed`."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise PartnerCenterRequestFailed(
            f"{call.operation}: unexpected {what} answer: {exc!r} "
            f"[MS-CorrelationId={call.correlation_id}]"
        ) from exc
