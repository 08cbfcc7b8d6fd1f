"""The registry tables of issue 14 on every supported database (`registry` fixture: SQLite and
PostgreSQL): idempotent upserts keyed as documented, instants read back in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from adapters.registry.sql import SqlPartnerRegistry
from domain.provider_operations import (
    SubscriptionResellerRecord,
    SubscriptionResellerStage,
    SupportContactRecord,
)
from domain.relationships import (
    CustomerInvitationStage,
    CustomerRelationshipRecord,
    InvitationKind,
)
from domain.reseller_exit import ExitKind, ResellerExitRecord, ResellerExitStage

JST = timezone(timedelta(hours=9))
AT = datetime(2026, 1, 10, 11, 0, tzinfo=JST)
CUSTOMER = "d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e"
SUBSCRIPTION = "6f1e2d3c-4b5a-4987-8c6d-5e4f3a2b1c0d"


async def test_support_contacts_and_subscription_resellers(registry: SqlPartnerRegistry) -> None:
    contact = SupportContactRecord(
        customer_tenant_id=CUSTOMER,
        subscription_id=SUBSCRIPTION,
        provider_partner_id="3456789",
        reseller_partner_id="4512345",
        reseller_tenant_id="3f2a8c1e-5b7d-4e9a-8c6f-1a2b3c4d5e6f",
        reseller_name="Sakura Cloud Solutions K.K.",
        workflow_id="support-contact-3456789-" + SUBSCRIPTION,
        set_at=AT,
        set_by="admin@tokyocloud.example",
    )
    await registry.save_support_contact(contact)
    await registry.save_support_contact(contact)  # a retried activity: one row
    found = await registry.get_support_contact(CUSTOMER, SUBSCRIPTION)
    assert found == contact.model_copy(update={"set_at": AT.astimezone(UTC)})
    assert found is not None and found.set_at.tzinfo == UTC
    assert await registry.get_support_contact(CUSTOMER, "0" * 8 + SUBSCRIPTION[8:]) is None

    blocked = SubscriptionResellerRecord(
        customer_tenant_id=CUSTOMER,
        subscription_id=SUBSCRIPTION,
        provider_partner_id="3456789",
        partner_of_record="9876543",
        status=SubscriptionResellerStage.POR_INVALID,
        status_reason="subscription ... is blocked",
        error_type="PorInvalid",
        workflow_id="subscription-reseller-3456789-" + SUBSCRIPTION,
        updated_at=AT,
    )
    await registry.save_subscription_reseller(blocked)
    updated = blocked.model_copy(
        update={
            "partner_of_record": "4512345",
            "status": SubscriptionResellerStage.UPDATED,
            "status_reason": None,
            "error_type": None,
            "pending_in_partner_center": True,
            "updated_at": AT + timedelta(hours=1),
        }
    )
    await registry.save_subscription_reseller(updated)
    assert await registry.get_subscription_reseller(CUSTOMER, SUBSCRIPTION) == updated


async def test_reseller_exits(registry: SqlPartnerRegistry) -> None:
    waiting = ResellerExitRecord(
        reseller_partner_id="4512345",
        provider_partner_id="3456789",
        kind=ExitKind.MOVE,
        new_provider_partner_id="4567890",
        status=ResellerExitStage.AWAITING_SUPPORT_CASE,
        workflow_id="reseller-exit-4512345-3456789",
        requested_at=AT,
        updated_at=AT,
    )
    await registry.save_reseller_exit(waiting)
    found = await registry.get_reseller_exit("4512345", "3456789")
    assert found == waiting and found is not None and found.case_opened_at is None
    moved = waiting.model_copy(
        update={
            "status": ResellerExitStage.MOVED,
            "case_reference": "2611300010001234",
            "case_opened_at": AT,
            "outcome_note": "moved",
            "updated_at": AT + timedelta(days=3),
        }
    )
    await registry.save_reseller_exit(moved)
    again = await registry.get_reseller_exit("4512345", "3456789")
    assert again == moved
    assert again is not None and again.case_opened_at is not None
    assert again.case_opened_at.tzinfo == UTC
    assert await registry.get_reseller_exit("3456789", "4512345") is None


async def test_gdap_marks_are_listed_and_cleared(registry: SqlPartnerRegistry) -> None:
    for customer in (CUSTOMER, "7c1e5a9b-2d4f-4b8a-9c3e-1f2a3b4c5d6e"):
        await registry.save_customer_relationship(
            CustomerRelationshipRecord(
                reseller_partner_id="4512345",
                customer_tenant_id=customer,
                kind=InvitationKind.RESELLER_ONLY,
                customer_country="JP",
                status=CustomerInvitationStage.ACTIVE,
                workflow_id=f"customer-invitation-4512345-{customer}",
                invited_at=AT,
                updated_at=AT,
            )
        )
    assert await registry.list_gdap_revoked_customers("4512345") == []
    assert await registry.revoke_reseller_gdap("4512345", AT) == 2
    revoked = await registry.list_gdap_revoked_customers("4512345")
    assert [r.customer_tenant_id for r in revoked] == sorted(
        [CUSTOMER, "7c1e5a9b-2d4f-4b8a-9c3e-1f2a3b4c5d6e"]
    )
    assert all(r.gdap_revoked_at == AT for r in revoked)
    assert await registry.restore_customer_gdap("4512345", CUSTOMER) is True
    assert await registry.restore_customer_gdap("4512345", CUSTOMER) is True  # idempotent
    assert await registry.restore_customer_gdap("1234567", CUSTOMER) is False
    assert [
        r.customer_tenant_id for r in await registry.list_gdap_revoked_customers("4512345")
    ] == ["7c1e5a9b-2d4f-4b8a-9c3e-1f2a3b4c5d6e"]
