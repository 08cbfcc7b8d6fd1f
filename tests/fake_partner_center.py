"""A fake Partner Center + Microsoft Graph built from Microsoft's documents, on a real socket.

It answers each documented method + path (+ query) with the documented example body from
tests/fixtures/partner_center/ (SOURCES.md names each document), and documented refusals with
documented error bodies. It knows nothing about the client under test.

    async with serve_documented_partner_center() as fake:
        client = PartnerCenterHttpClient(
            partner_center_tokens=PC_TOKEN, graph_tokens=GRAPH_TOKEN,
            base_url=fake.base_url, graph_url=fake.base_url,
        )
        fake.answer_error("GET", AGREEMENT_STATUS, fixture("agreement_status.error_2203_...json"),
                          status=400, query={"mpnId": "4847383"})
        fake.requests  # every request received, with its headers

Default answers (documented examples):

- `GET /v1/profiles/mpn[?mpnId=]` -> mpn_profile.success_200.json
- `GET /v1/profiles/legalbusiness` -> legal_business_profile.success_200.json
- `GET /v1/compliance/csp/agreementstatus` -> agreement_status.success_200.json; the documented
  input refusals are enforced: neither id 2001, both 2000, a non-numeric mpnId 2000, a non-GUID
  tenantId 2000 (each its published body).
- `GET /v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf` ->
  relationships.indirect_resellers.success_200.json; `IsIndirectResellerOf` -> an empty collection.
- `GET /v1/customers/relationshiprequests` -> relationship_request.success_200.json
- `POST /v1/partners/validateresellers` -> one `validationResults` item per requested partnerId
  ("returns validation results for each partner ID"), shaped as the documented example's items
  (validate_resellers.response_200.completed.json): the valid item's shape, or for an id in
  `invalid_resellers` the invalid item's shape with its errorCode and errorDescription. The
  example's own invalid id (234567, 900400) is invalid by default, so the documented request
  gets the documented answer.
- `POST /v1/customers/{id}/orders` -> 201 create_order.indirect_reseller.success_201.json
- `POST /v1/customers` (with `AssociatedPartnerId`) -> 201
  customer.create_for_indirect_reseller.success_201.json
- `GET /v1/customers/{id}/subscriptions/{id}` -> the subscription the fake holds (seeded with
  update_subscription.response_200.json under its customer `SUBSCRIPTION_CUSTOMER`), else the
  documented 20003; `PATCH` of it (a full resource) -> 200 and the resource as patched, or 202 +
  `Location` without a body when `subscription_patch_accepted`; deleted (2011) / suspended
  (800091) subscriptions are refused with their documented codes.
- `PUT /v1/customers/{id}/subscriptions/{id}/supportcontact` -> 200
  subscription_support_contact.success_200.json carrying the contact sent.
- Graph `GET /v1.0/organization/{id}` -> graph.organization_get.success_200.json;
  `GET /v1.0/directoryRoles/roleTemplateId={id}/members` ->
  graph.directoryrole_members_by_templateid.success_200.json; `GET /v1.0/groups` ->
  graph.groups_list_filtered_select.success_200.json; `GET /v1.0/groups/{id}/members` -> the
  members the fake holds; `POST /v1.0/groups/{id}/members/$ref` -> 204, or 400 when already one.

Every request must carry `Authorization: Bearer` with a token of the right audience
(`pc_tokens` for `/v1/...`, `graph_tokens` for `/v1.0/...`; else 401) and, for Partner Center,
GUID `MS-RequestId` / `MS-CorrelationId` headers (else 400). `answer(...)` queues answers for a
route (optionally only for a query), once each by default; `page_size` splits Partner Center and
Graph collections into pages linked by `links.next` + `MS-ContinuationToken` / `@odata.nextLink`.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.partner_center.http import PartnerCenterHttpClient
from gateway.server import serve_asgi

FIXTURES = Path(__file__).parent / "fixtures" / "partner_center"

PC_TOKEN = "pc-access-token"
GRAPH_TOKEN = "graph-access-token"

MPN_PROFILE = "/v1/profiles/mpn"
LEGAL_BUSINESS = "/v1/profiles/legalbusiness"
AGREEMENT_STATUS = "/v1/compliance/csp/agreementstatus"
RELATIONSHIPS = "/v1/relationships"
RELATIONSHIP_REQUESTS = "/v1/customers/relationshiprequests"
VALIDATE_RESELLERS = "/v1/partners/validateresellers"
ORDERS = r"/v1/customers/(?P<customer>[0-9a-fA-F-]{36})/orders"
CUSTOMERS = "/v1/customers"
SUBSCRIPTION = (
    r"/v1/customers/(?P<customer>[0-9a-fA-F-]{36})/subscriptions/(?P<subscription>[0-9a-fA-F-]{36})"
)
SUPPORT_CONTACT = SUBSCRIPTION + "/supportcontact"
SUBSCRIPTION_CUSTOMER = "0c39d6d5-c70d-4c55-bc02-f620844f3fd1"
"""The customer the documented subscription is seeded under (the customer id of the published
support-contact example; the "Update a subscription by ID" page shows a placeholder)."""
ORGANIZATION = r"/v1\.0/organization/(?P<tenant>[0-9a-fA-F-]{36})"
ROLE_MEMBERS = r"/v1\.0/directoryRoles/roleTemplateId=(?P<template>[0-9a-fA-F-]{36})/members"
GROUPS = r"/v1\.0/groups"
GROUP_MEMBERS = r"/v1\.0/groups/(?P<group>[0-9a-fA-F-]{36})/members"
GROUP_MEMBER_REF = r"/v1\.0/groups/(?P<group>[0-9a-fA-F-]{36})/members/\$ref"


def fixture(name: str) -> Any:
    """A documented example body (a fresh copy)."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def fixture_text(name: str) -> str:
    """A documented example exactly as published (some are not valid JSON)."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def documented_error(code: int) -> tuple[int, dict[str, Any]]:
    """The HTTP status and error body of a Partner Center error code from the error-code table
    (error_codes.table.json: status and description verbatim; body schema documented)."""
    row = fixture("error_codes.table.json")[str(code)]
    body = {"code": code, "description": row["description"], "data": [], "source": "PartnerFD"}
    return int(row["status"]), body


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-cased header names."""
    body: Any


@dataclass
class Answer:
    status: int
    body: Any = None
    """A JSON value, or a `str` sent as it is (a published example that is not valid JSON)."""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Queued:
    method: str
    pattern: re.Pattern[str]
    query: dict[str, str]
    answers: deque[Answer]
    forever: Answer | None


_EMPTY_PC_COLLECTION = {"totalCount": 0, "items": [], "attributes": {"objectType": "Collection"}}


def _is_guid(value: str | None) -> bool:
    if not value:
        return False
    try:
        UUID(value)
    except ValueError:
        return False
    return bool(re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value))


@dataclass
class DocumentedPartnerCenter:
    base_url: str = ""
    pc_tokens: set[str] = field(default_factory=lambda: {PC_TOKEN})
    graph_tokens: set[str] = field(default_factory=lambda: {GRAPH_TOKEN})
    page_size: int | None = None
    """Split collections into pages of this many items (None: one page)."""
    group_members: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    subscriptions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    """(customer id, subscription id) lower-cased -> the Subscription resource the fake holds."""
    support_contacts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    invalid_resellers: dict[str, tuple[int, str]] = field(default_factory=dict)
    """partnerId -> (errorCode, errorDescription) `validateresellers` answers as not valid; the
    documented example's invalid items are added at start."""
    subscription_patch_accepted: bool = False
    """Answer a subscription PATCH with 202 + `Location` and no body ("takes longer than the
    expected time"), applying it anyway."""
    requests: list[RecordedRequest] = field(default_factory=list)
    _queued: list[_Queued] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[Route("/{path:path}", self._handle, methods=["GET", "POST", "PATCH", "PUT"])]
        )
        for item in fixture("validate_resellers.response_200.completed.json")["validationResults"]:
            if not item["isValidPartnerIdOnRecord"]:
                self.invalid_resellers.setdefault(
                    item["partnerId"], (item["errorCode"], item["errorDescription"])
                )
        documented = fixture("update_subscription.response_200.json")
        self.subscriptions[(SUBSCRIPTION_CUSTOMER, documented["Id"].lower())] = documented

    def invalidate_reseller(self, partner_id: str, code: int) -> None:
        """`validateresellers` answers `partner_id` as not valid with the error-code table's
        description of `code` (error_codes.table.json, e.g. 800015 / 800016 / 800039)."""
        self.invalid_resellers[partner_id] = (
            code,
            fixture("error_codes.table.json")[str(code)]["description"],
        )

    def _validate_resellers(self, partner_ids: list[Any]) -> Response:
        """One documented-shape item per requested partnerId, in the request's order."""
        documented = fixture("validate_resellers.response_200.completed.json")["validationResults"]
        valid_shape = next(i for i in documented if i["isValidPartnerIdOnRecord"])
        invalid_shape = next(i for i in documented if not i["isValidPartnerIdOnRecord"])
        results = []
        for pid in partner_ids:
            if not isinstance(pid, str):
                return JSONResponse({"code": 400, "description": "partnerIds"}, 400)
            refusal = self.invalid_resellers.get(pid)
            if refusal is None:
                results.append({**valid_shape, "partnerId": pid})
            else:
                code, description = refusal
                results.append(
                    {
                        **invalid_shape,
                        "partnerId": pid,
                        "errorCode": code,
                        "errorDescription": description,
                    }
                )
        return JSONResponse({"validationResults": results})

    def add_subscription(self, customer: str, subscription: dict[str, Any]) -> None:
        """Hold another Subscription resource (e.g. a copy of the documented one with another
        `Id`, `Status` or `PartnerId`)."""
        sid = subscription.get("Id") or subscription.get("id")
        self.subscriptions[(customer.lower(), str(sid).lower())] = subscription

    # -- test controls -----------------------------------------------------------------------

    def answer(
        self,
        method: str,
        path: str,
        *answers: Answer,
        query: Mapping[str, str] | None = None,
        forever: bool = False,
    ) -> None:
        """Answer the next requests to `path` (a regex; with `query` only those carrying these
        query values) with `answers`, in order; `forever` repeats the last one. Queued answers
        are served first-in first-out across calls."""
        self._queued.append(
            _Queued(
                method=method,
                pattern=re.compile(path),
                query=dict(query or {}),
                answers=deque(answers[:-1] if forever else answers),
                forever=answers[-1] if forever else None,
            ),
        )

    def answer_error(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        status: int,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        forever: bool = False,
    ) -> None:
        self.answer(
            method,
            path,
            Answer(status, body, dict(headers or {})),
            query=query,
            forever=forever,
        )

    def refuse_with_code(
        self, method: str, path: str, code: int, *, forever: bool = False, **query: str
    ) -> None:
        """Answer with Partner Center's documented status and error body for `code`."""
        status, body = documented_error(code)
        self.answer(method, path, Answer(status, body), query=query or None, forever=forever)

    def throttle(self, method: str, path: str, *, retry_after: str = "57", times: int = 1) -> None:
        """The documented 429 (throttling.error_429.json) with `Retry-After`."""
        for _ in range(times):
            self.answer(
                method,
                path,
                Answer(429, fixture("throttling.error_429.json"), {"Retry-After": retry_after}),
            )

    def time_out(self, method: str, path: str, *, times: int = 1, forever: bool = False) -> None:
        """408 Request Timeout (RFC 9110 section 15.5.9; a status Partner Center's error-codes page
        lists): no body, as none is published, and `Connection: close`, which the RFC says ought
        to be sent when the connection cannot be used further."""
        timed_out = Answer(408, None, {"Connection": "close"})
        self.answer(method, path, *([timed_out] * times), forever=forever)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        pattern = re.compile(path)
        return [
            r
            for r in self.requests
            if pattern.fullmatch(r.path) and (method is None or r.method == method)
        ]

    # -- dispatch ----------------------------------------------------------------------------

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        query = dict(request.query_params)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(RecordedRequest(request.method, path, query, headers, body))

        graph = path.startswith(("/v1.0/", "/beta/"))
        token = headers.get("authorization", "")
        valid = self.graph_tokens if graph else self.pc_tokens
        if not token.startswith("Bearer ") or token.removeprefix("Bearer ") not in valid:
            return self._unauthorized(graph)
        if not graph and not (
            _is_guid(headers.get("ms-requestid")) and _is_guid(headers.get("ms-correlationid"))
        ):
            return JSONResponse(
                {"code": 400, "description": "MS-RequestId and MS-CorrelationId must be GUIDs"},
                status_code=400,
            )

        queued = self._take_queued(request.method, path, query)
        if queued is not None:
            return _respond(queued)
        return self._documented(request.method, path, query, headers, body)

    def _take_queued(self, method: str, path: str, query: dict[str, str]) -> Answer | None:
        for entry in self._queued:
            if entry.method != method or not entry.pattern.fullmatch(path):
                continue
            if any(query.get(k) != v for k, v in entry.query.items()):
                continue
            if entry.answers:
                return entry.answers.popleft()
            if entry.forever is not None:
                return entry.forever
        return None

    def _unauthorized(self, graph: bool) -> Response:
        if graph:
            return JSONResponse(
                {
                    "error": {
                        "code": "InvalidAuthenticationToken",
                        "message": "Access token is empty or invalid.",
                    }
                },
                status_code=401,
            )
        status, body = documented_error(800001)
        return JSONResponse(body, status_code=status)

    def _documented(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: Any,
    ) -> Response:
        if method == "GET" and path == MPN_PROFILE:
            return JSONResponse(fixture("mpn_profile.success_200.json"))
        if method == "GET" and path == LEGAL_BUSINESS:
            return JSONResponse(fixture("legal_business_profile.success_200.json"))
        if method == "GET" and path == AGREEMENT_STATUS:
            return self._agreement_status(query)
        if method == "GET" and path == RELATIONSHIPS:
            kind = query.get("relationship_type")
            if kind == "IsIndirectCloudSolutionProviderOf":
                return self._pc_page(
                    fixture("relationships.indirect_resellers.success_200.json"), query, headers
                )
            if kind == "IsIndirectResellerOf":
                return JSONResponse(_EMPTY_PC_COLLECTION)
            return JSONResponse({"code": 400, "description": "relationship_type"}, 400)
        if method == "GET" and path == RELATIONSHIP_REQUESTS:
            return JSONResponse(fixture("relationship_request.success_200.json"))
        if method == "POST" and path == VALIDATE_RESELLERS:
            if not isinstance(body, dict) or not isinstance(body.get("partnerIds"), list):
                return JSONResponse({"code": 400, "description": "partnerIds"}, 400)
            return self._validate_resellers(body["partnerIds"])
        if method == "POST" and re.fullmatch(ORDERS, path):
            return self._order(body)
        if method == "POST" and path == CUSTOMERS:
            return self._create_customer(body)
        if match := re.fullmatch(SUPPORT_CONTACT, path):
            if method != "PUT":
                return JSONResponse({"code": 405, "description": "PUT a SupportContact"}, 405)
            return self._support_contact(match["customer"], match["subscription"], body)
        if match := re.fullmatch(SUBSCRIPTION, path):
            return self._subscription(method, match["customer"], match["subscription"], body)
        if method == "GET" and re.fullmatch(ORGANIZATION, path):
            return JSONResponse(fixture("graph.organization_get.success_200.json"))
        if method == "GET" and re.fullmatch(ROLE_MEMBERS, path):
            return JSONResponse(
                fixture("graph.directoryrole_members_by_templateid.success_200.json")
            )
        if method == "GET" and re.fullmatch(GROUPS, path):
            return self._graph_page(
                fixture("graph.groups_list_filtered_select.success_200.json"), path, query
            )
        if match := re.fullmatch(GROUP_MEMBER_REF, path):
            if method != "POST":
                return JSONResponse({"error": {"code": "Request_BadRequest"}}, 405)
            return self._add_member(match["group"], body)
        if method == "GET" and (match := re.fullmatch(GROUP_MEMBERS, path)):
            members = {"value": list(self.group_members.get(match["group"], []))}
            return self._graph_page(members, path, query)
        return JSONResponse({"code": 404, "description": f"no documented route {path}"}, 404)

    def _agreement_status(self, query: dict[str, str]) -> Response:
        mpn = next((v for k, v in query.items() if k.lower() == "mpnid"), None)
        tenant = next((v for k, v in query.items() if k.lower() == "tenantid"), None)
        if mpn is None and tenant is None:
            name = "agreement_status.error_2001_both_empty_400.json"
        elif mpn is not None and tenant is not None:
            name = "agreement_status.error_2000_both_passed_400.json"
        elif mpn is not None and not mpn.isdigit():
            name = "agreement_status.error_2000_mpn_not_numeric_400.json"
        elif tenant is not None and not _is_guid(tenant):
            name = "agreement_status.error_2000_tenant_not_guid_400.json"
        else:
            return JSONResponse(fixture("agreement_status.success_200.json"))
        return JSONResponse(fixture(name), status_code=400)

    def _order(self, body: Any) -> Response:
        # The published request uses PascalCase keys; the SDK sends camelCase: accept both.
        if not isinstance(body, dict):
            return JSONResponse({"code": 400, "description": "order body"}, 400)
        keys = {k.lower(): v for k, v in body.items()}
        lines = keys.get("lineitems")
        if not keys.get("referencecustomerid") or not isinstance(lines, list) or not lines:
            return JSONResponse({"code": 400, "description": "referenceCustomerId, lineItems"}, 400)
        return JSONResponse(fixture("create_order.indirect_reseller.success_201.json"), 201)

    def _create_customer(self, body: Any) -> Response:
        # Published request: PascalCase keys; the SDK sends camelCase: accept both.
        keys = _lower_keys(body)
        company = _lower_keys(keys.get("companyprofile"))
        billing = _lower_keys(keys.get("billingprofile"))
        if not company.get("domain") or not billing.get("email") or not billing.get("culture"):
            return JSONResponse(
                {"code": 400, "description": "CompanyProfile.Domain, BillingProfile"}, 400
            )
        return JSONResponse(fixture("customer.create_for_indirect_reseller.success_201.json"), 201)

    def _held_subscription(self, customer: str, subscription: str) -> dict[str, Any] | None:
        return self.subscriptions.get((customer.lower(), subscription.lower()))

    def _refused_subscription(self, code: int, subscription: str) -> Response:
        status, body = documented_error(code)
        body["description"] = str(body["description"]).replace("{0}", subscription)
        return JSONResponse(body, status_code=status)

    def _subscription(self, method: str, customer: str, subscription: str, body: Any) -> Response:
        held = self._held_subscription(customer, subscription)
        if held is None:
            return self._refused_subscription(20003, subscription)
        if method == "GET":
            return JSONResponse(held)
        if method != "PATCH":
            return JSONResponse({"code": 405, "description": "GET or PATCH"}, 405)
        status = str(_lower_keys(held).get("status") or "").lower()
        if status == "deleted":
            return self._refused_subscription(2011, subscription)
        if status == "suspended":
            return self._refused_subscription(800091, subscription)
        if not isinstance(body, dict) or "id" not in _lower_keys(body):
            # "A full Subscription resource is required in the request body."
            return JSONResponse({"code": 400, "description": "a full Subscription resource"}, 400)
        patched = {**held, **body}
        self.subscriptions[(customer.lower(), subscription.lower())] = patched
        if self.subscription_patch_accepted:
            return Response(
                status_code=202,
                headers={"Location": f"/customers/{customer}/subscriptions/{subscription}"},
            )
        return JSONResponse(patched)

    def _support_contact(self, customer: str, subscription: str, body: Any) -> Response:
        if self._held_subscription(customer, subscription) is None:
            return self._refused_subscription(20003, subscription)
        sent = _lower_keys(body)
        if not all(sent.get(k) for k in ("supporttenantid", "supportmpnid", "name")):
            return JSONResponse({"code": 400, "description": "a SupportContact"}, 400)
        answer = fixture("subscription_support_contact.success_200.json")
        answer["supportTenantId"] = sent["supporttenantid"]
        answer["supportMpnId"] = sent["supportmpnid"]
        answer["name"] = sent["name"]
        answer["links"]["self"]["uri"] = (
            f"/customers/{customer}/subscriptions/{subscription}/supportcontact"
        )
        self.support_contacts[(customer.lower(), subscription.lower())] = answer
        return JSONResponse(answer)

    def _add_member(self, group: str, body: Any) -> Response:
        ref = body.get("@odata.id") if isinstance(body, dict) else None
        if not isinstance(ref, str) or "/directoryObjects/" not in ref:
            return JSONResponse(
                {"error": {"code": "Request_BadRequest", "message": "@odata.id"}}, 400
            )
        member = ref.rsplit("/", 1)[1]
        members = self.group_members.setdefault(group, [])
        if any(m["id"] == member for m in members):
            return JSONResponse(fixture("graph.group_add_member.error_400.inferred.json"), 400)
        members.append({"@odata.type": "#microsoft.graph.servicePrincipal", "id": member})
        return Response(status_code=204)

    def _pc_page(
        self, collection: dict[str, Any], query: dict[str, str], headers: dict[str, str]
    ) -> Response:
        """`items` from the continuation token on, `page_size` of them, and `links.next`."""
        items = collection["items"]
        if self.page_size is None:
            return JSONResponse(collection)
        start = int(headers.get("ms-continuationtoken") or 0)
        page = copy.deepcopy(collection)
        page["items"] = items[start : start + self.page_size]
        end = start + self.page_size
        if end < len(items):
            page["links"] = {
                "next": {
                    "uri": f"/relationships?{urlencode(query)}&seekOperation=Next",
                    "method": "GET",
                    "headers": [{"key": "MS-ContinuationToken", "value": str(end)}],
                }
            }
        return JSONResponse(page)

    def _graph_page(self, collection: dict[str, Any], path: str, query: dict[str, str]) -> Response:
        items = collection["value"]
        if self.page_size is None:
            return JSONResponse(collection)
        start = int(query.get("$skiptoken") or 0)
        page = dict(collection)
        page["value"] = items[start : start + self.page_size]
        if start + self.page_size < len(items):
            rest = {k: v for k, v in query.items() if k != "$skiptoken"}
            rest["$skiptoken"] = str(start + self.page_size)
            page["@odata.nextLink"] = f"{self.base_url}{path}?{urlencode(rest)}"
        return JSONResponse(page)


def _lower_keys(value: Any) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in value.items()} if isinstance(value, dict) else {}


def _respond(answer: Answer) -> Response:
    if answer.body is None:
        return Response(status_code=answer.status, headers=answer.headers)
    if isinstance(answer.body, str):
        return Response(
            answer.body.encode("utf-8"),
            status_code=answer.status,
            headers=answer.headers,
            media_type="application/json",
        )
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


@contextlib.asynccontextmanager
async def serve_documented_partner_center() -> AsyncIterator[DocumentedPartnerCenter]:
    """Serve a `DocumentedPartnerCenter` on 127.0.0.1 (a free port) until the block exits; its
    `base_url` serves both Partner Center and Graph."""
    fake = DocumentedPartnerCenter()
    async with serve_asgi(fake.app) as url:
        fake.base_url = url
        yield fake


@contextlib.asynccontextmanager
async def documented_partner_center_client(
    *, partner_center_tokens: str = PC_TOKEN, graph_tokens: str | None = GRAPH_TOKEN
) -> AsyncIterator[tuple[DocumentedPartnerCenter, PartnerCenterHttpClient]]:
    """The served fake and the production HTTP client pointed at it (Partner Center and Graph on
    one base URL, no back-off between its own retries), with these credentials."""
    async with (
        serve_documented_partner_center() as fake,
        PartnerCenterHttpClient(
            partner_center_tokens=partner_center_tokens,
            graph_tokens=graph_tokens,
            base_url=fake.base_url,
            graph_url=fake.base_url,
            retry_backoff=0.0,
        ) as client,
    ):
        yield fake, client
