"""Contract tests: the real HTTP client against a server that answers with Microsoft's published
example bodies and documented error bodies (tests/fake_partner_center.py,
tests/fixtures/partner_center/SOURCES.md). One section per operation."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from temporalio.testing import ActivityEnvironment

from adapters.partner_center import (
    PartnerCenterAuthError,
    PartnerCenterRequestFailed,
    PartnerCenterUnavailable,
)
from adapters.partner_center.auth import GRAPH_RESOURCE, PARTNER_CENTER_RESOURCE
from adapters.partner_center.http import (
    GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID,
    PartnerCenterHttpClient,
    request_id_for,
)
from domain.errors import (
    BusinessRuleViolation,
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
    AgreementVerdict,
    CustomerAddress,
    NewCustomer,
    OrderLine,
    OrderSubmission,
    RelationshipType,
    SupportContact,
)
from tests.fake_partner_center import (
    AGREEMENT_STATUS,
    CUSTOMERS,
    GRAPH_TOKEN,
    GROUP_MEMBER_REF,
    GROUP_MEMBERS,
    LEGAL_BUSINESS,
    MPN_PROFILE,
    ORDERS,
    ORGANIZATION,
    PC_TOKEN,
    RELATIONSHIPS,
    SUBSCRIPTION_CUSTOMER,
    SUPPORT_CONTACT,
    VALIDATE_RESELLERS,
    Answer,
    DocumentedPartnerCenter,
    fixture,
    fixture_text,
    serve_documented_partner_center,
)

OWN_MPN_ID = "4391507"  # mpn_profile.success_200.json
RESELLER_US = "4847383"  # relationships.indirect_resellers.success_200.json, location US
RESELLER_BR = "4847433"  # ... location BR
CUSTOMER = "c501c3c4-d776-40ef-9ecf-9cefb59442c1"  # create_order.indirect_reseller.*
TENANT = TenantId("84841066-274d-4ec0-a5c1-276be684bdd3")  # graph.organization_get
ADMIN_AGENT = "0f9e8d7c-6b5a-4c3d-9e2f-1a0b9c8d7e6f"
AGENTS_GROUP = "11111111-2222-3333-4444-555555555555"  # graph.groups_list_filtered_select


@pytest.fixture
async def fake() -> AsyncIterator[DocumentedPartnerCenter]:
    async with serve_documented_partner_center() as server:
        yield server


@pytest.fixture
async def client(fake: DocumentedPartnerCenter) -> AsyncIterator[PartnerCenterHttpClient]:
    async with PartnerCenterHttpClient(
        partner_center_tokens=PC_TOKEN,
        graph_tokens=GRAPH_TOKEN,
        base_url=fake.base_url,
        graph_url=fake.base_url,
        admin_agent_object_id=ADMIN_AGENT,
        retry_backoff=0.0,
    ) as pc:
        yield pc


def _guid(value: str) -> bool:
    return str(UUID(value)) == value.lower()


def _order(por: str | None = RESELLER_US) -> OrderSubmission:
    return OrderSubmission(
        partner_id=OWN_MPN_ID,
        customer_id=TenantId(CUSTOMER),
        line_items=(
            OrderLine(
                line_item_number=0,
                offer_id="DB2E705F-B82A-4024-A3D5-D88E12F2DB35",
                quantity=5,
                friendly_name="New offer purchase.",
                partner_id_on_record=por,
            ),
        ),
    )


# -- every request --------------------------------------------------------------------------


async def test_every_request_carries_guid_ids_and_the_token_of_its_audience(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    await client.get_mpn_profile(RESELLER_US)
    await client.get_tenant(TENANT)
    assert fake.requests
    for sent in fake.requests:
        assert _guid(sent.headers["ms-requestid"])
        assert _guid(sent.headers["ms-correlationid"])
        graph = sent.path.startswith("/v1.0/")
        assert sent.headers["authorization"] == f"Bearer {GRAPH_TOKEN if graph else PC_TOKEN}"
        if graph:
            assert sent.headers["client-request-id"] == sent.headers["ms-requestid"]
    assert len({r.headers["ms-requestid"] for r in fake.requests}) == len(fake.requests)


# -- 1. MPN profile (get-partner-by-mpn-id) ---------------------------------------------------


async def test_own_mpn_profile_reads_mpn_id_and_the_legal_business_country(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    profile = await client.get_mpn_profile(OWN_MPN_ID)
    assert (profile.partner_id, profile.partner_name, profile.country) == (
        OWN_MPN_ID,
        "Microsoft Partner",
        "US",  # legal_business_profile.success_200.json address.country
    )
    asked = fake.requests_to(MPN_PROFILE)
    assert {"mpnId": OWN_MPN_ID} in [r.query for r in asked]
    assert {} in [r.query for r in asked]  # the signed-in partner's own profile
    assert fake.requests_to(LEGAL_BUSINESS)[0].query == {"vettingVersion": "Current"}


@pytest.mark.parametrize(("partner_id", "country"), [(RESELLER_US, "US"), (RESELLER_BR, "BR")])
async def test_another_partners_country_is_its_relationship_location_never_our_own(
    fake: DocumentedPartnerCenter,
    client: PartnerCenterHttpClient,
    partner_id: str,
    country: str,
) -> None:
    profile = await client.get_mpn_profile(partner_id)
    assert (profile.partner_id, profile.country) == (partner_id, country)
    assert fake.requests_to(LEGAL_BUSINESS) == []
    assert fake.requests_to(RELATIONSHIPS)[0].query == {
        "relationship_type": "IsIndirectCloudSolutionProviderOf"
    }


async def test_a_partner_no_document_places_has_no_country(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    profile = await client.get_mpn_profile("1234567")
    assert profile.country is None
    assert fake.requests_to(LEGAL_BUSINESS) == []


async def test_partner_name_is_optional(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    nameless = fixture("mpn_profile.success_200.json")
    del nameless["partnerName"]
    fake.answer("GET", MPN_PROFILE, Answer(200, nameless), query={"mpnId": RESELLER_US})
    profile = await client.get_mpn_profile(RESELLER_US)
    assert profile.partner_name == f"PartnerID {RESELLER_US}"


async def test_unknown_partner_id_is_3000_not_found(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer_error(
        "GET",
        MPN_PROFILE,
        fixture("mpn_profile.error_3000_404.json"),
        status=404,
        query={"mpnId": "9999999"},
    )
    with pytest.raises(PartnerIdNotFound, match="9999999 could not be found"):
        await client.get_mpn_profile("9999999")


# -- 2. legal business profile ----------------------------------------------------------------


async def test_legal_business_profile_is_the_signed_in_partners(
    client: PartnerCenterHttpClient,
) -> None:
    profile = await client.legal_business_profile()
    assert (profile["vettingStatus"], profile["address"]["country"]) == ("authorized", "US")


# -- 3. agreement status ----------------------------------------------------------------------


async def test_agreement_signed(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    answer = await client.agreement_status(RESELLER_US)
    assert answer.verdict is AgreementVerdict.SIGNED
    assert await client.is_agreement_signed(RESELLER_US) is True
    assert fake.requests_to(AGREEMENT_STATUS)[0].query == {"mpnId": RESELLER_US}


@pytest.mark.parametrize(
    ("name", "verdict"),
    [
        ("agreement_status.error_2203_not_signed_400.json", AgreementVerdict.NOT_SIGNED),
        ("agreement_status.error_2206_tenant_not_signed_400.json", AgreementVerdict.NOT_SIGNED),
        (
            "agreement_status.error_2200_invalid_or_not_migrated_400.json",
            AgreementVerdict.PARTNER_ID_UNKNOWN,
        ),
        ("agreement_status.error_2200_legacy_400.json", AgreementVerdict.PARTNER_ID_UNKNOWN),
        (
            "agreement_status.error_2204_no_csp_reseller_account_400.json",
            AgreementVerdict.NOT_INDIRECT_RESELLER,
        ),
        (
            "agreement_status.error_2201_region_mismatch_legacy_400.json",
            AgreementVerdict.REGION_MISMATCH,
        ),
        ("agreement_status.error_2205_tenant_not_found_400.json", AgreementVerdict.TENANT_UNKNOWN),
    ],
)
async def test_documented_agreement_refusals_are_verdicts(
    fake: DocumentedPartnerCenter,
    client: PartnerCenterHttpClient,
    name: str,
    verdict: AgreementVerdict,
) -> None:
    body = fixture(name)
    fake.answer_error("GET", AGREEMENT_STATUS, body, status=400)
    answer = await client.agreement_status("123456")
    assert (answer.verdict, answer.code, answer.description) == (
        verdict,
        str(body["code"]),
        body["description"],
    )
    assert len(fake.requests_to(AGREEMENT_STATUS)) == 1  # an answer: not retried


async def test_the_published_2201_body_that_is_not_valid_json_is_still_read(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    raw = fixture_text("agreement_status.error_2201_region_mismatch_400.jsonc")
    fake.answer_error("GET", AGREEMENT_STATUS, raw, status=400)
    answer = await client.agreement_status("123456")
    assert answer.verdict is AgreementVerdict.REGION_MISMATCH
    assert answer.description and "doesn't match the CSP region" in answer.description


async def test_not_signed_and_unknown_through_is_agreement_signed(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer_error(
        "GET",
        AGREEMENT_STATUS,
        fixture("agreement_status.error_2203_not_signed_400.json"),
        status=400,
    )
    assert await client.is_agreement_signed("123456") is False
    fake.answer_error(
        "GET",
        AGREEMENT_STATUS,
        fixture("agreement_status.error_2200_invalid_or_not_migrated_400.json"),
        status=400,
    )
    with pytest.raises(PartnerIdNotFound, match="2200"):
        await client.is_agreement_signed("123456")


async def test_a_non_numeric_partner_id_is_2000_from_the_server(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    with pytest.raises(PartnerIdNotFound, match="MPN Id must be numeric"):
        await client.agreement_status("12ab")
    assert fake.requests_to(AGREEMENT_STATUS)[0].query == {"mpnId": "12ab"}


# -- 4. relationships -------------------------------------------------------------------------


async def test_relationships_parse_the_snake_case_type_and_location(
    client: PartnerCenterHttpClient,
) -> None:
    listed = await client.list_relationships(OWN_MPN_ID, RelationshipType.INDIRECT_PROVIDER_OF)
    assert [(r.mpn_id, r.name, r.location, r.is_active) for r in listed] == [
        (RESELLER_US, "First Up Consultants", "US", True),
        (RESELLER_BR, "ReleCloud", "BR", True),
    ]
    assert {r.relationship_type for r in listed} == {RelationshipType.INDIRECT_PROVIDER_OF}
    assert listed[0].partner_tenant_id == "484e548c-f5f3-4528-93a9-c16c6373cb59"


async def test_relationships_follow_links_next_with_the_continuation_token(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.page_size = 1
    listed = await client.list_relationships(OWN_MPN_ID, RelationshipType.INDIRECT_PROVIDER_OF)
    assert [r.mpn_id for r in listed] == [RESELLER_US, RESELLER_BR]
    first, second = fake.requests_to(RELATIONSHIPS)
    assert "ms-continuationtoken" not in first.headers
    assert second.headers["ms-continuationtoken"] == "1"
    assert second.query["seekOperation"] == "Next"


async def test_reseller_side_relationships(client: PartnerCenterHttpClient) -> None:
    assert await client.list_relationships(RESELLER_US, RelationshipType.INDIRECT_RESELLER_OF) == []


# -- 5. customer relationship request ---------------------------------------------------------


async def test_customer_relationship_request_url_is_kept(client: PartnerCenterHttpClient) -> None:
    url = await client.get_customer_relationship_request(RESELLER_US, None)
    assert url == fixture("relationship_request.success_200.json")["url"]


# -- 6. validate resellers --------------------------------------------------------------------


async def test_validate_resellers(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    results = await client.validate_resellers([" 12345", "234567"])
    assert fake.requests_to(VALIDATE_RESELLERS)[0].body == {"partnerIds": ["12345", "234567"]}
    valid, invalid = results
    assert (valid.partner_id, valid.is_valid_partner_id_on_record, valid.error_code) == (
        "12345",
        True,
        None,
    )
    assert (invalid.is_valid_partner_id_on_record, invalid.error_code) == (False, "900400")
    assert invalid.error_description is not None
    assert invalid.error_description.startswith("The PLA ID")


async def test_validate_resellers_answers_each_partner_id_in_the_documented_shape(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    """ "returns validation results for each partner ID": a batch of the POR sweep (REL-07)
    gets one item per id, an id the error-code table refuses with that code and description."""
    fake.invalidate_reseller("4600002", 800039)
    fake.invalidate_reseller("4600003", 800015)
    ids = ["4600001", "4600002", "4600003", "234567"]
    results = await client.validate_resellers(ids)
    assert [r.partner_id for r in results] == ids
    assert [(r.is_valid_partner_id_on_record, r.error_code) for r in results] == [
        (True, None),
        (False, "800039"),
        (False, "800015"),
        (False, "900400"),
    ]
    assert results[1].error_description == "Reseller program status isn't active"


# -- 7. orders --------------------------------------------------------------------------------


async def test_order_request_and_answer(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    placed = await client.place_order(_order(), idempotency_key="wf-1:run-1:place-order-0")
    assert placed.order_id == "3eddcac6-63b2-4c40-b0b6-f47e18301492"
    assert placed.customer_id == CUSTOMER
    assert [(li.offer_id, li.quantity, li.partner_id_on_record) for li in placed.line_items] == [
        ("DB2E705F-B82A-4024-A3D5-D88E12F2DB35", 5, RESELLER_US)
    ]
    [sent] = fake.requests_to(ORDERS)
    assert sent.body == {
        "referenceCustomerId": CUSTOMER,
        "billingCycle": "monthly",
        "lineItems": [
            {
                "lineItemNumber": 0,
                "offerId": "DB2E705F-B82A-4024-A3D5-D88E12F2DB35",
                "quantity": 5,
                "friendlyName": "New offer purchase.",
                "partnerIdOnRecord": RESELLER_US,
            }
        ],
    }
    assert sent.headers["ms-requestid"] == request_id_for("wf-1:run-1:place-order-0")


async def test_a_retried_order_sends_the_same_request_id(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.throttle("POST", ORDERS, retry_after="0")
    await client.place_order(_order(), idempotency_key="k")
    await client.place_order(_order(), idempotency_key="k")  # the activity retried
    ids = {r.headers["ms-requestid"] for r in fake.requests_to(ORDERS)}
    assert ids == {request_id_for("k")}
    assert len(fake.requests_to(ORDERS)) == 3


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (800015, PorInvalid),
        (800016, PorInvalid),
        (800039, PorInvalid),  # 403
        (2072, PorInvalid),
        (900123, MpaNotSigned),  # 403
        (2030, RegionMismatch),  # 403
        (20002, NoCommerceRelationship),  # 403
    ],
)
async def test_documented_order_refusals_map_by_code_before_status(
    fake: DocumentedPartnerCenter,
    client: PartnerCenterHttpClient,
    code: int,
    error: type[BusinessRuleViolation],
) -> None:
    fake.refuse_with_code("POST", ORDERS, code)
    with pytest.raises(error) as raised:
        await client.place_order(_order(), idempotency_key="k")
    assert raised.value.details["partner_center_code"] == str(code)
    assert len(fake.requests_to(ORDERS)) == 1


async def test_order_in_progress_800060_is_transient(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.refuse_with_code("POST", ORDERS, 800060)
    with pytest.raises(PartnerCenterUnavailable, match="800060"):
        await client.place_order(_order(), idempotency_key="k")


@pytest.mark.parametrize("code", [900308, 900329])
async def test_permission_refusals_are_auth_errors(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient, code: int
) -> None:
    fake.refuse_with_code("POST", ORDERS, code)
    with pytest.raises(PartnerCenterAuthError, match=f"create order.*{code}"):
        await client.place_order(_order(), idempotency_key="k")


async def test_another_4xx_names_operation_status_code_and_correlation_id(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer_error(
        "POST",
        ORDERS,
        {"code": 13605, "description": "MCA acceptance", "data": [], "source": "PartnerFD"},
        status=403,
    )
    with pytest.raises(PartnerCenterRequestFailed) as raised:
        await client.place_order(_order(), idempotency_key="k")
    assert not isinstance(raised.value, PartnerCenterAuthError)
    [sent] = fake.requests_to(ORDERS)
    message = str(raised.value)
    for part in ("create order", "403", "13605", sent.headers["ms-correlationid"]):
        assert part in message


# -- throttling, transient failures, tokens ---------------------------------------------------


async def test_retry_after_is_honoured(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.throttle("GET", RELATIONSHIPS, retry_after="1")
    started = time.monotonic()
    await client.list_relationships(OWN_MPN_ID, RelationshipType.INDIRECT_PROVIDER_OF)
    assert time.monotonic() - started >= 1.0
    assert len(fake.requests_to(RELATIONSHIPS)) == 2


async def test_a_retry_after_longer_than_the_bound_is_handed_to_the_caller(
    fake: DocumentedPartnerCenter,
) -> None:
    fake.throttle("GET", RELATIONSHIPS)  # Retry-After: 57, as published
    async with PartnerCenterHttpClient(
        partner_center_tokens=PC_TOKEN, base_url=fake.base_url, max_retry_wait=10.0
    ) as client:
        with pytest.raises(PartnerCenterUnavailable) as raised:
            await client.list_relationships(OWN_MPN_ID, RelationshipType.INDIRECT_PROVIDER_OF)
    assert raised.value.retry_after == 57.0
    assert "Rate limit is exceeded" in str(raised.value)
    assert len(fake.requests_to(RELATIONSHIPS)) == 1


async def test_5xx_is_retried_then_unavailable(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer("GET", LEGAL_BUSINESS, Answer(503), Answer(500))
    assert (await client.legal_business_profile())["companyName"] == "Lucerne Publishing"
    fake.answer("GET", LEGAL_BUSINESS, Answer(503), forever=True)
    with pytest.raises(PartnerCenterUnavailable, match="503"):
        await client.legal_business_profile()


async def test_a_request_timeout_is_repeated_with_the_same_request_id_then_unavailable(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    """408 (RFC 9110 section 15.5.9: the request did not reach the server in full; the client MAY
    repeat it) is transient like 429 and 5xx: repeated in place on a new connection with the same
    MS-RequestId (the order is placed once), and still timing out after the in-place attempts it is
    `PartnerCenterUnavailable`, which Temporal retries. It used to be a final
    `PartnerCenterRequestFailed` after one request."""
    fake.time_out("POST", ORDERS, times=2)
    await client.place_order(_order(), idempotency_key="k")
    sent = fake.requests_to(ORDERS)
    assert len(sent) == 3
    assert {r.headers["ms-requestid"] for r in sent} == {request_id_for("k")}
    fake.time_out("GET", LEGAL_BUSINESS, forever=True)
    with pytest.raises(PartnerCenterUnavailable, match="408") as raised:
        await client.legal_business_profile()
    assert not isinstance(raised.value, PartnerCenterRequestFailed)
    assert len(fake.requests_to(LEGAL_BUSINESS)) > 1


class _RotatingTokens:
    def __init__(self, audience: str, *values: str) -> None:
        self._values = list(values)
        self._audience = audience
        self.invalidated = 0

    @property
    def audience(self) -> str:
        return self._audience

    async def token(self, tenant: str | None = None) -> str:
        return self._values[min(self.invalidated, len(self._values) - 1)]

    def invalidate(self, tenant: str | None = None) -> None:
        self.invalidated += 1


async def test_a_401_refreshes_the_token_once(fake: DocumentedPartnerCenter) -> None:
    tokens = _RotatingTokens(PARTNER_CENTER_RESOURCE, "expired-token", PC_TOKEN)
    async with PartnerCenterHttpClient(
        partner_center_tokens=tokens, base_url=fake.base_url
    ) as client:
        await client.legal_business_profile()
    assert tokens.invalidated == 1
    assert len(fake.requests_to(LEGAL_BUSINESS)) == 2


async def test_a_second_401_is_a_clear_auth_error_without_the_token(
    fake: DocumentedPartnerCenter,
) -> None:
    tokens = _RotatingTokens(PARTNER_CENTER_RESOURCE, "expired-token", "still-bad-token")
    async with PartnerCenterHttpClient(
        partner_center_tokens=tokens, base_url=fake.base_url
    ) as client:
        with pytest.raises(PartnerCenterAuthError) as raised:
            await client.legal_business_profile()
    message = str(raised.value)
    assert "get legal business profile" in message
    assert PARTNER_CENTER_RESOURCE in message
    assert "800001" in message
    assert "still-bad-token" not in message and "expired-token" not in message
    assert tokens.invalidated == 1


async def test_graph_gets_its_own_token(fake: DocumentedPartnerCenter) -> None:
    graph = _RotatingTokens(GRAPH_RESOURCE, GRAPH_TOKEN)
    async with PartnerCenterHttpClient(
        partner_center_tokens=PC_TOKEN,
        graph_tokens=graph,
        base_url=fake.base_url,
        graph_url=fake.base_url,
    ) as client:
        await client.get_tenant(TENANT)
    [sent] = fake.requests_to(ORGANIZATION)
    assert sent.headers["authorization"] == f"Bearer {GRAPH_TOKEN}"


# -- 10. Graph --------------------------------------------------------------------------------


async def test_tenant_from_the_organization(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    tenant = await client.get_tenant(TENANT)
    assert (tenant.tenant_id, tenant.country, tenant.default_domain) == (
        TENANT,
        "NL",
        "Contoso.com",
    )
    [sent] = fake.requests_to(ORGANIZATION)
    assert sent.path == f"/v1.0/organization/{TENANT}"


async def test_unknown_tenant(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer_error(
        "GET",
        ORGANIZATION,
        {"error": {"code": "Request_ResourceNotFound", "message": "Resource does not exist."}},
        status=404,
    )
    with pytest.raises(TenantNotFound):
        await client.get_tenant(TENANT)


async def test_graph_error_bodies_are_read(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer_error("GET", ORGANIZATION, fixture("graph.error.generic_example.json"), status=400)
    with pytest.raises(PartnerCenterRequestFailed, match="invalidRange"):
        await client.get_tenant(TENANT)


async def test_global_admin_by_role_template(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    assert await client.is_global_admin(TENANT, "adelev@CONTOSO.com") is True
    assert await client.is_global_admin(TENANT, "someone@contoso.com") is False
    sent = fake.requests[0]
    assert sent.path == (
        f"/v1.0/directoryRoles/roleTemplateId={GLOBAL_ADMINISTRATOR_ROLE_TEMPLATE_ID}/members"
    )


async def test_admin_agent_is_added_once_with_a_derived_request_id(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    await client.ensure_admin_agent(TENANT, idempotency_key="enroll:run:admin-agent")
    await client.ensure_admin_agent(TENANT, idempotency_key="enroll:run:admin-agent")
    [post] = fake.requests_to(GROUP_MEMBER_REF, "POST")
    assert post.body == {"@odata.id": f"{fake.base_url}/v1.0/directoryObjects/{ADMIN_AGENT}"}
    assert post.headers["client-request-id"] == request_id_for("enroll:run:admin-agent")
    assert fake.requests_to(r"/v1\.0/groups")[0].query == {
        "$filter": "displayName eq 'AdminAgents'",
        "$select": "id",
    }


async def test_admin_agent_400_counts_as_success_only_when_now_a_member(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    # A concurrent attempt added the member between our read and our POST.
    fake.answer("GET", GROUP_MEMBERS, Answer(200, {"value": []}))
    fake.group_members[AGENTS_GROUP] = [{"id": ADMIN_AGENT}]
    await client.ensure_admin_agent(TENANT, idempotency_key="k")
    assert len(fake.requests_to(GROUP_MEMBER_REF, "POST")) == 1
    fake.answer_error(
        "POST",
        GROUP_MEMBER_REF,
        fixture("graph.group_add_member.error_400.inferred.json"),
        status=400,
    )
    fake.group_members[AGENTS_GROUP] = []
    with pytest.raises(PartnerCenterRequestFailed, match="not a member"):
        await client.ensure_admin_agent(TENANT, idempotency_key="k2")


async def test_graph_collections_follow_next_link(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.page_size = 1
    fake.group_members[AGENTS_GROUP] = [{"id": "a"}, {"id": "b"}, {"id": ADMIN_AGENT}]
    await client.ensure_admin_agent(TENANT, idempotency_key="k")
    assert fake.requests_to(GROUP_MEMBER_REF, "POST") == []
    assert len(fake.requests_to(GROUP_MEMBERS)) == 3
    assert fake.requests_to(GROUP_MEMBERS)[1].query["$skiptoken"] == "1"


async def test_graph_without_a_graph_credential_says_so(fake: DocumentedPartnerCenter) -> None:
    from adapters.partner_center import PartnerCenterOperationUnsupported

    async with PartnerCenterHttpClient(
        partner_center_tokens=PC_TOKEN, base_url=fake.base_url, graph_url=fake.base_url
    ) as client:
        with pytest.raises(PartnerCenterOperationUnsupported, match="Graph"):
            await client.get_tenant(TENANT)


async def test_tenant_creation_has_no_api_and_admin_agent_needs_its_object_id(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    from adapters.partner_center import PartnerCenterOperationUnsupported

    with pytest.raises(PartnerCenterOperationUnsupported, match="Partner Center UI"):
        await client.create_tenant(
            domain_prefix="x", country="JP", global_admin="a@x.onmicrosoft.com", idempotency_key="k"
        )
    async with PartnerCenterHttpClient(
        partner_center_tokens=PC_TOKEN, graph_tokens=GRAPH_TOKEN, graph_url=fake.base_url
    ) as unconfigured:
        with pytest.raises(PartnerCenterOperationUnsupported, match="admin_agent_object_id"):
            await unconfigured.ensure_admin_agent(TENANT, idempotency_key="k")
    assert fake.requests == []


async def test_a_transport_error_is_unavailable_and_names_the_correlation_id() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with PartnerCenterHttpClient(
        partner_center_tokens=PC_TOKEN,
        base_url=f"http://127.0.0.1:{port}",
        max_attempts=2,
        retry_backoff=0.0,
    ) as client:
        with pytest.raises(PartnerCenterUnavailable, match=r"ConnectError.*MS-CorrelationId="):
            await client.legal_business_profile()


async def test_an_answer_of_another_shape_is_request_failed(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer("GET", AGREEMENT_STATUS, Answer(200, {"isAgreementSigned": "yes"}))
    with pytest.raises(PartnerCenterRequestFailed, match="get agreement status"):
        await client.agreement_status(RESELLER_US)


async def test_a_refused_relationships_list_leaves_the_country_unknown(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer("GET", RELATIONSHIPS, Answer(404, {"code": 1000, "description": "Not found"}))
    profile = await client.get_mpn_profile(RESELLER_US)
    assert (profile.partner_id, profile.country) == (RESELLER_US, None)


async def test_inside_an_activity_a_wait_beyond_its_deadline_is_left_to_temporal(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.throttle("GET", LEGAL_BUSINESS, retry_after="20")
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info,
        start_to_close_timeout=timedelta(seconds=10),
        current_attempt_scheduled_time=datetime.now(UTC),
    )
    with pytest.raises(PartnerCenterUnavailable) as raised:
        await env.run(client.legal_business_profile)
    assert raised.value.retry_after == 20.0
    assert len(fake.requests_to(LEGAL_BUSINESS)) == 1


# ---- provider operations for partnered resellers (issue 14) ----------------------------------

SUBSCRIPTION_ID = "83ef9d05-4169-4ef9-9657-0e86b1eab1de"  # update_subscription.response_200.json
SUBSCRIPTION_PATH = f"/v1/customers/{SUBSCRIPTION_CUSTOMER}/subscriptions/{SUBSCRIPTION_ID}"
SUBSCRIPTION_CUSTOMER_ID = TenantId(SUBSCRIPTION_CUSTOMER)


async def test_the_subscription_is_patched_back_whole_with_the_new_partner_id(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    result = await client.update_subscription_partner_of_record(
        SUBSCRIPTION_CUSTOMER_ID, SUBSCRIPTION_ID, RESELLER_US, idempotency_key="wf:run:por-0"
    )
    assert (result.partner_id, result.status, result.pending) == (RESELLER_US, "active", False)
    get, patch = fake.requests_to(SUBSCRIPTION_PATH)
    assert (get.method, patch.method) == ("GET", "PATCH")
    assert get.headers["ms-requestid"] != patch.headers["ms-requestid"]
    assert patch.headers["ms-requestid"] == request_id_for("wf:run:por-0")
    assert get.headers["ms-correlationid"] == patch.headers["ms-correlationid"]
    # The full documented resource went back: auto-renew, etag and the rest kept, only the
    # reseller of record changed, the read-only links left out.
    documented = fixture("update_subscription.response_200.json")
    del documented["Links"]
    assert patch.body == {**documented, "PartnerId": RESELLER_US}


async def test_a_202_with_location_is_recorded_as_pending(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.subscription_patch_accepted = True
    result = await client.update_subscription_partner_of_record(
        SUBSCRIPTION_CUSTOMER_ID, SUBSCRIPTION_ID, RESELLER_US, idempotency_key="k"
    )
    assert result.pending and result.partner_id == RESELLER_US


@pytest.mark.parametrize("code", [800098, 2072, 800015, 800016, 800039, 900123])
async def test_documented_por_refusals_of_a_subscription_update(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient, code: int
) -> None:
    fake.refuse_with_code("PATCH", SUBSCRIPTION_PATH, code)
    with pytest.raises(PorInvalid) as refused:
        await client.update_subscription_partner_of_record(
            SUBSCRIPTION_CUSTOMER_ID, SUBSCRIPTION_ID, RESELLER_US, idempotency_key="k"
        )
    assert refused.value.details["partner_center_code"] == str(code)
    assert refused.value.details["partner_of_record"] == RESELLER_US


@pytest.mark.parametrize(("status", "code"), [("deleted", "2011"), ("suspended", "800091")])
async def test_a_subscription_that_cannot_change_is_refused_by_its_state(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient, status: str, code: str
) -> None:
    other = "3c5d7e9f-1a2b-4c3d-8e4f-5a6b7c8d9e0f"
    fake.add_subscription(
        SUBSCRIPTION_CUSTOMER,
        {**fixture("update_subscription.response_200.json"), "Id": other, "Status": status},
    )
    with pytest.raises(SubscriptionNotChangeable) as refused:
        await client.update_subscription_partner_of_record(
            SUBSCRIPTION_CUSTOMER_ID, other, RESELLER_US, idempotency_key="k"
        )
    assert refused.value.details["partner_center_code"] == code


async def test_an_unknown_subscription_is_20003(client: PartnerCenterHttpClient) -> None:
    with pytest.raises(SubscriptionNotChangeable, match="20003") as refused:
        await client.update_subscription_partner_of_record(
            TenantId(CUSTOMER), SUBSCRIPTION_ID, RESELLER_US, idempotency_key="k"
        )
    assert refused.value.details["subscription_id"] == SUBSCRIPTION_ID


@pytest.mark.parametrize("code", [900278, 800082, 2055])
async def test_a_pending_or_stale_subscription_update_is_transient(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient, code: int
) -> None:
    fake.refuse_with_code("PATCH", SUBSCRIPTION_PATH, code)
    with pytest.raises(PartnerCenterUnavailable, match=str(code)):
        await client.update_subscription_partner_of_record(
            SUBSCRIPTION_CUSTOMER_ID, SUBSCRIPTION_ID, RESELLER_US, idempotency_key="k"
        )


async def test_support_contact_is_put_as_the_documented_resource(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    sent = fixture("subscription_support_contact.request.json")
    contact = SupportContact(
        support_tenant_id=sent["SupportTenantId"],
        support_mpn_id=sent["SupportMpnId"],
        name=sent["Name"],
    )
    answered = await client.set_subscription_support_contact(
        OWN_MPN_ID, SUBSCRIPTION_CUSTOMER_ID, SUBSCRIPTION_ID, contact
    )
    assert answered == contact
    [put] = fake.requests_to(SUPPORT_CONTACT, "PUT")
    assert put.body == {k: sent[k] for k in ("SupportTenantId", "SupportMpnId", "Name")}


async def test_support_contact_of_an_unknown_subscription_is_20003(
    client: PartnerCenterHttpClient,
) -> None:
    contact = SupportContact(support_tenant_id=str(TENANT), support_mpn_id=RESELLER_US, name="R")
    with pytest.raises(SubscriptionNotChangeable, match="20003"):
        await client.set_subscription_support_contact(
            OWN_MPN_ID, TenantId(CUSTOMER), SUBSCRIPTION_ID, contact
        )


async def test_customer_for_an_indirect_reseller_sends_the_documented_body(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    documented = fixture("customer.create_for_indirect_reseller.request.json")
    billing = documented["BillingProfile"]
    address = billing["DefaultAddress"]
    created = await client.create_customer(
        NewCustomer(
            provider_partner_id=OWN_MPN_ID,
            reseller_partner_id=RESELLER_US,
            reseller_tenant_id=documented["AssociatedPartnerId"],
            domain=documented["CompanyProfile"]["Domain"],
            company_name=billing["CompanyName"],
            email=billing["Email"],
            culture=billing["Culture"],
            language=billing["Language"],
            address=CustomerAddress(
                country=address["Country"],
                city=address["City"],
                state=address["State"],
                address_line1=address["AddressLine1"],
                postal_code=address["PostalCode"],
                first_name=address["FirstName"],
                last_name=address["LastName"],
                phone_number=address["PhoneNumber"],
            ),
        ),
        idempotency_key="wf:run:create-customer",
    )
    [post] = fake.requests_to(CUSTOMERS, "POST")
    assert post.headers["ms-requestid"] == request_id_for("wf:run:create-customer")
    assert post.body["AssociatedPartnerId"] == documented["AssociatedPartnerId"]
    assert post.body["CompanyProfile"] == {"Domain": documented["CompanyProfile"]["Domain"]}
    sent_address = post.body["BillingProfile"]["DefaultAddress"]
    assert sent_address == {k: v for k, v in address.items() if v is not None}
    answer = fixture("customer.create_for_indirect_reseller.success_201.json")
    assert str(created.customer_id) == answer["id"]
    assert created.associated_partner_id == answer["associatedPartnerId"]
    assert created.company_name == answer["companyProfile"]["companyName"]


async def test_a_refused_customer_creation_is_final(
    fake: DocumentedPartnerCenter, client: PartnerCenterHttpClient
) -> None:
    fake.answer("POST", CUSTOMERS, Answer(400, {"code": 400, "description": "Domain taken"}))
    customer = NewCustomer(
        provider_partner_id=OWN_MPN_ID,
        reseller_partner_id=RESELLER_US,
        reseller_tenant_id=str(TENANT),
        domain="kaisha.onmicrosoft.com",
        company_name="Kaisha",
        email="it@kaisha.example",
        culture="ja-JP",
        language="ja",
        address=CustomerAddress(country="JP", city="Minato-ku", address_line1="1", postal_code="1"),
    )
    with pytest.raises(PartnerCenterRequestFailed, match="create customer"):
        await client.create_customer(customer, idempotency_key="k")
    assert len(fake.requests_to(CUSTOMERS)) == 1
