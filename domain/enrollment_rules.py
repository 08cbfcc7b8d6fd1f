"""The indirect-reseller enrollment rules that are not plain field validation.

Field-level rules (ENR-05) live on `ResellerEnrollmentApplication`; these take the results of
lookups and decide. Each raises a `BusinessRuleViolation` subtype with an operator-readable message.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from domain.business_days import add_business_days
from domain.calendar import show_instant
from domain.errors import MpaNotSigned, NotReadyToTransact, RegionMismatch, ResendTooSoon


def require_same_region(
    *, partner_id: str, profile_country: str | None, tenant_country: str
) -> None:
    """ENR-04: the PartnerID's profile must be in the tenant's country/region.

    `profile_country` is None when Partner Center documents no country for the PartnerID (its MPN
    profile has none; only the signed-in partner's own legal business profile and the signed-in
    partner's relationships list carry countries): the check is then Partner Center's, at the MPA
    status (2201) and at the first order (2030)."""
    if profile_country is not None and profile_country != tenant_country:
        raise RegionMismatch(
            f"PartnerID {partner_id} is registered in {profile_country} but the tenant is in "
            f"{tenant_country}; enroll with the PartnerID (PLA) of {tenant_country}",
            partner_id=partner_id,
            profile_country=profile_country,
            tenant_country=tenant_country,
        )


def earliest_resend(last_sent_at: datetime, business_days: int, zone_name: str) -> datetime:
    """ENR-06: a verification email may be resent once this many business days (weekdays in the
    business time zone) have passed."""
    return add_business_days(last_sent_at, business_days, zone_name)


def require_resend_allowed(
    *, now: datetime, last_sent_at: datetime, business_days: int, zone_name: str
) -> None:
    allowed_from = earliest_resend(last_sent_at, business_days, zone_name)
    if now < allowed_from:
        raise ResendTooSoon(
            f"the verification email was sent at {show_instant(last_sent_at)}; it can be resent "
            f"from {show_instant(allowed_from)} (after {business_days} business day(s), "
            f"weekdays in {zone_name})",
            earliest_retry=allowed_from,
        )


class TransactReadiness(BaseModel):
    """ENR-09 / MPA-02: the three conditions an indirect reseller needs to transact."""

    model_config = ConfigDict(frozen=True)

    partner_center_onboarded: bool
    reseller_enrolled: bool
    mpa_signed: bool

    @property
    def missing(self) -> list[str]:
        names = {
            "partner_center_onboarded": "Partner Center onboarding",
            "reseller_enrolled": "indirect-reseller enrollment",
            "mpa_signed": "Microsoft Partner Agreement signature",
        }
        return [label for field, label in names.items() if not getattr(self, field)]

    @property
    def can_transact(self) -> bool:
        return not self.missing


def require_can_transact(partner_id: str, readiness: TransactReadiness) -> None:
    """ENR-09 / MPA-02: refuse new business with a reseller that lacks any of the three."""
    missing = readiness.missing
    if not missing:
        return
    error = (
        MpaNotSigned if missing == ["Microsoft Partner Agreement signature"] else NotReadyToTransact
    )
    raise error(
        f"PartnerID {partner_id} cannot transact new business yet: missing " + ", ".join(missing),
        partner_id=partner_id,
        missing=missing,
    )


def require_reseller_can_transact(
    partner_id: str, *, enrolled: bool, mpa_signed: bool | None
) -> None:
    """ENR-09 / MPA-02 / IND-01 where a reseller transacts (a partnership, a joint invitation,
    an order's Partner of Record): onboarded in Partner Center (its profile was found), enrolled
    as an indirect reseller (REL-01: Partner Center knows its indirect-reseller account, or our
    own enrollment of it is active) and the MPA signed. `mpa_signed` None means Partner Center
    did not say (an older history, or an answer that says nothing of it): not held against it."""
    require_can_transact(
        partner_id,
        TransactReadiness(
            partner_center_onboarded=True,
            reseller_enrolled=enrolled,
            mpa_signed=mpa_signed is not False,
        ),
    )


def require_provider_mpa_signed(provider_partner_id: str, mpa_signed: bool | None) -> None:
    """MPA-01: the indirect provider transacts only under its own signed Microsoft Partner
    Agreement. None (not asked, an older history) is not held against it."""
    if mpa_signed is False:
        raise MpaNotSigned(
            f"provider {provider_partner_id} has not signed the Microsoft Partner Agreement; it "
            "cannot take on resellers or customers until it signs it in Partner Center (MPA-01)",
            partner_id=provider_partner_id,
            missing=["Microsoft Partner Agreement signature"],
        )
