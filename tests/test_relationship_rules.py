"""The partnership, customer, region and self-dealing rules at their edges (REL, END, CUS, REG,
SELF), and the models' own validation of what operators type."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from domain.errors import (
    AttestationMissing,
    DecisionInvalid,
    McaNotAccepted,
    NoCommerceRelationship,
    PartnershipNotActive,
    RegionMismatch,
    ResellerNotOnboarded,
    RoleForbidden,
    SelfDealing,
)
from domain.partner_center import AgreementAnswer, AgreementVerdict
from domain.relationship_rules import (
    SelfDealingFacts,
    reminder_times,
    require_can_remove_partnership,
    require_can_request_partnership,
    require_can_set_partner_of_record,
    require_commerce_relationship,
    require_customer_agreement,
    require_no_self_dealing,
    require_partnership_active,
    require_removal_attestations,
    require_reseller_onboarded,
    require_same_customer,
    require_same_region,
    require_valid_agreement_attestation,
)
from domain.relationships import (
    AgentRole,
    CustomerAgreementAttestation,
    CustomerAgreementRecord,
    CustomerInvitationRequest,
    CustomerInvitationStage,
    CustomerRelationshipRecord,
    InvitationKind,
    PartnershipRequest,
    RelationshipPolicy,
    RemovalAttestations,
    Requester,
    SubscriptionOrderRequest,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CUSTOMER = "d2a7c9e4-3b1f-4c6a-9e8d-5f7a1b2c3d4e"
LINK = (
    "https://admin.microsoft.com/Adminportal/Home?invType=IndirectResellerRelationship"
    "&partnerId=4512345&indirectCSPId=3456789#/BillingAccounts/partner-invitation"
)


def _as(role: AgentRole) -> Requester:
    return Requester(user="ops@provider.example", role=role)


# ---- roles (REL-03, 003) ---------------------------------------------------------------------


@pytest.mark.parametrize("role", list(AgentRole))
def test_only_an_admin_agent_requests_a_partnership(role: AgentRole) -> None:
    if role is AgentRole.ADMIN_AGENT:
        require_can_request_partnership(_as(role))
        return
    with pytest.raises(RoleForbidden) as refused:
        require_can_request_partnership(_as(role))
    assert "only an Admin agent may request a partnership" in refused.value.message
    assert refused.value.details["role"] == role.value


@pytest.mark.parametrize("role", list(AgentRole))
def test_only_admin_or_sales_agents_remove_or_set_the_reseller(role: AgentRole) -> None:
    allowed = role in (AgentRole.ADMIN_AGENT, AgentRole.SALES_AGENT)
    for rule in (require_can_remove_partnership, require_can_set_partner_of_record):
        if allowed:
            rule(_as(role))
        else:
            with pytest.raises(RoleForbidden, match="Admin agent or Sales agent"):
                rule(_as(role))


# ---- REL-01, REL-02, REG-01 ------------------------------------------------------------------


@pytest.mark.parametrize("status", [None, "enrolling", "rejected", "abandoned", "withdrawn"])
def test_a_reseller_not_active_is_pointed_to_enrollment(status: str | None) -> None:
    with pytest.raises(ResellerNotOnboarded) as refused:
        require_reseller_onboarded("4512345", status)
    assert "ResellerEnrollment" in refused.value.message
    assert refused.value.details == {"partner_id": "4512345", "registry_status": status}
    require_reseller_onboarded("4512345", "active")


def test_partner_center_decides_whether_the_reseller_is_an_indirect_reseller() -> None:
    def answer(verdict: AgreementVerdict, code: str | None = None) -> AgreementAnswer:
        return AgreementAnswer(
            partner_id="4512345", verdict=verdict, code=code, description=f"said {code}"
        )

    # Enrolled directly in Partner Center (signed or not): accepted, the registry knows nothing.
    require_reseller_onboarded("4512345", None, answer(AgreementVerdict.SIGNED))
    require_reseller_onboarded("4512345", None, answer(AgreementVerdict.NOT_SIGNED, "2203"))
    for verdict, code in (
        (AgreementVerdict.NOT_INDIRECT_RESELLER, "2204"),
        (AgreementVerdict.PARTNER_ID_UNKNOWN, "2200"),
    ):
        with pytest.raises(ResellerNotOnboarded) as refused:
            require_reseller_onboarded("4512345", None, answer(verdict, code))
        assert refused.value.details["partner_center_code"] == code
        assert f"said {code}" in refused.value.message
        # Our own completed enrollment, not yet shown by Partner Center, is accepted.
        require_reseller_onboarded("4512345", "active", answer(verdict, code))
    with pytest.raises(RegionMismatch, match="2201"):
        require_reseller_onboarded(
            "4512345", "active", answer(AgreementVerdict.REGION_MISMATCH, "2201")
        )


def test_an_unknown_country_leaves_the_region_to_partner_center() -> None:
    require_same_region(
        rule="REG-01", first="provider", first_country="JP", second="reseller", second_country=None
    )


def test_region_mismatch_names_both_countries_and_the_rule() -> None:
    with pytest.raises(RegionMismatch) as refused:
        require_same_region(
            rule="REG-01",
            first="provider 3456789",
            first_country="JP",
            second="reseller 5234567",
            second_country="US",
        )
    message = refused.value.message
    assert "provider 3456789 is in JP" in message and "reseller 5234567 is in US" in message
    assert "REG-01" in message
    assert "(Japan region)" in message and "(United States region)" in message
    assert refused.value.details["first_region"] == "japan"
    require_same_region(
        rule="REG-01", first="a", first_country="JP", second="b", second_country="JP"
    )


def test_region_is_the_csp_regional_market_not_the_iso_country() -> None:
    """REG-01 (DOMAIN.md section 6, from Microsoft's regional authorization overview): partners
    transact within their CSP region; Germany and France are both in the Europe region."""
    region = require_same_region(
        rule="REG-01",
        first="provider 3456789",
        first_country="DE",
        second="reseller 5234567",
        second_country="FR",
    )
    assert region is not None and region.id == "europe"
    with pytest.raises(RegionMismatch) as refused:
        require_same_region(
            rule="POR-02b", first="customer", first_country="DE", second="b", second_country="JP"
        )
    assert "(REG-01, POR-02b)" in refused.value.message
    assert refused.value.details["rule"] == "POR-02b"


@pytest.mark.parametrize("status", [None, "awaiting_acceptance", "reseller_suspended", "removed"])
def test_a_joint_invitation_needs_an_active_partnership(status: str | None) -> None:
    with pytest.raises(PartnershipNotActive) as refused:
        require_partnership_active(
            provider_partner_id="3456789",
            reseller_partner_id="4512345",
            status=status,
            purpose="a joint customer invitation",
        )
    assert (status or "there is no partnership") in refused.value.message
    require_partnership_active(
        provider_partner_id="3456789", reseller_partner_id="4512345", status="active", purpose="x"
    )


# ---- END-02: the four attestations -----------------------------------------------------------

_FIELDS = (
    "good_faith",
    "legitimate_business_reason",
    "complies_with_contracts",
    "holds_microsoft_harmless",
)


@pytest.mark.parametrize("values", list(product([True, False], repeat=4)))
def test_removal_needs_every_attestation(values: tuple[bool, ...]) -> None:
    attestations = RemovalAttestations(**dict(zip(_FIELDS, values, strict=True)))
    missing = [name for name, value in zip(_FIELDS, values, strict=True) if not value]
    if not missing:
        require_removal_attestations(attestations)
        return
    with pytest.raises(AttestationMissing) as refused:
        require_removal_attestations(attestations)
    assert refused.value.details["missing"] == missing
    for name in missing:
        assert name in refused.value.message


def test_an_attestation_cannot_be_left_out() -> None:
    with pytest.raises(ValidationError, match="holds_microsoft_harmless"):
        RemovalAttestations.model_validate(
            {
                "good_faith": True,
                "legitimate_business_reason": True,
                "complies_with_contracts": True,
            }
        )


# ---- SELF-01..03 -----------------------------------------------------------------------------


def _self(**changes: Any) -> SelfDealingFacts:
    base: dict[str, Any] = {
        "customer_tenant_id": CUSTOMER,
        "customer_partner_id": None,
        "customer_is_affiliate": False,
        "seller_partner_ids": ("4512345", "3456789"),
        "csp_tenant_owner": None,
        "provider_partner_id": "3456789",
        "customer_partnership_with_provider": None,
    }
    base.update(changes)
    return SelfDealingFacts(**base)


def test_an_ordinary_customer_is_not_self_dealing() -> None:
    require_no_self_dealing(_self())
    require_no_self_dealing(_self(customer_partner_id="6345678"))  # another partner: allowed
    require_no_self_dealing(
        _self(customer_partner_id="6345678", customer_partnership_with_provider="removed")
    )


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"customer_partner_id": "4512345"}, "SELF-01"),  # the reseller itself
        ({"customer_partner_id": "3456789"}, "SELF-01"),  # the provider itself
        ({"customer_is_affiliate": True}, "SELF-01"),
        ({"csp_tenant_owner": "4512345"}, "SELF-02"),  # the partner's own CSP tenant
        (
            {"customer_partner_id": "6345678", "customer_partnership_with_provider": "active"},
            "SELF-03",
        ),
    ],
)
def test_self_dealing_is_refused(changes: dict[str, Any], rule: str) -> None:
    with pytest.raises(SelfDealing) as refused:
        require_no_self_dealing(_self(**changes))
    assert rule in refused.value.message
    assert CUSTOMER in refused.value.message


def test_every_self_dealing_problem_is_named() -> None:
    with pytest.raises(SelfDealing) as refused:
        require_no_self_dealing(
            _self(customer_partner_id="4512345", customer_is_affiliate=True, csp_tenant_owner="x")
        )
    assert len(refused.value.details["problems"]) == 3


def test_the_own_csp_tenant_message_says_where_to_buy_instead() -> None:
    with pytest.raises(SelfDealing, match="separate Customer-type tenant"):
        require_no_self_dealing(_self(csp_tenant_owner="3456789"))


# ---- CUS-01, CUS-03, CUS-04 ------------------------------------------------------------------


def _relationship(**changes: Any) -> CustomerRelationshipRecord:
    base = CustomerRelationshipRecord(
        reseller_partner_id="4512345",
        customer_tenant_id=CUSTOMER,
        kind=InvitationKind.JOINT,
        provider_partner_id="3456789",
        customer_country="JP",
        status=CustomerInvitationStage.ACTIVE,
        workflow_id="customer-invitation-4512345-x",
        invited_at=NOW,
        accepted_at=NOW,
        updated_at=NOW,
    )
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    "stage", [CustomerInvitationStage.ACTIVE, CustomerInvitationStage.MCA_PENDING]
)
def test_an_accepted_joint_invitation_is_a_commerce_relationship(
    stage: CustomerInvitationStage,
) -> None:
    found = require_commerce_relationship(
        provider_partner_id="3456789",
        customer_tenant_id=CUSTOMER,
        relationships=[_relationship(status=stage)],
    )
    assert found.reseller_partner_id == "4512345"


@pytest.mark.parametrize(
    "relationships",
    [
        [],
        [_relationship(status=CustomerInvitationStage.AWAITING_ACCEPTANCE)],
        [_relationship(status=CustomerInvitationStage.EXPIRED)],
        [_relationship(kind=InvitationKind.RESELLER_ONLY, provider_partner_id=None)],
        [_relationship(provider_partner_id="9999999")],
    ],
)
def test_no_commerce_relationship_without_an_accepted_joint_invitation(
    relationships: list[CustomerRelationshipRecord],
) -> None:
    with pytest.raises(NoCommerceRelationship, match="joint invitation"):
        require_commerce_relationship(
            provider_partner_id="3456789", customer_tenant_id=CUSTOMER, relationships=relationships
        )


def _agreement(accepted_at: datetime) -> CustomerAgreementRecord:
    return CustomerAgreementRecord(
        customer_tenant_id=CUSTOMER,
        signer_name="Taro Suzuki",
        accepted_at=accepted_at,
        attested_by="ops",
        recorded_at=NOW,
    )


def test_the_mca_must_be_attested_before_any_order() -> None:
    with pytest.raises(McaNotAccepted, match="attest_customer_agreement"):
        require_customer_agreement(customer_tenant_id=CUSTOMER, agreement=None, now=NOW)
    require_customer_agreement(customer_tenant_id=CUSTOMER, agreement=_agreement(NOW), now=NOW)
    with pytest.raises(McaNotAccepted):  # accepted one microsecond after the order: not before
        require_customer_agreement(
            customer_tenant_id=CUSTOMER,
            agreement=_agreement(NOW + timedelta(microseconds=1)),
            now=NOW,
        )


def test_an_agreement_attestation_cannot_be_dated_in_the_future() -> None:
    def attestation(at: datetime) -> CustomerAgreementAttestation:
        return CustomerAgreementAttestation(signer_name="T", accepted_at=at, attested_by="ops")

    require_valid_agreement_attestation(attestation(NOW), now=NOW)
    with pytest.raises(DecisionInvalid, match="after now"):
        require_valid_agreement_attestation(attestation(NOW + timedelta(seconds=1)), now=NOW)
    with pytest.raises(DecisionInvalid, match="time zone"):
        require_valid_agreement_attestation(attestation(datetime(2026, 1, 1)), now=NOW)


def test_an_acceptance_for_another_customer_is_refused() -> None:
    require_same_customer(expected=CUSTOMER, reported=CUSTOMER)
    with pytest.raises(DecisionInvalid, match="names 00000000"):
        require_same_customer(expected=CUSTOMER, reported="00000000-0000-0000-0000-000000000000")


# ---- reminders and expiry (REL-04, CUS-02) ---------------------------------------------------


def test_reminders_fall_strictly_before_the_expiry() -> None:
    reminders, deadline = reminder_times(
        NOW, (timedelta(days=7), timedelta(days=14)), timedelta(days=30)
    )
    assert reminders == (NOW + timedelta(days=7), NOW + timedelta(days=14))
    assert deadline == NOW + timedelta(days=30)
    reminders, _ = reminder_times(NOW, (timedelta(days=30),), timedelta(days=30))
    assert reminders == ()


def test_the_policy_refuses_reminders_outside_the_window() -> None:
    with pytest.raises(ValidationError, match="between the request and its expiry"):
        RelationshipPolicy(partnership_reminders=(timedelta(days=30),))
    with pytest.raises(ValidationError, match="increasing"):
        RelationshipPolicy(customer_invitation_reminders=(timedelta(days=14), timedelta(days=7)))
    with pytest.raises(ValidationError, match="time zone"):
        RelationshipPolicy(por_validation_from=datetime(2025, 9, 1))


# ---- what operators type ---------------------------------------------------------------------


def _partnership(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "provider_partner_id": "3456789",
        "provider_tenant_id": "5b0f8a8e-2c3d-4e5f-8a9b-0c1d2e3f4a5b",
        "reseller_partner_id": "4512345",
        "requested_by": {"user": "admin@provider.example", "role": "admin_agent"},
        "reseller_email": "partners@sakura.example",
        "reseller_contact_name": "Hanako Sato",
        "invitation_link": LINK,
    }
    base.update(changes)
    return base


def test_the_partner_center_link_is_kept_exactly() -> None:
    request = PartnershipRequest.model_validate(_partnership())
    assert request.invitation_link == LINK  # not normalised, not re-encoded
    for bad in (f" {LINK}", LINK.replace("https", "http"), "not a link", LINK + " x"):
        with pytest.raises(ValidationError, match="link"):
            PartnershipRequest.model_validate(_partnership(invitation_link=bad))


def test_a_partner_cannot_partner_with_itself() -> None:
    with pytest.raises(ValidationError, match="two partners"):
        PartnershipRequest.model_validate(_partnership(reseller_partner_id="3456789"))


def _invitation(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "joint",
        "reseller_partner_id": "4512345",
        "provider_partner_id": "3456789",
        "customer_tenant_id": CUSTOMER,
        "customer_name": "Minato Trading K.K.",
        "customer_country": "jp",
        "customer_email": "it@minato.example",
        "customer_contact_name": "Taro Suzuki",
        "customer_is_affiliate": False,
        "requested_by": {"user": "sales@sakura.example", "role": "sales_agent"},
    }
    base.update(changes)
    return base


def test_invitation_kinds_name_their_parties() -> None:
    assert CustomerInvitationRequest.model_validate(_invitation()).customer_country == "JP"
    with pytest.raises(ValidationError, match="names the indirect provider"):
        CustomerInvitationRequest.model_validate(_invitation(provider_partner_id=None))
    with pytest.raises(ValidationError, match="names no provider"):
        CustomerInvitationRequest.model_validate(_invitation(kind="reseller_only"))
    with pytest.raises(ValidationError, match="customer_is_affiliate"):
        data = _invitation()
        del data["customer_is_affiliate"]
        CustomerInvitationRequest.model_validate(data)


def test_the_readme_examples_are_valid_requests() -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    for name, model in (
        ("partnership-request.json", PartnershipRequest),
        ("customer-invitation.json", CustomerInvitationRequest),
        ("subscription-order.json", SubscriptionOrderRequest),
    ):
        model.model_validate(json.loads((examples / name).read_text()))
