"""The registry's relationship tables on every supported database (`registry` fixture): idempotent
upserts keyed by provider + reseller, reseller + customer and provider + order reference; POR-04's
GDAP mark that later saves keep; the CSP-tenant owner lookup (SELF-02)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from adapters.registry.sql import SqlPartnerRegistry
from domain.relationships import (
    CustomerAgreementRecord,
    CustomerInvitationStage,
    CustomerRelationshipRecord,
    InvitationKind,
    OrderRecord,
    OrderStage,
    PartnershipRecord,
    PartnershipStage,
    ResellerSuspensionRecord,
)
from domain.reseller_enrollment import ResellerRecord, ResellerStatus

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PROVIDER_TENANT = "5b0f8a8e-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
CUSTOMER_A = "d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e"
CUSTOMER_B = "0b6e5d4c-3a2b-4c1d-8e9f-a0b1c2d3e4f5"


def _partnership(**changes: object) -> PartnershipRecord:
    base = PartnershipRecord(
        provider_partner_id="3456789",
        reseller_partner_id="4512345",
        status=PartnershipStage.AWAITING_ACCEPTANCE,
        region="JP",
        provider_tenant_id=PROVIDER_TENANT,
        workflow_id="partnership-3456789-4512345",
        requested_at=NOW,
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


def _relationship(customer: str, **changes: object) -> CustomerRelationshipRecord:
    base = CustomerRelationshipRecord(
        reseller_partner_id="4512345",
        customer_tenant_id=customer,
        kind=InvitationKind.JOINT,
        provider_partner_id="3456789",
        customer_country="JP",
        status=CustomerInvitationStage.ACTIVE,
        workflow_id=f"customer-invitation-4512345-{customer}",
        invited_at=NOW,
        accepted_at=NOW,
        acceptance_event="indirect-reseller-relationship-accepted-by-customer",
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


async def test_partnerships_are_keyed_by_provider_and_reseller(
    registry: SqlPartnerRegistry,
) -> None:
    assert await registry.get_partnership("3456789", "4512345") is None
    await registry.save_partnership(_partnership())
    await registry.save_partnership(_partnership())
    tokyo = timezone(timedelta(hours=9))
    active = _partnership(
        status=PartnershipStage.ACTIVE, accepted_at=datetime(2026, 11, 22, 9, 0, tzinfo=tokyo)
    )
    await registry.save_partnership(active)
    read = await registry.get_partnership("3456789", "4512345")
    assert read == active
    assert read is not None and read.accepted_at == datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    other = _partnership(provider_partner_id="7777777", workflow_id="partnership-7777777-4512345")
    await registry.save_partnership(other)
    assert await registry.get_partnership("7777777", "4512345") == other
    assert await registry.get_partnership("3456789", "4512345") == active


async def test_suspension_marks_gdap_on_every_customer_and_saves_keep_it(
    registry: SqlPartnerRegistry,
) -> None:
    await registry.save_customer_relationship(_relationship(CUSTOMER_A))
    await registry.save_customer_relationship(_relationship(CUSTOMER_B))
    other_reseller = _relationship(CUSTOMER_A, reseller_partner_id="6345678")
    await registry.save_customer_relationship(other_reseller)

    assert await registry.revoke_reseller_gdap("4512345", NOW) == 2
    assert await registry.revoke_reseller_gdap("4512345", NOW + timedelta(days=1)) == 2
    a = await registry.get_customer_relationship("4512345", CUSTOMER_A)
    assert a is not None and a.gdap_revoked_at == NOW  # the first revocation is kept
    assert a.status is CustomerInvitationStage.ACTIVE  # nothing else changed
    untouched = await registry.get_customer_relationship("6345678", CUSTOMER_A)
    assert untouched == other_reseller

    # A later save by the invitation pipeline never clears the mark.
    await registry.save_customer_relationship(_relationship(CUSTOMER_A, updated_at=NOW))
    again = await registry.get_customer_relationship("4512345", CUSTOMER_A)
    assert again is not None and again.gdap_revoked_at == NOW

    listed = await registry.list_customer_relationships(CUSTOMER_A)
    assert [r.reseller_partner_id for r in listed] == ["4512345", "6345678"]


async def test_suspension_and_reinstatement(registry: SqlPartnerRegistry) -> None:
    suspended = ResellerSuspensionRecord(
        reseller_partner_id="4512345",
        suspended_at=NOW,
        reason="non-payment",
        reported_by="pc-webhook",
        updated_at=NOW,
    )
    await registry.save_reseller_suspension(suspended)
    read = await registry.get_reseller_suspension("4512345")
    assert read == suspended and read is not None and read.in_force
    reinstated = suspended.model_copy(update={"reinstated_at": NOW + timedelta(days=2)})
    await registry.save_reseller_suspension(reinstated)
    read = await registry.get_reseller_suspension("4512345")
    assert read == reinstated and read is not None and not read.in_force
    assert await registry.get_reseller_suspension("6345678") is None


async def test_customer_agreement_is_one_per_customer(registry: SqlPartnerRegistry) -> None:
    first = CustomerAgreementRecord(
        customer_tenant_id=CUSTOMER_A,
        signer_name="Taro Suzuki",
        accepted_at=NOW,
        attested_by="ops",
        recorded_at=NOW,
    )
    await registry.save_customer_agreement(first)
    later = first.model_copy(update={"signer_name": "Jiro Suzuki", "recorded_at": NOW})
    await registry.save_customer_agreement(later)
    assert await registry.get_customer_agreement(CUSTOMER_A) == later
    assert await registry.get_customer_agreement(CUSTOMER_B) is None


async def test_csp_tenant_owner_of_a_reseller_or_a_provider(registry: SqlPartnerRegistry) -> None:
    reseller_tenant = "3F2A8C1E-5B7D-4E9A-8C6F-1A2B3C4D5E6F"
    await registry.save_reseller(
        ResellerRecord(
            partner_id="4512345",
            status=ResellerStatus.ACTIVE,
            country="JP",
            tenant_id=reseller_tenant.lower(),
            workflow_id="reseller-enrollment-4512345",
            updated_at=NOW,
        )
    )
    await registry.save_partnership(_partnership())
    assert await registry.find_csp_tenant_owner(reseller_tenant) == "4512345"
    assert await registry.find_csp_tenant_owner(PROVIDER_TENANT) == "3456789"
    assert await registry.find_csp_tenant_owner(CUSTOMER_A) is None


async def test_orders_keep_warnings_and_are_keyed_by_provider_and_reference(
    registry: SqlPartnerRegistry,
) -> None:
    blocked = OrderRecord(
        provider_partner_id="3456789",
        order_ref="PO-2026-001",
        customer_tenant_id=CUSTOMER_A,
        partner_of_record="5234567",
        status=OrderStage.POR_INVALID,
        por_enforced=True,
        status_reason="order PO-2026-001 is blocked: ...",
        error_type="PorInvalid",
        workflow_id="order-3456789-PO-2026-001",
        updated_at=NOW,
    )
    await registry.save_order(blocked)
    assert await registry.get_order("3456789", "PO-2026-001") == blocked
    placed = blocked.model_copy(
        update={
            "status": OrderStage.PLACED,
            "partner_of_record": "4512345",
            "warnings": ("POR-02b: ...", "POR-05: ..."),
            "error_type": None,
            "partner_center_order_id": "order-1",
        }
    )
    await registry.save_order(placed)
    assert await registry.get_order("3456789", "PO-2026-001") == placed
    assert await registry.get_order("3456789", "PO-2026-002") is None
