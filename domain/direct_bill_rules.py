"""The direct-bill rules: the application gate (DB-07, DB-10, RA-03) and the eligibility
requirements (DB-01..DB-05). Pure functions over facts the activities look up."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time
from decimal import Decimal

from domain.calendar import (
    DEFAULT_BUSINESS_TIME_ZONE,
    add_months_to_date,
    add_years_to_date,
    business_date,
    show_instant,
    start_of_day,
    zone,
)
from domain.direct_bill import (
    EligibilityCheck,
    PartnerRole,
    RevenueLine,
    SecurityRequirements,
    TtmRevenue,
)
from domain.errors import (
    ApplicantNotGlobalAdmin,
    ApplicationInProgress,
    ApplicationWindowClosed,
    CooldownActive,
    EligibilityNotMet,
    RegionAlreadyApproved,
)

TTM_REVENUE_THRESHOLD_USD = Decimal("1000000.00")
TENURE_MONTHS = 12
COOLDOWN_YEARS = 1


def _usd(amount: Decimal) -> str:
    return f"USD {amount:,.2f}"


# ---- gate ---------------------------------------------------------------------------------------


def require_window_open(
    now: datetime,
    closures: Iterable[tuple[datetime, datetime]],
    zone_name: str = DEFAULT_BUSINESS_TIME_ZONE,
) -> None:
    """DB-07: no new application inside a closure [start, end) (calendar dates in the business
    time zone: the settings' dates are the starts of those days there)."""
    for start, end in closures:
        if start <= now < end:
            raise ApplicationWindowClosed(
                f"direct-bill applications are closed from {_when(start, zone_name)} until "
                f"{_when(end, zone_name)} ({zone_name}); apply from {_when(end, zone_name)}",
                closed_from=start,
                earliest_retry=end,
                business_time_zone=zone_name,
            )


def _when(moment: datetime, zone_name: str) -> str:
    """A closure boundary: the date when it is a day's start in the zone, else the instant."""
    local = moment.astimezone(zone(zone_name))
    if local.time() == time(0):
        return local.date().isoformat()
    return show_instant(local)


def cooldown_end(decided_at: datetime, zone_name: str = DEFAULT_BUSINESS_TIME_ZONE) -> datetime:
    """RA-03: the first instant a new application is allowed after a rejection or transition.

    One year counted in calendar dates in the business time zone: rejected 2025-10-20 at 10:00,
    the partner may apply again any time on 2026-10-20 (from 00:00 that day)."""
    decided_on = business_date(decided_at, zone_name)
    return start_of_day(add_years_to_date(decided_on, COOLDOWN_YEARS), zone_name)


def require_no_cooldown(
    pga_id: str,
    now: datetime,
    cooldown_until: datetime | None,
    zone_name: str = DEFAULT_BUSINESS_TIME_ZONE,
) -> None:
    """RA-03, compared by calendar date: from the date of `cooldown_until` (in the business time
    zone) the partner may apply, whatever the hour recorded with it."""
    if cooldown_until is None:
        return
    allowed_on = business_date(cooldown_until, zone_name)
    if business_date(now, zone_name) < allowed_on:
        raise CooldownActive(
            f"PGA {pga_id} must wait one year after its last rejection or transition; it can "
            f"apply again from {allowed_on.isoformat()} (any time that day, {zone_name})",
            pga_id=pga_id,
            earliest_retry=allowed_on.isoformat(),
            business_time_zone=zone_name,
        )


def require_region_free(
    *,
    pga_id: str,
    region: str,
    existing_status: str | None,
    existing_workflow_id: str | None,
    workflow_id: str,
) -> None:
    """DB-10: one pipeline per PGA and region; an approved region is not applied for again."""
    if existing_status == "active":
        raise RegionAlreadyApproved(
            f"PGA {pga_id} is already a direct-bill partner in {region}", region=region
        )
    if existing_status == "applying" and existing_workflow_id != workflow_id:
        raise ApplicationInProgress(
            f"PGA {pga_id} already has a direct-bill application for {region} in progress "
            f"({existing_workflow_id})",
            region=region,
            workflow_id=existing_workflow_id,
        )


def require_global_admin(role: PartnerRole) -> None:
    if role is not PartnerRole.GLOBAL_ADMIN:
        raise ApplicantNotGlobalAdmin(
            f"a direct-bill application must be made by a Global admin, not a {role.value}",
            role=role.value,
        )


# ---- eligibility --------------------------------------------------------------------------------


def check_tenure(
    ir_authorized_at: datetime | None,
    now: datetime,
    zone_name: str = DEFAULT_BUSINESS_TIME_ZONE,
) -> EligibilityCheck:
    """DB-01: at least 12 months as an indirect reseller, counted from the IR authorisation in
    calendar dates in the business time zone (authorized 2024-11-15: met on 2025-11-15)."""
    threshold = f"{TENURE_MONTHS} months as an indirect reseller"
    if ir_authorized_at is None:
        return EligibilityCheck(
            rule="DB-01",
            error_type="TenureInsufficient",
            requirement="tenure",
            passed=False,
            figure="not an authorised indirect reseller",
            threshold=threshold,
            message="the PLA has no indirect-reseller authorisation on record",
        )
    authorized_on = business_date(ir_authorized_at, zone_name)
    eligible_on = add_months_to_date(authorized_on, TENURE_MONTHS)
    passed = business_date(now, zone_name) >= eligible_on
    return EligibilityCheck(
        rule="DB-01",
        error_type=None if passed else "TenureInsufficient",
        requirement="tenure",
        passed=passed,
        figure=f"indirect reseller since {authorized_on.isoformat()}",
        since=ir_authorized_at,
        threshold=(
            threshold if passed else f"{threshold}, from {eligible_on.isoformat()} ({zone_name})"
        ),
        message=(
            f"{TENURE_MONTHS} months as an indirect reseller were reached on "
            f"{eligible_on.isoformat()}"
            if passed
            else f"{TENURE_MONTHS} months as an indirect reseller are reached on "
            f"{eligible_on.isoformat()} ({zone_name})"
        ),
    )


def onboarding_anniversary_month(
    ir_authorized_at: datetime | None, zone_name: str = DEFAULT_BUSINESS_TIME_ZONE
) -> int | None:
    """DB-04: the month of the original CSP onboarding (the IR authorisation, as DB-01 counts
    tenure from it), in the business time zone: the month the security score is re-validated in
    every year. Authorised 2024-10-31T16:00Z in Asia/Tokyo is November."""
    if ir_authorized_at is None:
        return None
    return business_date(ir_authorized_at, zone_name).month


def total_ttm_revenue(lines: Sequence[RevenueLine]) -> Decimal:
    """DB-03: summed over every CSP tenant of the PGA, perpetual software included."""
    return sum((line.cloud_usd + line.perpetual_software_usd for line in lines), Decimal(0))


def check_ttm_revenue(lines: Sequence[RevenueLine]) -> EligibilityCheck:
    total = total_ttm_revenue(lines)
    passed = total >= TTM_REVENUE_THRESHOLD_USD
    return EligibilityCheck(
        rule="DB-03",
        error_type="RevenueInsufficient",
        requirement="ttm_revenue",
        passed=passed,
        figure=f"{_usd(total)} over {len(lines)} CSP tenant(s)",
        threshold=f"at least {_usd(TTM_REVENUE_THRESHOLD_USD)} TTM at PGA level",
        message=(
            "revenue requirement met"
            if passed
            else f"TTM revenue {_usd(total)} is {_usd(TTM_REVENUE_THRESHOLD_USD - total)} short"
        ),
    )


def check_ttm_revenue_figure(
    revenue: TtmRevenue, now: datetime, zone_name: str, max_age_days: int
) -> EligibilityCheck:
    """DB-03 on a figure that carries its period and as-of date. A figure stated as of more than
    `max_age_days` calendar days before today (in the business time zone), or dated after today,
    is refused as unknown (`RevenueFigureStale`): the amount is not judged at all."""
    today = business_date(now, zone_name)
    period = f"{revenue.period_start.isoformat()} to {revenue.period_end.isoformat()}"
    as_of = revenue.as_of.isoformat()
    age = (today - revenue.as_of).days
    if age > max_age_days or age < 0:
        when = f"{age} day(s) old" if age > 0 else f"dated after today ({today.isoformat()})"
        return EligibilityCheck(
            rule="DB-03",
            error_type="RevenueFigureStale",
            requirement="ttm_revenue",
            passed=False,
            figure=f"unknown: the TTM revenue for {period} is stated as of {as_of}",
            threshold=f"a figure at most {max_age_days} day(s) old (revenue_max_age), "
            f"of at least {_usd(TTM_REVENUE_THRESHOLD_USD)} TTM at PGA level",
            message=f"the TTM revenue figure as of {as_of} is {when}, beyond the limit of "
            f"{max_age_days} day(s) ({zone_name} dates): ask the partner program for a current "
            "figure, then check again",
            since=start_of_day(revenue.period_start, zone_name),
        )
    check = check_ttm_revenue(revenue.lines)
    return check.model_copy(
        update={
            "figure": f"{check.figure} for {period}, as of {as_of}",
            "since": start_of_day(revenue.period_start, zone_name),
        }
    )


def check_security(requirements: SecurityRequirements) -> EligibilityCheck:
    """DB-04: MFA for every admin, a security contact, prompt response to security alerts."""
    gaps = []
    if requirements.admins_required_not_using_mfa_count:
        gaps.append(f"{requirements.admins_required_not_using_mfa_count} admin(s) without MFA")
    if not requirements.security_contact_provided:
        gaps.append("no security contact")
    if not requirements.security_alerts_promptly_resolved:
        hours = requirements.average_response_time_in_hours
        gaps.append(
            "security alerts not resolved promptly"
            + (f" (average {hours:g} h)" if hours is not None else "")
        )
    return EligibilityCheck(
        rule="DB-04",
        error_type="SecurityNonCompliant",
        requirement="security_score",
        passed=not gaps,
        figure="; ".join(gaps) if gaps else "all mandatory requirements met",
        threshold="MFA for every admin, a security contact, prompt alert response",
        message="security requirements met" if not gaps else "security score: " + "; ".join(gaps),
    )


def check_designations(designations: Sequence[str]) -> EligibilityCheck:
    """DB-05: at least one Solutions Partner designation."""
    held = [d for d in designations if d.strip()]
    return EligibilityCheck(
        rule="DB-05",
        error_type="DesignationMissing",
        requirement="solutions_partner_designation",
        passed=bool(held),
        figure=", ".join(held) if held else "none",
        threshold="at least one Solutions Partner designation",
        message="designation requirement met" if held else "no Solutions Partner designation",
    )


def check_program(
    *,
    membership_active: bool,
    pla_country: str | None,
    region: str,
    authority_to_accept_agreements: bool,
    first_level_support: bool,
) -> EligibilityCheck:
    """DB-02: membership, a PLA where it sells, agreement authority, first-level support."""
    gaps = []
    if not membership_active:
        gaps.append("partner-program membership is not active")
    if pla_country != region:
        gaps.append(f"the PLA is registered in {pla_country or 'no known country'}, not {region}")
    if not authority_to_accept_agreements:
        gaps.append("no authority to accept agreements")
    if not first_level_support:
        gaps.append("no first-level support capability")
    return EligibilityCheck(
        rule="DB-02",
        error_type="ProgramRequirementMissing",
        requirement="program_membership",
        passed=not gaps,
        figure="; ".join(gaps) if gaps else "all met",
        threshold=f"active membership, a PLA in {region}, agreement authority, first-level support",
        message="program requirements met" if not gaps else "; ".join(gaps),
    )


def require_eligible(checks: Sequence[EligibilityCheck]) -> None:
    """All failures together, each with its figure and threshold."""
    failed = [c for c in checks if not c.passed]
    if failed:
        raise EligibilityNotMet(
            "direct-bill requirements not met: "
            + "; ".join(
                f"{c.rule} {c.error_type}: {c.figure} (needs {c.threshold})" for c in failed
            ),
            failures=[c.model_dump() for c in failed],
        )
