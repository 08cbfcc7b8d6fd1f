"""`PartnerCenterHttpClient`: the `PartnerCenter` interface over the public Partner Center REST API
and Microsoft Graph (DOMAIN.md, "Real interfaces").

Requests and the answers read from them:

- `get_mpn_profile`: `GET {base}/v1/profiles/mpn?mpnId=<id>` ->
  `{"partnerId", "partnerName", "profileType": "MpnProfile", ...}`. Partner Center's MPN profile
  carries no country; when the answer has no `countryCode` the country is read from the legal
  business profile, `GET {base}/v1/profiles/legalbusiness?vettingVersion=Current` ->
  `{"address": {"country": "JP", ...}, "vettingStatus": ...}`. 404 or error code 3000 ->
  `PartnerIdNotFound`.
- `is_agreement_signed`: `GET {base}/v1/compliance/csp/agreementstatus?mpnId=<id>` ->
  `{"isAgreementSigned": bool}`; 404 or error 2000/2001/3000 -> `PartnerIdNotFound`.
- `get_tenant`: Graph `GET {graph}/v1.0/organization?$filter=id eq '<tenant>'` ->
  `{"value": [{"id", "countryLetterCode", "verifiedDomains": [{"name", "isDefault"}]}]}`; an empty
  `value` or 404 -> `TenantNotFound`.
- `is_global_admin`: Graph `GET {graph}/v1.0/directoryRoles(roleTemplateId='62e90394-...')/members
  ?$select=userPrincipalName` (pages followed through `@odata.nextLink`), compared
  case-insensitively; 404 -> `TenantNotFound`.
- `ensure_admin_agent`: Graph `GET {graph}/v1.0/groups?$filter=displayName eq 'AdminAgents'`, then
  `GET {graph}/v1.0/groups/{id}/members?$select=id`; when `admin_agent_object_id` (the directory
  object id of the company's partner application / service principal) is not a member,
  `POST {graph}/v1.0/groups/{id}/members/$ref` with
  `{"@odata.id": "{graph}/v1.0/directoryObjects/<admin_agent_object_id>"}` and `MS-RequestId` set to
  the caller's idempotency key. Graph's "object references already exist" answer to that POST
  (a retry that raced a success) counts as success.
- `create_tenant`: there is no public API for it; it raises `PartnerCenterOperationUnsupported`.
  Tenant creation during enrollment is done in the Partner Center UI.
- `list_relationships`: `GET {base}/v1/relationships?relationship_type=<type>` ->
  `{"totalCount", "items": [{"id", "name", "relationshipType", "state", "mpnId", "location"}]}`,
  the signed-in partner's partnerships (the provider's resellers or the reseller's providers).
- `get_customer_relationship_request`: `GET {base}/v1/customers/relationshiprequests` ->
  `{"url"}`, the signed-in partner's personalised invitation link, returned unchanged.
- `validate_resellers`: `POST {base}/v1/partners/validateresellers` `{"partnerIds": [...]}` ->
  `{"validationResults": [{"partnerId", "isValidPartnerIdOnRecord", "errorCode",
  "errorDescription"}]}`.
- `place_order`: `POST {base}/v1/customers/{id}/orders` with `{"referenceCustomerId",
  "billingCycle", "lineItems": [{"lineItemNumber", "offerId", "quantity", "friendlyName",
  "partnerIdOnRecord"}]}` and `MS-RequestId` set to the caller's idempotency key -> the `Order`
  (`{"id", "status", "lineItems", ...}`). Error codes 800015 / 800016 / 800039 raise `PorInvalid`,
  2030 `RegionMismatch`, 20002 `NoCommerceRelationship` (none retried); 800060 (an order for the
  customer is in progress) raises `PartnerCenterUnavailable` at once so that the activity's retry
  policy backs off, as it does after 429 / 5xx answers exhaust the in-place retries.

Graph calls read the customer's tenant, so in production their token is issued for that tenant
(GDAP): `graph_token_provider` receives the tenant id. Without it Graph calls use `token_provider`.

Every request sends `Authorization: Bearer <token>`, `MS-RequestId` (one uuid4 per request, or the
caller's idempotency key for the request that changes something; the same value on every internal
retry) and `MS-CorrelationId` (one per logical call, shared by its requests, or the constructor's
`correlation_id`). Graph requests also send `client-request-id`.

Errors: 429, 5xx and transport failures are retried in place up to `max_attempts` (honouring
`Retry-After`), then raise `PartnerCenterUnavailable`, whose message names the status and the
`MS-CorrelationId`. 401/403 raise `PartnerCenterAuthError`; any other unexpected answer raises
`PartnerCenterRequestFailed`. Both are not worth retrying. Error bodies are parsed in both shapes,
Partner Center's `{"code": int, "description": str}` and Graph's `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any
from uuid import uuid4

import httpx
import structlog

from adapters.partner_center import (
    ApiError,
    PartnerCenterAuthError,
    PartnerCenterOperationUnsupported,
    PartnerCenterRequestFailed,
    PartnerCenterUnavailable,
)
from domain.errors import (
    NoCommerceRelationship,
    PartnerIdNotFound,
    PorInvalid,
    RegionMismatch,
    SubscriptionNotChangeable,
    TenantNotFound,
)
from domain.identifiers import TenantId
from domain.partner_center import (
    ORDER_NO_RELATIONSHIP_ERROR_CODE,
    ORDER_POR_ERROR_CODES,
    ORDER_REGION_ERROR_CODE,
    ORDER_RETRYABLE_ERROR_CODES,
    SUBSCRIPTION_POR_ERROR_CODES,
    SUBSCRIPTION_RETRYABLE_ERROR_CODES,
    SUBSCRIPTION_STATE_ERROR_CODES,
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
    "ApiError",
    "PartnerCenterAuthError",
    "PartnerCenterHttpClient",
    "PartnerCenterOperationUnsupported",
    "PartnerCenterRequestFailed",
]

GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID = "62e90394-69f5-4237-9190-012177145e10"
ADMIN_AGENTS_GROUP = "AdminAgents"

TokenProvider = Callable[[], Awaitable[str]]
GraphTokenProvider = Callable[[TenantId], Awaitable[str]]

_log = structlog.get_logger(__name__)


class _AlreadyMember(Exception):
    """Graph answered that the member reference already exists."""


class PartnerCenterHttpClient:
    """The `PartnerCenter` interface over HTTP. Close it with `aclose()` or `async with`."""

    def __init__(
        self,
        *,
        token_provider: TokenProvider | str,
        base_url: str = "https://api.partnercenter.microsoft.com",
        graph_url: str = "https://graph.microsoft.com",
        graph_token_provider: GraphTokenProvider | str | None = None,
        admin_agent_object_id: str | None = None,
        correlation_id: str | None = None,
        timeout: float = 30.0,
        max_attempts: int = 3,
        retry_backoff: float = 0.5,
        max_retry_delay: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._base = base_url.rstrip("/")
        self._graph = graph_url.rstrip("/")
        self._token_provider = token_provider
        self._graph_token_provider = graph_token_provider
        self._admin_agent_object_id = admin_agent_object_id
        self._correlation_id = correlation_id
        self._max_attempts = max_attempts
        self._retry_backoff = retry_backoff
        self._max_retry_delay = max_retry_delay
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

    # -- the PartnerCenter interface ---------------------------------------------------------

    async def get_mpn_profile(self, partner_id: str) -> MpnProfile:
        pid = partner_id.strip()
        correlation_id = self._new_correlation_id()

        def not_found(error: ApiError) -> Exception | None:
            if error.status == 404 or error.code == "3000":
                return PartnerIdNotFound(
                    f"PartnerID {pid} was not found: {error.description}", partner_id=pid
                )
            return None

        profile = await self._request(
            "GET",
            f"{self._base}/v1/profiles/mpn",
            params={"mpnId": pid},
            correlation_id=correlation_id,
            on_error=not_found,
        )
        with _reading("MPN profile"):
            country = profile.get("countryCode")
        if not country:
            legal = await self._request(
                "GET",
                f"{self._base}/v1/profiles/legalbusiness",
                params={"vettingVersion": "Current"},
                correlation_id=correlation_id,
            )
            with _reading("legal business profile"):
                country = legal["address"]["country"]
        with _reading("MPN profile"):
            return MpnProfile(
                partner_id=profile.get("partnerId") or pid,
                partner_name=profile["partnerName"],
                country=country,
            )

    async def is_agreement_signed(self, partner_id: str) -> bool:
        pid = partner_id.strip()

        def not_found(error: ApiError) -> Exception | None:
            if error.status == 404 or error.code in {"2000", "2001", "3000"}:
                return PartnerIdNotFound(
                    f"PartnerID {pid}: {error.description} (agreement status error {error.code})",
                    partner_id=pid,
                )
            return None

        status = await self._request(
            "GET",
            f"{self._base}/v1/compliance/csp/agreementstatus",
            params={"mpnId": pid},
            correlation_id=self._new_correlation_id(),
            on_error=not_found,
        )
        with _reading("agreement status"):
            signed = status["isAgreementSigned"]
            if not isinstance(signed, bool):
                raise TypeError("isAgreementSigned is not a boolean")
            return signed

    async def get_tenant(self, tenant_id: TenantId) -> TenantInfo:
        organizations = await self._request(
            "GET",
            f"{self._graph}/v1.0/organization",
            params={
                "$filter": f"id eq '{tenant_id}'",
                "$select": "id,countryLetterCode,verifiedDomains",
            },
            correlation_id=self._new_correlation_id(),
            tenant=tenant_id,
            on_error=_tenant_not_found(tenant_id),
        )
        with _reading("organization"):
            value = organizations["value"]
        if not value:
            raise TenantNotFound(f"tenant {tenant_id} was not found", tenant_id=str(tenant_id))
        with _reading("organization"):
            organization = value[0]
            domains = organization.get("verifiedDomains") or []
            default = next((d for d in domains if d.get("isDefault")), None)
            default = default or next((d for d in domains if d.get("isInitial")), None)
            if default is None:
                raise KeyError("verifiedDomains has no default domain")
            return TenantInfo(
                tenant_id=tenant_id,
                country=organization["countryLetterCode"],
                default_domain=default["name"],
            )

    async def is_global_admin(self, tenant_id: TenantId, user_principal_name: str) -> bool:
        members = await self._collection(
            f"{self._graph}/v1.0/directoryRoles(roleTemplateId="
            f"'{GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID}')/members",
            params={"$select": "userPrincipalName"},
            correlation_id=self._new_correlation_id(),
            tenant=tenant_id,
            on_error=_tenant_not_found(tenant_id),
        )
        wanted = user_principal_name.strip().casefold()
        with _reading("directory role members"):
            return any(
                str(member.get("userPrincipalName") or "").casefold() == wanted
                for member in members
            )

    async def create_tenant(
        self, *, domain_prefix: str, country: str, global_admin: str, idempotency_key: str
    ) -> TenantInfo:
        raise PartnerCenterOperationUnsupported(
            "tenant creation during enrollment is done in the Partner Center UI; create the "
            f"tenant {domain_prefix}.onmicrosoft.com there and restart the enrollment with its "
            "tenant_id"
        )

    async def ensure_admin_agent(self, tenant_id: TenantId, *, idempotency_key: str) -> None:
        if self._admin_agent_object_id is None:
            raise PartnerCenterOperationUnsupported(
                "ensure_admin_agent needs admin_agent_object_id: the directory object id of the "
                "partner application to put in the AdminAgents group"
            )
        member_id = self._admin_agent_object_id
        correlation_id = self._new_correlation_id()
        on_error = _tenant_not_found(tenant_id)
        groups = await self._collection(
            f"{self._graph}/v1.0/groups",
            params={"$filter": f"displayName eq '{ADMIN_AGENTS_GROUP}'", "$select": "id"},
            correlation_id=correlation_id,
            tenant=tenant_id,
            on_error=on_error,
        )
        if not groups:
            raise PartnerCenterRequestFailed(
                f"tenant {tenant_id} has no {ADMIN_AGENTS_GROUP} group; Partner Center creates it "
                "when the tenant becomes a partner account"
            )
        with _reading("groups"):
            group_id = str(groups[0]["id"])
        members = await self._collection(
            f"{self._graph}/v1.0/groups/{group_id}/members",
            params={"$select": "id"},
            correlation_id=correlation_id,
            tenant=tenant_id,
            on_error=on_error,
        )
        with _reading("group members"):
            if any(member.get("id") == member_id for member in members):
                return

        def already_member(error: ApiError) -> Exception | None:
            if error.status == 400 and "already exist" in error.description.lower():
                return _AlreadyMember()
            return None

        with contextlib.suppress(_AlreadyMember):
            await self._request(
                "POST",
                f"{self._graph}/v1.0/groups/{group_id}/members/$ref",
                json_body={"@odata.id": f"{self._graph}/v1.0/directoryObjects/{member_id}"},
                correlation_id=correlation_id,
                request_id=idempotency_key,
                tenant=tenant_id,
                on_error=already_member,
            )

    async def list_relationships(
        self, partner_id: str, relationship_type: RelationshipType
    ) -> list[PartnerRelationship]:
        answer = await self._request(
            "GET",
            f"{self._base}/v1/relationships",
            params={"relationship_type": relationship_type.value},
            correlation_id=self._new_correlation_id(),
        )
        with _reading("relationships"):
            return [
                PartnerRelationship(
                    partner_tenant_id=str(item.get("id") or ""),
                    name=str(item.get("name") or ""),
                    mpn_id=str(item["mpnId"]),
                    location=item.get("location"),
                    relationship_type=RelationshipType(
                        item.get("relationshipType") or relationship_type.value
                    ),
                    state=str(item.get("state") or ""),
                )
                for item in answer.get("items") or []
            ]

    async def get_customer_relationship_request(
        self, reseller_partner_id: str, provider_partner_id: str | None
    ) -> str:
        answer = await self._request(
            "GET",
            f"{self._base}/v1/customers/relationshiprequests",
            correlation_id=self._new_correlation_id(),
        )
        with _reading("relationship request"):
            url = answer["url"]
            if not isinstance(url, str) or not url.startswith("https://"):
                raise ValueError(f"url is not an https link: {url!r}")
            return url

    async def validate_resellers(self, partner_ids: Sequence[str]) -> list[ResellerValidation]:
        answer = await self._request(
            "POST",
            f"{self._base}/v1/partners/validateresellers",
            json_body={"partnerIds": [pid.strip() for pid in partner_ids]},
            correlation_id=self._new_correlation_id(),
        )
        with _reading("reseller validation"):
            results = [
                ResellerValidation(
                    partner_id=str(item["partnerId"]),
                    is_valid_partner_id_on_record=bool(item["isValidPartnerIdOnRecord"]),
                    error_code=None if item.get("errorCode") is None else str(item["errorCode"]),
                    error_description=item.get("errorDescription"),
                )
                for item in answer["validationResults"]
            ]
        return results

    async def place_order(self, order: OrderSubmission, *, idempotency_key: str) -> PlacedOrder:
        customer = str(order.customer_id)
        records = sorted(
            {li.partner_id_on_record for li in order.line_items if li.partner_id_on_record}
        )

        def refusal(error: ApiError) -> Exception | None:
            code = error.code or ""
            if code in ORDER_POR_ERROR_CODES:
                return PorInvalid(
                    f"Partner Center refused the Partner of Record {', '.join(records)} "
                    f"(error {code}: {error.description})",
                    partner_of_record=records[0] if records else None,
                    partner_center_code=code,
                )
            if code == ORDER_REGION_ERROR_CODE:
                return RegionMismatch(
                    f"the partner is not onboarded to sell in the country/region of customer "
                    f"{customer} (error {code}: {error.description})",
                    customer_tenant_id=customer,
                    partner_center_code=code,
                )
            if code == ORDER_NO_RELATIONSHIP_ERROR_CODE:
                return NoCommerceRelationship(
                    f"no commerce relationship with customer {customer} "
                    f"(error {code}: {error.description})",
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
            "POST",
            f"{self._base}/v1/customers/{customer}/orders",
            json_body=body,
            correlation_id=self._new_correlation_id(),
            request_id=idempotency_key,
            on_error=refusal,
        )
        with _reading("order"):
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
        """ "Create a customer for an indirect reseller": `POST /v1/customers` with
        `associatedPartnerId`. No refusal codes are documented for it: any 4xx is final."""
        address = customer.address
        default_address = {
            "country": address.country,
            "city": address.city,
            "state": address.state,
            "addressLine1": address.address_line1,
            "postalCode": address.postal_code,
            "firstName": address.first_name,
            "lastName": address.last_name,
            "phoneNumber": address.phone_number,
        }
        body = {
            "companyProfile": {"domain": customer.domain},
            "billingProfile": {
                "email": customer.email,
                "culture": customer.culture,
                "language": customer.language,
                "companyName": customer.company_name,
                "defaultAddress": {k: v for k, v in default_address.items() if v is not None},
            },
            "associatedPartnerId": customer.reseller_tenant_id,
        }
        answer = await self._request(
            "POST",
            f"{self._base}/v1/customers",
            json_body=body,
            correlation_id=self._new_correlation_id(),
            request_id=idempotency_key,
        )
        with _reading("customer"):
            profile = answer.get("companyProfile") or {}
            return CreatedCustomer(
                customer_id=answer["id"],
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
        """`PUT /v1/customers/{id}/subscriptions/{id}/supportcontact` (the signed-in provider)."""
        answer = await self._request(
            "PUT",
            f"{self._base}/v1/customers/{customer_id}/subscriptions/{subscription_id}"
            "/supportcontact",
            json_body={
                "supportTenantId": contact.support_tenant_id,
                "supportMpnId": contact.support_mpn_id,
                "name": contact.name,
            },
            correlation_id=self._new_correlation_id(),
            on_error=lambda error: _subscription_refusal(error, subscription_id, None),
        )
        with _reading("support contact"):
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
        next-term instructions). 202 + Location means Partner Center is still applying it."""
        url = f"{self._base}/v1/customers/{customer_id}/subscriptions/{subscription_id}"
        pid = partner_id.strip()

        def refusal(error: ApiError) -> Exception | None:
            return _subscription_refusal(error, subscription_id, pid)

        current = await self._request(
            "GET", url, correlation_id=self._new_correlation_id(), on_error=refusal
        )
        with _reading("subscription"):
            body = dict(current)
            body.pop("links", None)
            key = "PartnerId" if "PartnerId" in body else "partnerId"
            body[key] = pid
        answer = await self._request(
            "PATCH",
            url,
            json_body=body,
            correlation_id=self._new_correlation_id(),
            request_id=idempotency_key,
            on_error=refusal,
        )
        source = answer if isinstance(answer, dict) else body
        with _reading("subscription"):
            return SubscriptionPartnerOfRecord(
                customer_id=str(customer_id),
                subscription_id=subscription_id,
                offer_id=source.get("offerId") or source.get("OfferId"),
                partner_id=source.get("partnerId") or source.get("PartnerId"),
                status=str(source.get("status") or source.get("Status") or ""),
                pending=not isinstance(answer, dict),
            )

    # -- plumbing ----------------------------------------------------------------------------

    def _new_correlation_id(self) -> str:
        return self._correlation_id or str(uuid4())

    async def _token(self, tenant: TenantId | None) -> str:
        if tenant is not None and self._graph_token_provider is not None:
            graph = self._graph_token_provider
            return graph if isinstance(graph, str) else await graph(tenant)
        provider = self._token_provider
        return provider if isinstance(provider, str) else await provider()

    async def _collection(
        self,
        url: str,
        *,
        params: Mapping[str, str],
        correlation_id: str,
        tenant: TenantId,
        on_error: Callable[[ApiError], Exception | None],
    ) -> list[dict[str, Any]]:
        """A Graph collection's `value`, following `@odata.nextLink` (only back to Graph)."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        next_params: Mapping[str, str] | None = params
        while next_url is not None:
            page = await self._request(
                "GET",
                next_url,
                params=next_params,
                correlation_id=correlation_id,
                tenant=tenant,
                on_error=on_error,
            )
            with _reading("collection page"):
                items.extend(page["value"])
                next_url = page.get("@odata.nextLink")
            if next_url is not None and not next_url.startswith(f"{self._graph}/"):
                raise PartnerCenterRequestFailed(f"refusing to follow nextLink {next_url}")
            next_params = None
        return items

    async def _request(
        self,
        method: str,
        url: str,
        *,
        correlation_id: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        request_id: str | None = None,
        tenant: TenantId | None = None,
        on_error: Callable[[ApiError], Exception | None] | None = None,
    ) -> Any:
        """Send one request, retrying transient failures with the same ids; the JSON answer.

        `tenant` marks a Graph request (its token is for that tenant). `on_error` maps a business
        error answer to the exception to raise, or None when it is not one.
        """
        request_id = request_id or str(uuid4())
        headers = {
            "Accept": "application/json",
            "MS-RequestId": request_id,
            "MS-CorrelationId": correlation_id,
        }
        if tenant is not None:
            headers["client-request-id"] = request_id
        path = httpx.URL(url).path
        attempt = 0
        while True:
            attempt += 1
            headers["Authorization"] = f"Bearer {await self._token(tenant)}"
            retry_after: float | None = None
            cause: Exception | None = None
            try:
                response = await self._client.request(
                    method, url, params=params, json=json_body, headers=headers
                )
            except httpx.TransportError as exc:
                cause = exc
                failure = PartnerCenterUnavailable(
                    f"{method} {path} failed: {type(exc).__name__}: {exc} "
                    f"[MS-CorrelationId={correlation_id}, MS-RequestId={request_id}]"
                )
            else:
                if response.is_success:
                    return _json(response, method, path)
                error = _api_error(response, method, path, request_id, correlation_id)
                if response.status_code in (401, 403):
                    raise PartnerCenterAuthError(str(error), error)
                if response.status_code != 429 and response.status_code < 500:
                    mapped = on_error(error) if on_error is not None else None
                    raise mapped or PartnerCenterRequestFailed(str(error), error)
                failure = PartnerCenterUnavailable(str(error))
                retry_after = _retry_after(response)
            if attempt >= self._max_attempts:
                raise failure from cause
            delay = self._retry_backoff * 2 ** (attempt - 1) if retry_after is None else retry_after
            delay = min(delay, self._max_retry_delay)
            _log.info(
                "partner_center.retry",
                method=method,
                path=path,
                attempt=attempt,
                delay=delay,
                reason=str(failure),
            )
            await asyncio.sleep(delay)


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


def _tenant_not_found(tenant_id: TenantId) -> Callable[[ApiError], Exception | None]:
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


def _json(response: httpx.Response, method: str, path: str) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise PartnerCenterUnavailable(
            f"{method} {path} answered {response.status_code} with a body that is not JSON "
            f"[MS-CorrelationId={response.request.headers.get('MS-CorrelationId')}]"
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
            code, description = body.get("code"), body.get("description") or body.get("message")
    if not description:
        description = response.text[:300].strip() or response.reason_phrase
    return ApiError(
        method=method,
        path=path,
        status=response.status_code,
        code=None if code is None else str(code),
        description=str(description),
        request_id=request_id,
        correlation_id=correlation_id,
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to the backoff


@contextlib.contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turn an answer of an unexpected shape into `PartnerCenterRequestFailed`."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, IndexError, ValueError) as exc:
        raise PartnerCenterRequestFailed(f"unexpected {what} answer: {exc!r}") from exc
