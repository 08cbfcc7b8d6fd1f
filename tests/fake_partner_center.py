"""A fake Partner Center + Microsoft Graph on a real socket, for adapter and activity tests.

    async with serve_fake_partner_center(data) as fake:
        client = PartnerCenterHttpClient(
            token_provider=PARTNER_TOKEN,
            graph_token_provider=graph_token_provider,  # "fake-graph-token:<tenant>"
            base_url=fake.base_url,
            graph_url=fake.base_url,
            admin_agent_object_id=ADMIN_AGENT_OBJECT_ID,
        )
        ...
        fake.requests  # every request received, with its headers

`data` has the format of `LocalPartnerCenter`'s file (see `adapters.partner_center.local`), plus an
optional `"legalBusiness"` object (the signed-in partner's legal business profile). The fake reads
and updates the dict in place, so a test may change it while the server runs. Answers use the real
shapes and error bodies: Partner Center `{"code", "description", ...}` (404 + 3000 for an unknown
MPN id, 400 + 2000/2001 from agreementstatus) and Graph `{"error": {"code", "message"}}`.

Like Graph, the fake knows the tenant of a Graph request from its token: `graph_token(tenant)`.
Partner Center requests must carry `PARTNER_TOKEN`. Anything else answers 401.
`fake.fail_next(path, 429, 503, ...)` makes the next requests to `path` answer those statuses
(429/503 with `Retry-After: 0`); `fake.reject_next(path, 400, 800060, "...")` makes the next one
answer a Partner Center error body with that code. `data` defaults to `sample_data()`.

Relationship endpoints answer as the signed-in partner `signed_in` (the sample's provider by
default), from the `relationships`, `indirectResellers`, `customers` and `orders` sections:
`GET /v1/relationships`, `GET /v1/customers/relationshiprequests`,
`POST /v1/partners/validateresellers` and `POST /v1/customers/{id}/orders` (400 with 800015 /
800016 / 800039 for an invalid `partnerIdOnRecord`, 20002 without a commerce relationship, 2030
for a customer in another country; a repeated `MS-RequestId` returns the same order).
"""

from __future__ import annotations

import contextlib
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from uuid import UUID, uuid4, uuid5

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.partner_center.local import sample_data
from gateway.server import serve_asgi

PARTNER_TOKEN = "fake-partner-center-token"

_SUBSCRIPTION_PATH = re.compile(r"/v1/customers/([^/]+)/subscriptions/([^/]+)(/supportcontact)?")
"""The bearer token the fake's Partner Center endpoints accept."""

ADMIN_AGENT_OBJECT_ID = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
"""The partner application's service principal; AdminAgents holds it when `adminAgent` is true."""

OTHER_ADMIN_AGENT_MEMBER = "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"
"""A user every tenant's AdminAgents group holds, so member lists are never trivially empty."""

_GRAPH_TOKEN_PREFIX = "fake-graph-token:"
_GROUP_NAMESPACE = UUID("1e5c3a7b-2d4f-4b6a-8e9c-0a1b2c3d4e5f")
_ROLE_MEMBERS = re.compile(r"^/v1\.0/directoryRoles\(roleTemplateId='([0-9a-fA-F-]+)'\)/members$")
_GROUP_MEMBERS = re.compile(r"^/v1\.0/groups/([0-9a-fA-F-]+)/members(/\$ref)?$")
_GLOBAL_ADMIN_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"
_ORDERS = re.compile(r"^/v1/customers/([0-9a-fA-F-]+)/orders$")


def graph_token(tenant_id: UUID | str) -> str:
    """The Graph bearer token the fake accepts for `tenant_id`."""
    return f"{_GRAPH_TOKEN_PREFIX}{tenant_id}"


async def graph_token_provider(tenant_id: UUID) -> str:
    """A `graph_token_provider` for `PartnerCenterHttpClient` pointed at the fake."""
    return graph_token(tenant_id)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-cased header names."""
    body: Any


@dataclass
class FakePartnerCenter:
    data: dict[str, Any]
    mpn_includes_country: bool = True
    """Whether `GET /v1/profiles/mpn` answers a `countryCode` (the real one does not)."""
    graph_page_size: int = 100
    stale_member_reads: bool = False
    subscription_patch_accepted: bool = False
    """Answer a subscription PATCH with 202 + Location and no body ("takes longer than the
    expected time"), applying the change anyway."""
    """Answer AdminAgents member reads from before any POST, like Graph's eventual consistency."""
    base_url: str = ""
    signed_in: str = "3456789"
    """The PartnerID of the signed-in partner (the relationships list and orders answer for it)."""
    requests: list[RecordedRequest] = field(default_factory=list)
    _failures: dict[str, deque[int | tuple[int, int, str]]] = field(default_factory=dict)
    _group_members: dict[UUID, list[dict[str, str]]] = field(default_factory=dict)
    _stale_members: dict[UUID, list[dict[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                Route(
                    "/{path:path}", self._handle, methods=["GET", "POST", "DELETE", "PATCH", "PUT"]
                )
            ]
        )

    def fail_next(self, path: str, *statuses: int) -> None:
        """Answer the next requests to `path` with these statuses, in order, then serve normally."""
        self._failures.setdefault(path, deque()).extend(statuses)

    def reject_next(self, path: str, status: int, code: int, description: str) -> None:
        """Answer the next request to `path` with a Partner Center error body of this code."""
        self._failures.setdefault(path, deque()).append((status, code, description))

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def admin_agents_group_id(self, tenant_id: UUID) -> str:
        return str(uuid5(_GROUP_NAMESPACE, str(tenant_id)))

    # -- dispatch ----------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = await request.json()
            except ValueError:
                body = raw.decode(errors="replace")
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        graph = path.startswith("/v1.0/")
        queued = self._failures.get(path)
        if queued:
            failure = queued.popleft()
            if isinstance(failure, tuple):
                return _pc_error(*failure)
            return _injected(failure, graph)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not graph:
            if token != PARTNER_TOKEN:
                return _unauthorized(graph=False)
            return self._partner_center(request, path, body)
        tenant = _tenant_of(token)
        if tenant is None:
            return _unauthorized(graph=True)
        return self._graph(request, path, tenant, body)

    def _partner_center(self, request: Request, path: str, body: Any) -> Response:
        query = request.query_params
        relationship = self._relationships(request, path, body)
        if relationship is not None:
            return relationship
        if request.method == "GET" and path == "/v1/profiles/mpn":
            pid = query.get("mpnId", "")
            profile = self.data.get("profiles", {}).get(pid)
            if profile is None:
                return _pc_error(404, 3000, f"Partner not found for MpnId {pid}")
            answer: dict[str, Any] = {
                "partnerId": pid,
                "partnerName": profile["partnerName"],
                "profileType": "MpnProfile",
                "links": {"self": {"uri": f"/profiles/mpn?mpnId={pid}", "method": "GET"}},
                "attributes": {"objectType": "MpnProfile"},
            }
            if self.mpn_includes_country:
                answer["countryCode"] = profile["country"]
            return JSONResponse(answer)
        if request.method == "GET" and path == "/v1/profiles/legalbusiness":
            legal = self.data.get("legalBusiness")
            if legal is None:
                return _pc_error(404, 600008, "Legal business profile not found")
            return JSONResponse(legal)
        if request.method == "GET" and path == "/v1/compliance/csp/agreementstatus":
            pid, tenant = query.get("mpnId", ""), query.get("tenantId", "")
            if pid and tenant:
                return _pc_error(400, 2000, "Both mpnId and tenantId cannot be provided")
            if not pid and not tenant:
                return _pc_error(400, 2001, "Either mpnId or tenantId must be provided")
            agreement = self.data.get("agreements", {}).get(pid)
            if agreement is None and pid not in self.data.get("profiles", {}):
                return _pc_error(400, 2000, f"Invalid MpnId {pid}")
            signed = bool((agreement or {}).get("isAgreementSigned", False))
            return JSONResponse({"isAgreementSigned": signed})
        provider_operation = self._provider_operations(request, path, body)
        if provider_operation is not None:
            return provider_operation
        return _pc_error(404, 404, f"No route for {request.method} {path}")

    # -- provider operations for partnered resellers (issue 14) -------------------------------
    # Shapes from Microsoft's pages "Create a customer for an indirect reseller", "Update a
    # subscription's support contact", "Update a subscription by ID" and error-codes.md.

    def _provider_operations(self, request: Request, path: str, body: Any) -> Response | None:
        if request.method == "POST" and path == "/v1/customers":
            return self._create_customer(request, body)
        found = _SUBSCRIPTION_PATH.fullmatch(path)
        if found is None:
            return None
        customer, subscription, contact = found.group(1), found.group(2), found.group(3)
        entry = self.data.get("subscriptions", {}).get(subscription)
        if entry is None or entry.get("customerId") != customer:
            return _pc_error(404, 20003, f"Subscription with ID {subscription} not found.")
        if contact:
            if request.method != "PUT" or not isinstance(body, dict):
                return _pc_error(405, 405, "Use PUT with a SupportContact")
            entry["supportContact"] = body
            return JSONResponse({**body, "attributes": {"objectType": "SupportContact"}})
        if request.method == "GET":
            return JSONResponse(self._subscription_resource(subscription, entry))
        if request.method != "PATCH" or not isinstance(body, dict):
            return _pc_error(405, 405, "Use GET or PATCH")
        if entry.get("status") == "deleted":
            return _pc_error(
                400,
                2011,
                f"Subscription with ID {subscription} and deleted status can't be updated.",
            )
        if entry.get("partnerOnRecordLocked"):
            return _pc_error(
                400, 800098, "Can't update the partner on record for this subscription"
            )
        partner = body.get("partnerId")
        if partner:
            check = self._validate(str(partner))
            if not check["isValidPartnerIdOnRecord"]:
                status = {800015: 404, 800016: 400, 800039: 403}.get(check["errorCode"], 400)
                return _pc_error(status, check["errorCode"], check["errorDescription"])
        entry["partnerId"] = partner
        entry["autoRenewEnabled"] = body.get("autoRenewEnabled", False)
        if self.subscription_patch_accepted:
            return Response(
                status_code=202,
                headers={"Location": f"/customers/{customer}/subscriptions/{subscription}"},
            )
        return JSONResponse(self._subscription_resource(subscription, entry))

    def _subscription_resource(self, subscription: str, entry: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": subscription,
            "offerId": entry.get("offerId"),
            "friendlyName": entry.get("friendlyName", "Microsoft 365 Business Basic"),
            "quantity": entry.get("quantity", 10),
            "unitType": "Licenses",
            "status": entry.get("status", "active"),
            "autoRenewEnabled": entry.get("autoRenewEnabled", True),
            "partnerId": entry.get("partnerId"),
            "billingCycle": "monthly",
            "links": {
                "self": {
                    "uri": f"/customers/{entry['customerId']}/subscriptions/{subscription}",
                    "method": "GET",
                    "headers": [],
                }
            },
            "attributes": {"etag": "eyJpZCI6IjEifQ==", "objectType": "Subscription"},
        }

    def _create_customer(self, request: Request, body: Any) -> Response:
        created: dict[str, Any] = self.data.setdefault("createdCustomersHttp", {})
        request_id = request.headers.get("ms-requestid", "")
        if request_id in created:
            return JSONResponse(created[request_id], status_code=201)
        if not isinstance(body, dict) or not body.get("companyProfile", {}).get("domain"):
            return _pc_error(400, 400, "companyProfile.domain is required")
        billing = body.get("billingProfile") or {}
        customer = str(uuid4())
        answer = {
            "id": customer,
            "commerceId": customer,
            "companyProfile": {
                "tenantId": customer,
                "domain": body["companyProfile"]["domain"],
                "companyName": billing.get("companyName"),
                "attributes": {"objectType": "CustomerCompanyProfile"},
            },
            "billingProfile": {**billing, "attributes": {"objectType": "CustomerBillingProfile"}},
            "relationshipToPartner": "reseller",
            "allowDelegatedAccess": True,
            "associatedPartnerId": body.get("associatedPartnerId"),
            "attributes": {"objectType": "Customer"},
        }
        created[request_id] = answer
        return JSONResponse(answer, status_code=201)

    # -- relationships, POR validation and orders (DOMAIN.md sections 3-5) --------------------

    def _relationships(self, request: Request, path: str, body: Any) -> Response | None:
        if request.method == "GET" and path == "/v1/relationships":
            kind = request.query_params.get("relationship_type", "")
            by_provider: dict[str, dict[str, Any]] = self.data.get("relationships", {})
            if kind == "IsIndirectCloudSolutionProviderOf":
                pairs = list((by_provider.get(self.signed_in) or {}).items())
            elif kind == "IsIndirectResellerOf":
                pairs = [
                    (provider, resellers[self.signed_in])
                    for provider, resellers in by_provider.items()
                    if self.signed_in in resellers
                ]
            else:
                return _pc_error(400, 400, f"Invalid relationship_type {kind!r}")
            items = [self._relationship_item(other, entry, kind) for other, entry in pairs]
            return JSONResponse(
                {
                    "totalCount": len(items),
                    "items": items,
                    "attributes": {"objectType": "Collection"},
                }
            )
        if request.method == "GET" and path == "/v1/customers/relationshiprequests":
            return JSONResponse(
                {
                    "url": "https://admin.microsoft.com/Adminportal/Home?invType="
                    f"ResellerRelationship&partnerId={self.signed_in}&msppId=0"
                    "#/BillingAccounts/partner-invitation",
                    "attributes": {"objectType": "RelationshipRequest"},
                }
            )
        if request.method == "POST" and path == "/v1/partners/validateresellers":
            ids = body.get("partnerIds") if isinstance(body, dict) else None
            if not isinstance(ids, list) or not ids:
                return _pc_error(400, 400, "partnerIds is required")
            return JSONResponse({"validationResults": [self._validate(str(pid)) for pid in ids]})
        order = _ORDERS.match(path)
        if request.method == "POST" and order:
            return self._order(request, order.group(1), body)
        return None

    def _relationship_item(self, other: str, entry: dict[str, Any], kind: str) -> dict[str, Any]:
        profile = self.data.get("profiles", {}).get(other, {})
        return {
            "id": profile.get("tenantId", str(uuid5(_GROUP_NAMESPACE, other))),
            "name": profile.get("partnerName", other),
            "relationshipType": kind,
            "state": entry.get("state", "Active"),
            "mpnId": other,
            "location": profile.get("country"),
            "attributes": {"objectType": "PartnerRelationship"},
        }

    def _validate(self, pid: str) -> dict[str, Any]:
        def result(code: int | None, description: str | None) -> dict[str, Any]:
            return {
                "partnerId": pid,
                "isValidPartnerIdOnRecord": code is None,
                "errorCode": code,
                "errorDescription": description,
            }

        if pid not in self.data.get("profiles", {}):
            return result(800015, "PartnerId not found")
        program = self.data.get("indirectResellers", {}).get(pid)
        if program is None:
            return result(800016, "Not a valid Indirect Reseller PartnerId")
        if str(program.get("programStatus", "Active")).lower() != "active":
            return result(800039, "Reseller program status is not active")
        return result(None, None)

    def _order(self, request: Request, customer: str, body: Any) -> Response:
        orders: dict[str, Any] = self.data.setdefault("orders", {})
        request_id = request.headers.get("ms-requestid", "")
        if request_id in orders:
            return JSONResponse(orders[request_id], status_code=201)
        if not isinstance(body, dict) or not body.get("lineItems"):
            return _pc_error(400, 400, "lineItems is required")
        entry = self.data.get("customers", {}).get(customer)
        if entry is None or self.signed_in not in entry.get("partners", []):
            return _pc_error(400, 20002, "No commerce relationship exists with the customer")
        profile = self.data.get("profiles", {}).get(self.signed_in, {})
        if profile.get("country") != entry.get("country"):
            return _pc_error(400, 2030, "Partner is not onboarded to sell in this country/region")
        for item in body["lineItems"]:
            por = item.get("partnerIdOnRecord")
            if por is None:
                continue
            check = self._validate(str(por))
            if not check["isValidPartnerIdOnRecord"]:
                return _pc_error(400, check["errorCode"], check["errorDescription"])
        placed = {
            "id": str(uuid4()),
            "referenceCustomerId": customer,
            "billingCycle": body.get("billingCycle", "monthly"),
            "lineItems": body["lineItems"],
            "status": "completed",
            "attributes": {"objectType": "Order"},
        }
        orders[request_id] = placed
        return JSONResponse(placed, status_code=201)

    def _graph(self, request: Request, path: str, tenant: UUID, body: Any) -> Response:
        entry = self._tenant(tenant)
        if request.method == "GET" and path == "/v1.0/organization":
            wanted = request.query_params.get("$filter", "")
            if entry is None or wanted.lower() != f"id eq '{tenant}'":
                return JSONResponse({"value": []})
            return JSONResponse(
                {
                    "value": [
                        {
                            "id": str(tenant),
                            "displayName": entry["defaultDomain"].split(".")[0],
                            "countryLetterCode": entry["country"],
                            "verifiedDomains": [
                                {
                                    "name": entry["defaultDomain"],
                                    "isDefault": True,
                                    "isInitial": True,
                                    "type": "Managed",
                                }
                            ],
                        }
                    ]
                }
            )
        if entry is None:
            return _graph_error(404, "Request_ResourceNotFound", f"Tenant {tenant} not found")
        role = _ROLE_MEMBERS.match(path)
        if request.method == "GET" and role:
            admins = (
                entry.get("globalAdmins", []) if role.group(1) == _GLOBAL_ADMIN_TEMPLATE else []
            )
            users = [
                {"@odata.type": "#microsoft.graph.user", "userPrincipalName": upn} for upn in admins
            ]
            return self._page(request, users)
        if request.method == "GET" and path == "/v1.0/groups":
            if request.query_params.get("$filter") != "displayName eq 'AdminAgents'":
                return JSONResponse({"value": []})
            group = {"id": self.admin_agents_group_id(tenant), "displayName": "AdminAgents"}
            return self._page(request, [group])
        members = _GROUP_MEMBERS.match(path)
        if members is None or members.group(1) != self.admin_agents_group_id(tenant):
            return _graph_error(404, "Request_ResourceNotFound", f"No resource at {path}")
        current = self._members(tenant, entry)
        if request.method == "GET" and members.group(2) is None:
            stale = self.stale_member_reads
            return self._page(request, self._stale_members[tenant] if stale else current)
        if request.method == "POST" and members.group(2) is not None:
            reference = body.get("@odata.id", "") if isinstance(body, dict) else ""
            object_id = reference.rsplit("/", 1)[-1]
            if not object_id:
                return _graph_error(400, "Request_BadRequest", "Missing @odata.id")
            if any(m["id"] == object_id for m in current):
                return _graph_error(
                    400,
                    "Request_BadRequest",
                    "One or more added object references already exist for the following "
                    "modified properties: 'members'.",
                )
            current.append({"@odata.type": "#microsoft.graph.servicePrincipal", "id": object_id})
            if object_id == ADMIN_AGENT_OBJECT_ID:
                entry["adminAgent"] = True
            return Response(status_code=204)
        return _graph_error(405, "Request_BadRequest", f"{request.method} not allowed on {path}")

    def _tenant(self, tenant: UUID) -> dict[str, Any] | None:
        for key, entry in self.data.get("tenants", {}).items():
            with contextlib.suppress(ValueError):
                if UUID(key) == tenant:
                    return entry  # type: ignore[no-any-return]
        return None

    def _members(self, tenant: UUID, entry: dict[str, Any]) -> list[dict[str, str]]:
        """The tenant's AdminAgents members (created on first use from `adminAgent`)."""
        if tenant not in self._group_members:
            members = [{"@odata.type": "#microsoft.graph.user", "id": OTHER_ADMIN_AGENT_MEMBER}]
            if entry.get("adminAgent"):
                service_principal = "#microsoft.graph.servicePrincipal"
                members.append({"@odata.type": service_principal, "id": ADMIN_AGENT_OBJECT_ID})
            self._group_members[tenant] = members
            self._stale_members[tenant] = list(members)
        return self._group_members[tenant]

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        """One page of a Graph collection, with `@odata.nextLink` when more remain."""
        skip = int(request.query_params.get("$skiptoken", "0"))
        answer: dict[str, Any] = {"value": items[skip : skip + self.graph_page_size]}
        if skip + self.graph_page_size < len(items):
            query = dict(request.query_params)
            query["$skiptoken"] = str(skip + self.graph_page_size)
            answer["@odata.nextLink"] = f"{self.base_url}{request.url.path}?{urlencode(query)}"
        return JSONResponse(answer)


def _tenant_of(token: str) -> UUID | None:
    if not token.startswith(_GRAPH_TOKEN_PREFIX):
        return None
    try:
        return UUID(token.removeprefix(_GRAPH_TOKEN_PREFIX))
    except ValueError:
        return None


def _pc_error(status: int, code: int, description: str) -> JSONResponse:
    return JSONResponse(
        {
            "code": code,
            "description": description,
            "data": [],
            "source": "PartnerFD",
            "isRetryable": status == 429 or status >= 500,
        },
        status_code=status,
    )


def _graph_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "innerError": {}}}, status_code=status
    )


def _unauthorized(*, graph: bool) -> Response:
    if graph:
        response: Response = _graph_error(
            401, "InvalidAuthenticationToken", "Access token validation failure."
        )
    else:
        response = Response(status_code=401)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _injected(status: int, graph: bool) -> Response:
    if status == 401:
        return _unauthorized(graph=graph)
    descriptions = {
        429: ("TooManyRequests", "Rate limit is exceeded. Try again later."),
        500: ("InternalServerError", "An internal server error occurred."),
        503: ("ServiceUnavailable", "The service is temporarily unavailable."),
    }
    name, text = descriptions.get(status, ("Error", f"Injected failure {status}"))
    response = _graph_error(status, name, text) if graph else _pc_error(status, status, text)
    if status in (429, 503):
        response.headers["Retry-After"] = "0"
    return response


@contextlib.asynccontextmanager
async def serve_fake_partner_center(
    data: dict[str, Any] | None = None,
    *,
    mpn_includes_country: bool = True,
    graph_page_size: int = 100,
) -> AsyncIterator[FakePartnerCenter]:
    """Serve a `FakePartnerCenter` on 127.0.0.1 (a free port) until the block exits.

    `data` defaults to `sample_data()`. The fake's `base_url` serves both Partner Center and Graph.
    """
    fake = FakePartnerCenter(
        data=sample_data() if data is None else data,
        mpn_includes_country=mpn_includes_country,
        graph_page_size=graph_page_size,
    )
    async with serve_asgi(fake.app) as url:
        fake.base_url = url
        yield fake
