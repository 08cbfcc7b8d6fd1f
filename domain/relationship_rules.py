"""Partnership, customer and region rules (DOMAIN.md REL-01..05, END-01..02, CUS-01..04, REG-01,
SELF-01..03) as pure functions.

Each takes the facts an activity looked up and either returns or raises a `BusinessRuleViolation`
subtype whose message names what failed, the figures and what to do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from domain import regions
from domain.calendar import show_instant
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
from domain.regions import CspRegion
from domain.relationships import (
    AgentRole,
    CustomerAgreementAttestation,
    CustomerAgreementRecord,
    CustomerRelationshipRecord,
    RemovalAttestations,
    Requester,
)

ONBOARDED_RESELLER_STATUS = "active"
"""The registry status of an indirect reseller that finished enrollment (ResellerStatus.ACTIVE)."""

ACTIVE_PARTNERSHIP_STATUS = "active"
"""The registry status of an accepted, not suspended, not removed partnership."""

PARTNERSHIP_REQUESTERS = frozenset({AgentRole.ADMIN_AGENT})
"""REL-03: an Admin agent sends the partnership request."""

RESELLER_CHANGERS = frozenset({AgentRole.ADMIN_AGENT, AgentRole.SALES_AGENT})
"""003: only an Admin or Sales agent removes a partnership or sets a subscription's reseller."""

_ROLE_NAMES = {
    AgentRole.GLOBAL_ADMIN: "Global admin",
    AgentRole.ADMIN_AGENT: "Admin agent",
    AgentRole.SALES_AGENT: "Sales agent",
    AgentRole.HELPDESK_AGENT: "Helpdesk agent",
}


def _names(roles: Iterable[AgentRole]) -> str:
    return " or ".join(_ROLE_NAMES[r] for r in sorted(roles))


def require_role(requester: Requester, allowed: frozenset[AgentRole], action: str) -> None:
    if requester.role not in allowed:
        raise RoleForbidden(
            f"{requester.user} acts as {_ROLE_NAMES[requester.role]}; only an "
            f"{_names(allowed)} may {action}",
            role=requester.role.value,
            allowed=sorted(r.value for r in allowed),
        )


def require_can_request_partnership(requester: Requester) -> None:
    """REL-03."""
    require_role(requester, PARTNERSHIP_REQUESTERS, "request a partnership with a reseller")


def require_can_remove_partnership(requester: Requester) -> None:
    """003 / END-01."""
    require_role(requester, RESELLER_CHANGERS, "remove a partnership")


def require_can_set_partner_of_record(requester: Requester) -> None:
    """003: setting a subscription's reseller (its Partner of Record)."""
    require_role(requester, RESELLER_CHANGERS, "set the reseller (Partner of Record) of an order")


def require_can_act_for_reseller(requester: Requester, action: str) -> None:
    """REL-05: adding a customer for a reseller or making it a subscription's support contact.
    003 names no role for these; Partner Center lets the Admin and Sales agents manage customers
    and subscriptions (not the Helpdesk agent), the same roles as for a subscription's reseller."""
    require_role(requester, RESELLER_CHANGERS, action)


LEAVABLE_PARTNERSHIP_STATUSES = frozenset({"active", "reseller_suspended"})
"""END-03: a reseller asks to leave a partnership that exists and is not over."""


def require_partnership_to_leave(
    *, provider_partner_id: str, reseller_partner_id: str, status: str | None
) -> None:
    """END-03: the reseller can only ask Support to end (or move away from) a partnership it
    has; a removed, expired or never accepted one has nothing to end."""
    if status in LEAVABLE_PARTNERSHIP_STATUSES:
        return
    state = f"its partnership is {status}" if status else "there is no partnership"
    raise PartnershipNotActive(
        f"reseller {reseller_partner_id} has no partnership with provider {provider_partner_id} "
        f"to end or move away from; {state}",
        provider_partner_id=provider_partner_id,
        reseller_partner_id=reseller_partner_id,
        partnership_status=status,
    )


def require_reseller_onboarded(
    reseller_partner_id: str,
    registry_status: str | None,
    partner_center: AgreementAnswer | None = None,
) -> None:
    """REL-01: the reseller must already be an onboarded indirect reseller.

    Partner Center answers it (`partner_center`, its agreementstatus verdict for the PartnerID): an
    indirect-reseller account, signed or not, is onboarded (a reseller that enrolled directly in
    Partner Center is accepted); 2201 means the reseller is in another CSP region (REG-01). The
    registry only caches our own completed enrollments: `registry_status` onboarded is accepted
    too, for an enrollment Partner Center does not show yet (and when no verdict was asked)."""
    if partner_center is not None:
        if partner_center.verdict.is_indirect_reseller:
            return
        if partner_center.verdict is AgreementVerdict.REGION_MISMATCH:
            raise RegionMismatch(
                f"reseller {reseller_partner_id} is in another CSP region than the provider: "
                f"{partner_center.description} (Partner Center {partner_center.code}, REG-01)",
                rule="REG-01",
                partner_center_code=partner_center.code,
            )
    if registry_status == ONBOARDED_RESELLER_STATUS:
        return
    known = (
        f"its indirect-reseller enrollment is {registry_status}"
        if registry_status
        else "it has no indirect-reseller enrollment"
    )
    if partner_center is not None:
        known += (
            f"; Partner Center: {partner_center.description or partner_center.verdict.value}"
            f" ({partner_center.code})"
        )
    details: dict[str, str | None] = {"registry_status": registry_status}
    if partner_center is not None:
        details["partner_center_code"] = partner_center.code
    raise ResellerNotOnboarded(
        f"PartnerID {reseller_partner_id} is not an onboarded indirect reseller ({known}); point "
        "it to the indirect-reseller enrollment (ResellerEnrollment) and ask again once it is "
        "active",
        partner_id=reseller_partner_id,
        **details,
    )


def require_same_region(
    *,
    rule: str,
    first: str,
    first_country: str | None,
    second: str,
    second_country: str | None,
) -> CspRegion | None:
    """REG-01 / POR-02b: partners relate and sell only within one CSP regional market.

    The comparison is by CSP region (Microsoft's regional-market table, `domain.regions`), not by
    ISO country: a German provider and a French reseller are both in the Europe region. A refusal
    names both parties, both countries and both regions. Returns the shared region.

    A country is None when no documented Partner Center call states it (another partner with no
    relationship to the signed-in partner yet): this pre-check then cannot decide (None), and
    Partner Center's own verdicts do (agreementstatus 2201 in the partnership facts, order error
    2030)."""
    if first_country is None or second_country is None:
        return None
    try:
        return regions.require_same_region(first, first_country, second, second_country)
    except RegionMismatch as mismatch:
        if rule == regions.RULE:
            raise
        raise RegionMismatch(
            mismatch.message.replace(f"({regions.RULE})", f"({regions.RULE}, {rule})"),
            **{**mismatch.details, "rule": rule},
        ) from None


def require_partnership_active(
    *, provider_partner_id: str, reseller_partner_id: str, status: str | None, purpose: str
) -> None:
    """REL-02 / CUS-02: an active partnership between the provider and the reseller."""
    if status == ACTIVE_PARTNERSHIP_STATUS:
        return
    state = f"its partnership is {status}" if status else "there is no partnership"
    raise PartnershipNotActive(
        f"{purpose} needs an active partnership between provider {provider_partner_id} and "
        f"reseller {reseller_partner_id}; {state}",
        provider_partner_id=provider_partner_id,
        reseller_partner_id=reseller_partner_id,
        partnership_status=status,
    )


_ATTESTATIONS = {
    "good_faith": "the decision was made in good faith",
    "legitimate_business_reason": "it was made for a legitimate business reason",
    "complies_with_contracts": "the termination complies with every contract with customers "
    "and partners",
    "holds_microsoft_harmless": "the provider defends and holds Microsoft harmless against "
    "third-party claims",
}


def require_removal_attestations(attestations: RemovalAttestations) -> None:
    """END-02: all four attestations must be true."""
    missing = [name for name in _ATTESTATIONS if not getattr(attestations, name)]
    if not missing:
        return
    raise AttestationMissing(
        "a partnership is removed only with all four attestations; not attested: "
        + "; ".join(f"{name} ({_ATTESTATIONS[name]})" for name in missing),
        missing=missing,
    )


class SelfDealingFacts(BaseModel):
    """What SELF-01..03 need about an invited customer (gathered by an activity)."""

    model_config = ConfigDict(frozen=True)

    customer_tenant_id: str
    customer_partner_id: str | None
    customer_is_affiliate: bool
    seller_partner_ids: tuple[str, ...]
    """The reseller, and the provider of a joint invitation."""
    csp_tenant_owner: str | None
    """The partner whose CSP tenant the customer tenant is, as the registry knows it."""
    provider_partner_id: str | None
    customer_partnership_with_provider: str | None = None
    """Status of a partnership in which the customer's PartnerID is the provider's reseller."""


def self_dealing_problems(facts: SelfDealingFacts) -> list[str]:
    problems: list[str] = []
    if facts.customer_partner_id is not None and facts.customer_partner_id in (
        facts.seller_partner_ids
    ):
        problems.append(
            f"SELF-01: the customer is PartnerID {facts.customer_partner_id} itself; partners "
            "may not sell to themselves"
        )
    if facts.customer_is_affiliate:
        problems.append(
            "SELF-01: the customer is an affiliate of the selling partner; partners may not sell "
            "to their affiliates as end customers"
        )
    if facts.csp_tenant_owner is not None:
        problems.append(
            f"SELF-02: tenant {facts.customer_tenant_id} is the CSP tenant of PartnerID "
            f"{facts.csp_tenant_owner}; a partner buying for its own use buys from another "
            "reseller or direct-bill partner into a separate Customer-type tenant"
        )
    if facts.customer_partnership_with_provider == ACTIVE_PARTNERSHIP_STATUS:
        problems.append(
            f"SELF-03: PartnerID {facts.customer_partner_id} is already an indirect reseller of "
            f"provider {facts.provider_partner_id} and cannot also be its end customer; use "
            "another tenant, another provider, or a second reseller relationship"
        )
    return problems


def require_no_self_dealing(facts: SelfDealingFacts) -> None:
    """SELF-01..03, naming every problem found."""
    problems = self_dealing_problems(facts)
    if problems:
        raise SelfDealing(
            f"customer tenant {facts.customer_tenant_id} cannot be invited: " + "; ".join(problems),
            customer_tenant_id=facts.customer_tenant_id,
            problems=problems,
        )


def require_commerce_relationship(
    *,
    provider_partner_id: str,
    customer_tenant_id: str,
    relationships: Sequence[CustomerRelationshipRecord],
) -> CustomerRelationshipRecord:
    """CUS-01 / CUS-03: a provider orders for a customer only through an accepted joint invitation
    (the customer's reseller relationship with it). Returns that relationship."""
    for record in relationships:
        if (
            record.customer_tenant_id == customer_tenant_id
            and record.provider_partner_id == provider_partner_id
            and record.status.is_accepted
        ):
            return record
    seen = ", ".join(
        f"{r.kind.value} with reseller {r.reseller_partner_id} ({r.status.value})"
        for r in relationships
    )
    raise NoCommerceRelationship(
        f"provider {provider_partner_id} has no accepted reseller relationship with customer "
        f"{customer_tenant_id}" + (f" (known: {seen})" if seen else "") + "; the customer must "
        "accept a joint invitation from the reseller and this provider first",
        provider_partner_id=provider_partner_id,
        customer_tenant_id=customer_tenant_id,
    )


def require_customer_agreement(
    *, customer_tenant_id: str, agreement: CustomerAgreementRecord | None, now: datetime
) -> None:
    """CUS-04: the customer accepted the Microsoft Customer Agreement before any order."""
    if agreement is not None and agreement.accepted_at <= now:
        return
    raise McaNotAccepted(
        f"customer {customer_tenant_id} has no attested acceptance of the Microsoft Customer "
        "Agreement; attest it (attest_customer_agreement) before ordering",
        customer_tenant_id=customer_tenant_id,
    )


def require_valid_agreement_attestation(
    attestation: CustomerAgreementAttestation, *, now: datetime
) -> None:
    """CUS-04: an attestation names when the customer accepted, which cannot be in the future."""
    accepted_at = attestation.accepted_at
    if accepted_at.tzinfo is None:
        raise DecisionInvalid("accepted_at must carry a time zone, e.g. 2026-01-05T09:00:00Z")
    if accepted_at > now:
        raise DecisionInvalid(
            f"the Microsoft Customer Agreement cannot have been accepted at "
            f"{show_instant(accepted_at)}, which is after now ({show_instant(now)})",
            accepted_at=accepted_at,
        )


def require_same_customer(*, expected: str, reported: str) -> None:
    """CUS-03: an acceptance delivery must be for the invited customer."""
    if expected != reported:
        raise DecisionInvalid(
            f"this invitation is for customer {expected}; the acceptance reported names {reported}",
            expected=expected,
            reported=reported,
        )


def reminder_times(
    sent_at: datetime, reminders: Sequence[timedelta], expiry: timedelta
) -> tuple[tuple[datetime, ...], datetime]:
    """REL-04 / CUS-02: when to remind (only strictly before the expiry) and the expiry instant."""
    deadline = sent_at + expiry
    return tuple(sent_at + r for r in reminders if sent_at + r < deadline), deadline
