"""Data and helpers that drive the relationship pipelines the way their callers do: a provider, its
indirect resellers and a customer in the local Partner Center file and the registry; requests as
plain JSON; the updates the UI, the CLI or a webhook relay would send."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowHandle

from adapters.mail.smtp_sink import SmtpSink, subject_of, text_of
from contract import names
from domain.provider_operations import (
    ProviderOperationResult,
    ResellerCustomerRequest,
    SubscriptionResellerRequest,
    SubscriptionResellerResult,
    SupportContactRequest,
)
from domain.relationships import (
    CustomerInvitationRequest,
    CustomerInvitationResult,
    CustomerInvitationStage,
    CustomerRelationshipRecord,
    InvitationKind,
    OrderResult,
    PartnershipRecord,
    PartnershipRequest,
    PartnershipResult,
    PartnershipStage,
    SubscriptionOrderRequest,
)
from domain.reseller_enrollment import ResellerRecord, ResellerStatus
from domain.reseller_exit import ResellerExitRequest, ResellerExitResult
from tests.conftest import JP_PARTNER, JP_TENANT, UNSIGNED_PARTNER, US_PARTNER, Stack

T = TypeVar("T")

PROVIDER = "3456789"
PROVIDER_TENANT = uuid.UUID("5b0f8a8e-2c3d-4e5f-8a9b-0c1d2e3f4a5b")
RESELLER = JP_PARTNER  # an active JP indirect reseller that signed the MPA
RESELLER_TENANT = JP_TENANT
UNSIGNED_RESELLER = UNSIGNED_PARTNER  # active JP indirect reseller, MPA not signed
US_RESELLER = US_PARTNER  # active US indirect reseller
NOT_ENROLLED = "6345678"  # JP partner profile, never enrolled as an indirect reseller
CUSTOMER = uuid.UUID("d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e")
PARTNERSHIP_LINK = (
    "https://partner.microsoft.com/dashboard/v2/indirect-resellers/accept"
    "?providerId=5b0f8a8e-2c3d-4e5f-8a9b-0c1d2e3f4a5b&code=Zx%2Bq%3D%3D&lang=ja-JP"
)
"""As copied from Partner Center: percent-encoding included, which must survive untouched."""


async def prepare(stack: Stack, *, partnerships: tuple[str, ...] = ()) -> None:
    """Partner Center knows the provider, the resellers and the customer; the registry knows the
    resellers as enrolled. `partnerships`: resellers already in an active partnership."""

    def change(data: dict[str, Any]) -> None:
        data["profiles"][PROVIDER] = {
            "partnerName": "Tokyo Cloud Distribution K.K.",
            "country": "JP",
        }
        data["profiles"][NOT_ENROLLED] = {"partnerName": "Fabrikam Japan G.K.", "country": "JP"}
        data["agreements"][PROVIDER] = {"isAgreementSigned": True}
        data["indirectResellers"] = {
            pid: {"programStatus": "Active"} for pid in (RESELLER, UNSIGNED_RESELLER, US_RESELLER)
        }
        data["relationships"] = {}
        data["customers"] = {
            str(CUSTOMER): {
                "companyName": "Minato Trading K.K.",
                "country": "JP",
                "partners": [PROVIDER, RESELLER, UNSIGNED_RESELLER],
            }
        }

    stack.edit_partner_center(change)
    now = datetime.now(UTC)
    for pid, country, tenant in (
        (RESELLER, "JP", str(RESELLER_TENANT)),
        (UNSIGNED_RESELLER, "JP", None),
        (US_RESELLER, "US", None),
    ):
        await stack.registry.save_reseller(
            ResellerRecord(
                partner_id=pid,
                status=ResellerStatus.ACTIVE,
                country=country,
                tenant_id=tenant,
                workflow_id=names.reseller_enrollment_id(pid),
                ir_authorized_at=now,
                active_since=now,
                updated_at=now,
            )
        )
    for reseller in partnerships:
        await stack.registry.save_partnership(
            PartnershipRecord(
                provider_partner_id=PROVIDER,
                reseller_partner_id=reseller,
                status=PartnershipStage.ACTIVE,
                region="JP",
                provider_tenant_id=str(PROVIDER_TENANT),
                workflow_id=names.partnership_id(PROVIDER, reseller),
                requested_at=now,
                accepted_at=now,
                updated_at=now,
            )
        )


def partnership_request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider_partner_id": PROVIDER,
        "provider_tenant_id": str(PROVIDER_TENANT),
        "reseller_partner_id": RESELLER,
        "requested_by": {"user": "admin@tokyo-cloud.example", "role": "admin_agent"},
        "reseller_email": "partners@contoso.example",
        "reseller_contact_name": "Hanako Yamada",
        "invitation_link": PARTNERSHIP_LINK,
        "message": "We look forward to serving Japanese customers together.",
    }
    base.update(overrides)
    return base


def invitation_request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "joint",
        "reseller_partner_id": RESELLER,
        "provider_partner_id": PROVIDER,
        "customer_tenant_id": str(CUSTOMER),
        "customer_name": "Minato Trading K.K.",
        "customer_country": "JP",
        "customer_email": "it@minato.example",
        "customer_contact_name": "Taro Suzuki",
        "customer_locale": "en",  # scenario tests read English texts (JP would default to ja)
        "customer_is_affiliate": False,
        "requested_by": {"user": "sales@contoso.example", "role": "sales_agent"},
    }
    base.update(overrides)
    return base


def order_request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider_partner_id": PROVIDER,
        "order_ref": "PO-2026-0001",
        "customer_tenant_id": str(CUSTOMER),
        "partner_of_record": RESELLER,
        "line_items": [
            {
                "offer_id": "CFQ7TTC0LH18:0001",
                "quantity": 10,
                "friendly_name": "Microsoft 365 Business Basic",
            }
        ],
        "requested_by": {"user": "admin@tokyo-cloud.example", "role": "admin_agent"},
    }
    base.update(overrides)
    return base


def agreement(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "signer_name": "Taro Suzuki",
        "accepted_at": "2026-01-05T09:00:00Z",
        "attested_by": "sales@contoso.example",
    }
    base.update(overrides)
    return base


def attestations(**overrides: bool) -> dict[str, bool]:
    base = {
        "good_faith": True,
        "legitimate_business_reason": True,
        "complies_with_contracts": True,
        "holds_microsoft_harmless": True,
    }
    base.update(overrides)
    return base


async def start_partnership(
    client: Client, request: dict[str, Any], workflow_id: str | None = None
) -> WorkflowHandle[Any, PartnershipResult]:
    model = PartnershipRequest.model_validate(request)
    return await client.start_workflow(
        names.PARTNERSHIP,
        model,
        id=workflow_id
        or names.partnership_id(model.provider_partner_id, model.reseller_partner_id),
        task_queue=names.TASK_QUEUE,
        result_type=PartnershipResult,
    )


async def start_invitation(
    client: Client, request: dict[str, Any]
) -> WorkflowHandle[Any, CustomerInvitationResult]:
    model = CustomerInvitationRequest.model_validate(request)
    return await client.start_workflow(
        names.CUSTOMER_INVITATION,
        model,
        id=names.customer_invitation_id(model.reseller_partner_id, str(model.customer_tenant_id)),
        task_queue=names.TASK_QUEUE,
        result_type=CustomerInvitationResult,
    )


async def start_order(client: Client, request: dict[str, Any]) -> WorkflowHandle[Any, OrderResult]:
    model = SubscriptionOrderRequest.model_validate(request)
    return await client.start_workflow(
        names.SUBSCRIPTION_ORDER,
        model,
        id=names.subscription_order_id(model.provider_partner_id, model.order_ref),
        task_queue=names.TASK_QUEUE,
        result_type=OrderResult,
    )


async def update(
    handle: WorkflowHandle[Any, Any], name: str, payload: dict[str, Any], result_type: type[Any]
) -> Any:
    """Send an update as the CLI would: plain JSON mapped onto the handler's model."""
    return await handle.execute_update(name, payload, result_type=result_type)


def subjects(sink: SmtpSink) -> list[str]:
    return [subject_of(m) for m in sink.messages()]


def bodies(sink: SmtpSink) -> list[str]:
    return [text_of(m) for m in sink.messages()]


async def wait_for_stage(
    handle: WorkflowHandle[Any, Any], stage: str, status_type: type[Any]
) -> Any:
    """The status once the pipeline reached `stage` (updates are acknowledged before the pipeline
    acts on them)."""
    for _ in range(200):
        status = await handle.query(names.QUERY_STATUS, result_type=status_type)
        if status.stage == stage:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{handle.id} never reached stage {stage} (at {status.stage})")


async def eventually(read: Callable[[], Awaitable[T]], holds: Callable[[T], bool]) -> T:
    """What `read` returns once `holds` is true of it: a stage is visible to a query a moment
    before the activity that records it has written the registry."""
    for _ in range(200):
        value = await read()
        if holds(value):
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"never held; last read {value!r}")


# ---- provider operations for partnered resellers (REL-05, REL-06; issue 14) ------------------

SUBSCRIPTION = "6f1e2d3c-4b5a-4987-8c6d-5e4f3a2b1c0d"
"""A subscription of CUSTOMER (Microsoft 365 Business Basic) in the local Partner Center file."""


def partnered_in_partner_center(stack: Stack, *resellers: str, state: str = "Active") -> None:
    """Partner Center lists `resellers` as the provider's (REL-04), with the reseller's tenant;
    CUSTOMER has one subscription, SUBSCRIPTION, without a reseller of record."""

    def change(data: dict[str, Any]) -> None:
        data["profiles"][RESELLER]["tenantId"] = str(RESELLER_TENANT)
        data["relationships"] = {PROVIDER: {pid: {"state": state} for pid in resellers}}
        data["subscriptions"] = {
            SUBSCRIPTION: {
                "customerId": str(CUSTOMER),
                "offerId": "CFQ7TTC0LH18:0001",
                "status": "active",
                "partnerId": None,
            }
        }

    stack.edit_partner_center(change)


async def customer_of_provider(stack: Stack, reseller: str = RESELLER) -> None:
    """CUSTOMER accepted a joint invitation from `reseller` and PROVIDER (CUS-01/CUS-03)."""
    now = datetime.now(UTC)
    await stack.registry.save_customer_relationship(
        CustomerRelationshipRecord(
            reseller_partner_id=reseller,
            customer_tenant_id=str(CUSTOMER),
            kind=InvitationKind.JOINT,
            provider_partner_id=PROVIDER,
            customer_country="JP",
            status=CustomerInvitationStage.ACTIVE,
            workflow_id=names.customer_invitation_id(reseller, str(CUSTOMER)),
            invited_at=now,
            accepted_at=now,
            updated_at=now,
        )
    )


def reseller_customer_request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider_partner_id": PROVIDER,
        "reseller_partner_id": RESELLER,
        "customer_name": "Shinagawa Shoji K.K.",
        "customer_country": "JP",
        "domain_prefix": "shinagawashoji",
        "billing": {
            "email": "it@shinagawa-shoji.example",
            "first_name": "Ichiro",
            "last_name": "Tanaka",
            "culture": "ja-JP",
            "language": "ja",
            "address_line1": "2-16-3 Konan",
            "city": "Minato-ku",
            "state": "Tokyo",
            "postal_code": "108-0075",
        },
        "customer_agreement": agreement(signer_name="Ichiro Tanaka"),
        "requested_by": {"user": "sales@tokyo-cloud.example", "role": "sales_agent"},
    }
    base.update(overrides)
    return base


def support_contact_request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider_partner_id": PROVIDER,
        "reseller_partner_id": RESELLER,
        "customer_tenant_id": str(CUSTOMER),
        "subscription_id": SUBSCRIPTION,
        "requested_by": {"user": "admin@tokyo-cloud.example", "role": "admin_agent"},
    }
    base.update(overrides)
    return base


async def start_reseller_customer(
    client: Client, request: dict[str, Any]
) -> WorkflowHandle[Any, ProviderOperationResult]:
    model = ResellerCustomerRequest.model_validate(request)
    return await client.start_workflow(
        names.RESELLER_CUSTOMER,
        model,
        id=names.reseller_customer_id(model.provider_partner_id, model.domain_prefix),
        task_queue=names.TASK_QUEUE,
        result_type=ProviderOperationResult,
    )


async def start_support_contact(
    client: Client, request: dict[str, Any]
) -> WorkflowHandle[Any, ProviderOperationResult]:
    model = SupportContactRequest.model_validate(request)
    return await client.start_workflow(
        names.SUBSCRIPTION_SUPPORT_CONTACT,
        model,
        id=names.support_contact_id(model.provider_partner_id, model.subscription_id),
        task_queue=names.TASK_QUEUE,
        result_type=ProviderOperationResult,
    )


def subscription_reseller_request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider_partner_id": PROVIDER,
        "customer_tenant_id": str(CUSTOMER),
        "subscription_id": SUBSCRIPTION,
        "partner_of_record": RESELLER,
        "requested_by": {"user": "sales@tokyo-cloud.example", "role": "sales_agent"},
    }
    base.update(overrides)
    return base


async def start_subscription_reseller(
    client: Client, request: dict[str, Any]
) -> WorkflowHandle[Any, SubscriptionResellerResult]:
    model = SubscriptionResellerRequest.model_validate(request)
    return await client.start_workflow(
        names.SUBSCRIPTION_RESELLER,
        model,
        id=names.subscription_reseller_id(model.provider_partner_id, model.subscription_id),
        task_queue=names.TASK_QUEUE,
        result_type=SubscriptionResellerResult,
    )


OTHER_PROVIDER = "4567890"
"""Another JP indirect provider a reseller may move to (END-03)."""


def reseller_exit_request(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "reseller_partner_id": RESELLER,
        "provider_partner_id": PROVIDER,
        "kind": "end",
        "reason": "We now buy through a direct-bill partner",
        "requested_by": {"user": "admin@contoso.example", "role": "admin_agent"},
    }
    base.update(overrides)
    return base


async def start_reseller_exit(
    client: Client, request: dict[str, Any]
) -> WorkflowHandle[Any, ResellerExitResult]:
    model = ResellerExitRequest.model_validate(request)
    return await client.start_workflow(
        names.RESELLER_EXIT,
        model,
        id=names.reseller_exit_id(model.reseller_partner_id, model.provider_partner_id),
        task_queue=names.TASK_QUEUE,
        result_type=ResellerExitResult,
    )
