"""Partner of Record (POR) validation on new subscription orders (DOMAIN.md POR-01..05, MPA-02,
REL-02) as pure functions. The date gate is a parameter: `enforced_from` (a setting, 2025-09-01
00:00 UTC by default).

From `enforced_from` on, every failed condition blocks the order (POR-03). Before it the order
proceeds and the date-gated failures are recorded as warnings; MPA-02 and REL-02 are not
date-gated: a provider never attaches an IR that has not signed the MPA, or that is not its
partner, to a subscription.
"""

from __future__ import annotations

from datetime import datetime

from domain import regions
from domain.calendar import show_instant
from domain.errors import MpaNotSigned, PorInvalid
from domain.relationship_rules import ACTIVE_PARTNERSHIP_STATUS, ONBOARDED_RESELLER_STATUS
from domain.relationships import PorFacts, PorFailure, PorVerdict

POR_NAMED = "POR-01"
POR_AUTHORIZED = "POR-02a"
POR_SAME_REGION = "POR-02b"
POR_VALID_PLA = "POR-02c"
POR_PURCHASE_COUNTRY = "POR-05"
MPA_SIGNED = "MPA-02"
PARTNERSHIP = "REL-02"

NOT_DATE_GATED = frozenset({MPA_SIGNED, PARTNERSHIP})


def por_enforced(now: datetime, enforced_from: datetime) -> bool:
    """POR-01: validation applies from the first instant of `enforced_from` on."""
    return now >= enforced_from


def _in_one_csp_region(first_country: str, second_country: str) -> bool:
    return (
        regions.is_csp_market(first_country)
        and regions.is_csp_market(second_country)
        and regions.same_region(first_country, second_country)
    )


def por_failures(
    facts: PorFacts | None,
    *,
    provider_partner_id: str,
    provider_country: str,
    purchase_country: str,
) -> tuple[PorFailure, ...]:
    """Every condition the named POR fails; `facts` is None when no POR is named."""
    if facts is None:
        return (
            PorFailure(
                condition=POR_NAMED,
                problem="no Partner of Record is named; a new order names an authorized "
                "indirect reseller",
            ),
        )
    pid = facts.partner_id
    failures: list[PorFailure] = []
    validation = facts.partner_center
    if not validation.is_valid:
        code = f"error {validation.error_code}" if validation.error_code else "no error code"
        failures.append(
            PorFailure(
                condition=POR_AUTHORIZED,
                problem=f"Partner Center does not accept PartnerID {pid} as Partner of Record "
                f"({code}: {validation.error_description or 'not a valid partner of record'})",
            )
        )
    if facts.reseller_status is not None and facts.reseller_status != ONBOARDED_RESELLER_STATUS:
        failures.append(
            PorFailure(
                condition=POR_AUTHORIZED,
                problem=f"PartnerID {pid} is not an authorized indirect reseller (its "
                f"enrollment is {facts.reseller_status})",
            )
        )
    if facts.suspended_since is not None:
        failures.append(
            PorFailure(
                condition=POR_AUTHORIZED,
                problem=f"the tenant of PartnerID {pid} is suspended since "
                f"{show_instant(facts.suspended_since)} (POR-04)",
            )
        )
    if facts.profile_country is None:
        failures.append(
            PorFailure(
                condition=POR_VALID_PLA,
                problem=f"PartnerID {pid} is not linked to a valid partner location account "
                "(Partner Center has no profile for it)",
            )
        )
    else:
        if not _in_one_csp_region(facts.profile_country, provider_country):
            # POR-02(b): the same CSP regional market (REG-01's table), not the same country.
            failures.append(
                PorFailure(
                    condition=POR_SAME_REGION,
                    problem=regions.describe_mismatch(
                        f"PartnerID {pid} (its PLA)",
                        facts.profile_country,
                        f"provider {provider_partner_id}",
                        provider_country,
                    ),
                )
            )
        if facts.profile_country != purchase_country:
            failures.append(
                PorFailure(
                    condition=POR_PURCHASE_COUNTRY,
                    problem=f"PartnerID {pid} is the PLA for {facts.profile_country}; use the "
                    f"reseller's PLA for {purchase_country}, the country of purchase",
                )
            )
    if facts.mpa_signed is False:
        failures.append(
            PorFailure(
                condition=MPA_SIGNED,
                problem=f"PartnerID {pid} has not signed the Microsoft Partner Agreement",
            )
        )
    if facts.partnership_status != ACTIVE_PARTNERSHIP_STATUS:
        state = facts.partnership_status or "none"
        failures.append(
            PorFailure(
                condition=PARTNERSHIP,
                problem=f"PartnerID {pid} has no active partnership with provider "
                f"{provider_partner_id} (partnership: {state})",
            )
        )
    return tuple(failures)


def evaluate_partner_of_record(
    facts: PorFacts | None,
    *,
    provider_partner_id: str,
    provider_country: str,
    purchase_country: str,
    now: datetime,
    enforced_from: datetime,
) -> PorVerdict:
    """POR-01..05 + MPA-02 + REL-02 for one order at `now`."""
    failures = por_failures(
        facts,
        provider_partner_id=provider_partner_id,
        provider_country=provider_country,
        purchase_country=purchase_country,
    )
    enforced = por_enforced(now, enforced_from)
    if enforced:
        blocking = failures
        warnings: tuple[str, ...] = ()
    else:
        blocking = tuple(f for f in failures if f.condition in NOT_DATE_GATED)
        warnings = tuple(
            f"{f.condition}: {f.problem} (enforced from {show_instant(enforced_from)})"
            for f in failures
            if f.condition not in NOT_DATE_GATED
        )
    return PorVerdict(
        partner_of_record=facts.partner_id if facts else None,
        checked_at=now,
        enforced=enforced,
        enforced_from=enforced_from,
        failures=failures,
        blocking=blocking,
        warnings=warnings,
    )


def require_valid_partner_of_record(
    verdict: PorVerdict, *, order_ref: str, subject_kind: str = "order"
) -> None:
    """POR-03: an invalid POR blocks the order with an error naming every failed condition.
    A POR whose only problem is the unsigned MPA is refused as `MpaNotSigned` (MPA-02).
    `subject_kind`: what is blocked ("order", or "subscription" when a reseller is named on an
    existing subscription, REL-06)."""
    if verdict.valid:
        return
    named = verdict.partner_of_record
    subject = f"Partner of Record {named}" if named else "the Partner of Record"
    listed = "; ".join(f"[{f.condition}] {f.problem}" for f in verdict.blocking)
    conditions = [f.condition for f in verdict.blocking]
    details = {
        "order_ref": order_ref,
        "partner_of_record": named,
        "failed_conditions": conditions,
        "enforced_from": verdict.enforced_from,
    }
    message = (
        f"{subject_kind} {order_ref} is blocked: {subject} fails {len(conditions)} "
        f"condition(s): {listed}. "
        "Set a valid Partner of Record to retry"
    )
    if set(conditions) == {MPA_SIGNED}:
        raise MpaNotSigned(message, **details)
    raise PorInvalid(message, **details)
