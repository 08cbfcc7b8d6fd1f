"""Enrollment rules at their edges: no I/O, no Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from domain.business_days import add_business_days
from domain.enrollment_rules import (
    TransactReadiness,
    require_can_transact,
    require_resend_allowed,
    require_same_region,
)
from domain.errors import MpaNotSigned, NotReadyToTransact, RegionMismatch, ResendTooSoon
from domain.reseller_enrollment import ResellerEnrollmentApplication, ReviewDecision
from tests.conftest import application

FRIDAY_3PM = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (datetime(2026, 11, 16, 9, 0, tzinfo=UTC), datetime(2026, 11, 17, 9, 0, tzinfo=UTC)),
        (FRIDAY_3PM, datetime(2026, 11, 23, 15, 0, tzinfo=UTC)),
        (datetime(2026, 11, 21, 10, 0, tzinfo=UTC), datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
        (datetime(2026, 11, 22, 10, 0, tzinfo=UTC), datetime(2026, 11, 23, 10, 0, tzinfo=UTC)),
    ],
    ids=["monday", "friday", "saturday", "sunday"],
)
def test_one_business_day_skips_weekends(start: datetime, expected: datetime) -> None:
    assert add_business_days(start, 1, "UTC") == expected


def test_zero_business_days_is_now() -> None:
    assert add_business_days(FRIDAY_3PM, 0, "UTC") == FRIDAY_3PM


def test_resend_allowed_at_exactly_one_business_day_not_a_second_before() -> None:
    allowed = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    require_resend_allowed(now=allowed, last_sent_at=FRIDAY_3PM, business_days=1, zone_name="UTC")
    with pytest.raises(ResendTooSoon) as refused:
        require_resend_allowed(
            now=allowed - timedelta(seconds=1),
            last_sent_at=FRIDAY_3PM,
            business_days=1,
            zone_name="UTC",
        )
    assert "2026-11-23T15:00:00+00:00" in refused.value.message
    assert refused.value.details["earliest_retry"] == "2026-11-23T15:00:00+00:00"


@pytest.mark.parametrize(
    ("sent", "zone_name", "expected"),
    [
        # Friday 01:00 in Tokyo is Thursday 16:00 UTC: the next business day there is Monday.
        (
            datetime(2025, 1, 9, 16, 0, tzinfo=UTC),
            "Asia/Tokyo",
            datetime(2025, 1, 12, 16, 0, tzinfo=UTC),
        ),
        # Thursday 23:00 in Tokyo is Thursday 14:00 UTC: Friday there, as in UTC.
        (
            datetime(2025, 1, 9, 14, 0, tzinfo=UTC),
            "Asia/Tokyo",
            datetime(2025, 1, 10, 14, 0, tzinfo=UTC),
        ),
        # Friday 18:00 in Los Angeles is Saturday 02:00 UTC: Monday 18:00 there.
        (
            datetime(2025, 1, 11, 2, 0, tzinfo=UTC),
            "America/Los_Angeles",
            datetime(2025, 1, 14, 2, 0, tzinfo=UTC),
        ),
        # Across the switch to summer time the wall-clock hour is kept (Friday 09:00 PST ->
        # Monday 09:00 PDT, one hour less in UTC).
        (
            datetime(2025, 3, 7, 17, 0, tzinfo=UTC),
            "America/Los_Angeles",
            datetime(2025, 3, 10, 16, 0, tzinfo=UTC),
        ),
    ],
    ids=["tokyo-friday-is-utc-thursday", "tokyo-thursday", "los-angeles-friday", "summer-time"],
)
def test_business_days_are_weekdays_in_the_business_time_zone(
    sent: datetime, zone_name: str, expected: datetime
) -> None:
    """ENR-06 ("resend allowed after 1 business day") counted as DB-07 says: calendar dates in
    the one configured business time zone."""
    assert add_business_days(sent, 1, zone_name) == expected
    require_resend_allowed(now=expected, last_sent_at=sent, business_days=1, zone_name=zone_name)
    with pytest.raises(ResendTooSoon) as refused:
        require_resend_allowed(
            now=expected - timedelta(seconds=1),
            last_sent_at=sent,
            business_days=1,
            zone_name=zone_name,
        )
    assert f"weekdays in {zone_name}" in refused.value.message


def test_same_region_passes_and_mismatch_names_both() -> None:
    require_same_region(partner_id="1234567", profile_country="JP", tenant_country="JP")
    with pytest.raises(RegionMismatch) as refused:
        require_same_region(partner_id="1234567", profile_country="US", tenant_country="JP")
    assert refused.value.error_type == "RegionMismatch"
    assert "registered in US" in refused.value.message
    assert "tenant is in JP" in refused.value.message


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        ((True, True, True), None),
        ((True, True, False), MpaNotSigned),
        ((True, False, True), NotReadyToTransact),
        ((False, True, True), NotReadyToTransact),
        ((False, False, False), NotReadyToTransact),
    ],
)
def test_can_transact_needs_all_three(flags: tuple[bool, bool, bool], error: type | None) -> None:
    readiness = TransactReadiness(
        partner_center_onboarded=flags[0], reseller_enrolled=flags[1], mpa_signed=flags[2]
    )
    assert readiness.can_transact is (error is None)
    if error is None:
        require_can_transact("1234567", readiness)
    else:
        with pytest.raises(error):
            require_can_transact("1234567", readiness)


def _invalid(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as refused:
        ResellerEnrollmentApplication.model_validate(application(**overrides))
    return str(refused.value)


def test_a_valid_application_is_canonicalised() -> None:
    parsed = ResellerEnrollmentApplication.model_validate(
        application(partner_id=" 1234567 ", address={**application()["address"], "country": "jp"})
    )
    assert parsed.partner_id == "1234567"
    assert parsed.address.country == "JP"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"applicant_authorized": False}, "authorised to act"),
        ({"tenant_id": None}, "exactly one of tenant_id"),
        ({"new_tenant_domain": "contosojp"}, "exactly one of tenant_id"),
        ({"partner_id": "12AB"}, "5 to 10 digits"),
        ({"legal_name": "  "}, "legal_name"),
        ({"global_admin": "not-an-email"}, "global_admin"),
        ({"unexpected": 1}, "Extra inputs are not permitted"),
        ({"already_in_csp": True, "tenant_id": None, "new_tenant_domain": "x1"}, "existing"),
    ],
)
def test_application_edges(overrides: dict[str, Any], message: str) -> None:
    assert message in _invalid(**overrides)


def test_primary_contact_must_be_an_employee() -> None:
    app = application()
    app["primary_contact"] = {**app["primary_contact"], "is_employee": False}
    with pytest.raises(ValidationError, match="must be an employee"):
        ResellerEnrollmentApplication.model_validate(app)


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="reason"):
        ReviewDecision(decision="reject", reason=" ", decided_by="backend")
    ReviewDecision(decision="approve", decided_by="backend")
