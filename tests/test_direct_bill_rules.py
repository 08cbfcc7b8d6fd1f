"""Direct-bill rules at their edges (DB-01..DB-07, RA-03, DB-06 scoring)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.partner_center import PartnerCenterUnavailable
from adapters.partner_programs.local import LocalPartnerPrograms, ttm_revenue_entry
from domain import direct_bill_rules as rules
from domain.calendar import add_months
from domain.capability_assessment import (
    AssessmentWeights,
    CapabilityQuestionnaire,
    score_assessment,
)
from domain.direct_bill import PartnerRole, RevenueLine, SecurityRequirements, TtmRevenue
from domain.errors import (
    ApplicantNotGlobalAdmin,
    ApplicationInProgress,
    ApplicationWindowClosed,
    CooldownActive,
    EligibilityNotMet,
    InvalidSourceData,
    RegionAlreadyApproved,
)

CLOSURE = (datetime(2025, 5, 1, tzinfo=UTC), datetime(2025, 10, 1, tzinfo=UTC))
TICK = timedelta(microseconds=1)


def _line(cloud: str, perpetual: str = "0", tenant: str = "t") -> RevenueLine:
    return RevenueLine(
        tenant_id=tenant, cloud_usd=Decimal(cloud), perpetual_software_usd=Decimal(perpetual)
    )


@pytest.mark.parametrize(
    ("lines", "passed"),
    [
        ([_line("1000000.00")], True),
        ([_line("999999.99")], False),
        ([_line("600000.00", tenant="a"), _line("400000.00", tenant="b")], True),
        ([_line("600000.00", tenant="a"), _line("399999.99", tenant="b")], False),
        ([_line("900000.00", "100000.00")], True),
        ([], False),
    ],
    ids=["exactly-1M", "one-cent-short", "two-tenants", "two-tenants-short", "perpetual", "none"],
)
def test_ttm_revenue_threshold(lines: list[RevenueLine], passed: bool) -> None:
    check = rules.check_ttm_revenue(lines)
    assert check.passed is passed
    assert check.threshold == "at least USD 1,000,000.00 TTM at PGA level"


def test_revenue_shortfall_is_named() -> None:
    check = rules.check_ttm_revenue([_line("999999.99")])
    assert check.figure == "USD 999,999.99 over 1 CSP tenant(s)"
    assert "USD 0.01 short" in check.message


def test_revenue_is_decimal_not_float() -> None:
    lines = [_line("0.10", tenant=str(i)) for i in range(10)]
    assert rules.total_ttm_revenue(lines) == Decimal("1.00")


AUTHORIZED = datetime(2024, 3, 15, 9, 30, tzinfo=UTC)


def test_tenure_is_counted_in_calendar_dates() -> None:
    """DB-01 (seed 004: "直接パートナーとして登録する前に、少なくとも 12
    か月間間接リセラーとして取引する
    必要があります。";
    DOMAIN.md RA-03: "Tenure is counted the same way (authorized 2024-11-15: 12 months on
    2025-11-15)"): met from the first instant of the anniversary date, whatever the hour of the
    authorisation; a passed check shows no error type."""
    authorized = datetime(2024, 11, 15, 17, 45, tzinfo=UTC)
    on_the_day = datetime(2025, 11, 15, 0, 0, tzinfo=UTC)
    met = rules.check_tenure(authorized, on_the_day)
    assert met.passed and met.error_type is None
    assert "reached on 2025-11-15" in met.message
    short = rules.check_tenure(authorized, on_the_day - TICK)
    assert not short.passed
    assert short.error_type == "TenureInsufficient"
    assert "reached on 2025-11-15 (UTC)" in short.message


def test_tenure_dates_are_read_in_the_business_time_zone() -> None:
    """DB-07 (DOMAIN.md): every date rule counts calendar dates in one business time zone. In
    Tokyo, 2024-11-14T16:00Z is already 2024-11-15, so tenure is met from 2025-11-15 00:00 JST
    (2025-11-14T15:00Z); read in UTC the authorisation is dated 2024-11-14 and met a day earlier."""
    authorized = datetime(2024, 11, 14, 16, 0, tzinfo=UTC)
    start_in_tokyo = datetime(2025, 11, 14, 15, 0, tzinfo=UTC)
    assert rules.check_tenure(authorized, start_in_tokyo, "Asia/Tokyo").passed
    assert not rules.check_tenure(authorized, start_in_tokyo - TICK, "Asia/Tokyo").passed
    utc_anniversary = datetime(2025, 11, 14, 0, 0, tzinfo=UTC)  # 09:00 JST on 2025-11-14
    assert rules.check_tenure(authorized, utc_anniversary, "UTC").passed
    assert not rules.check_tenure(authorized, utc_anniversary, "Asia/Tokyo").passed


def test_tenure_month_end_clamps() -> None:
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)


def test_no_reseller_authorisation_fails_tenure() -> None:
    assert not rules.check_tenure(None, AUTHORIZED).passed


@pytest.mark.parametrize(
    ("now", "closed"),
    [
        (CLOSURE[0] - TICK, False),
        (CLOSURE[0], True),
        (CLOSURE[1] - TICK, True),
        (CLOSURE[1], False),
    ],
    ids=["before", "first-instant", "last-instant", "reopened"],
)
def test_application_window(now: datetime, closed: bool) -> None:
    if closed:
        with pytest.raises(ApplicationWindowClosed) as refused:
            rules.require_window_open(now, [CLOSURE])
        assert refused.value.details["earliest_retry"] == "2025-10-01T00:00:00+00:00"
    else:
        rules.require_window_open(now, [CLOSURE])


REJECTED_AT = datetime(2025, 10, 20, 10, 0, tzinfo=UTC)


def test_cooldown_is_one_calendar_year_counted_in_dates() -> None:
    """RA-03 (seed 004: "移行したパートナーは、直接請求資格を再申請するには 1
    年待つ必要があります。";
    DOMAIN.md RA-03:
    "rejected on 2025-10-20, the partner may apply again from 2026-10-20 (any time that day)")."""
    until = rules.cooldown_end(REJECTED_AT)
    assert until == datetime(2026, 10, 20, 0, 0, tzinfo=UTC)
    with pytest.raises(CooldownActive) as refused:
        rules.require_no_cooldown("4500001", until - TICK, until)
    assert "apply again from 2026-10-20 (any time that day, UTC)" in refused.value.message
    assert refused.value.details["earliest_retry"] == "2026-10-20"
    rules.require_no_cooldown("4500001", until, until)
    rules.require_no_cooldown("4500001", REJECTED_AT, None)


def test_a_cooldown_recorded_with_an_hour_ends_at_the_start_of_its_date() -> None:
    """RA-03: a cooldown stored before this rule (2026-10-20T10:00) is read as its date: at 09:00
    on 2026-10-20 the partner may apply."""
    legacy_until = datetime(2026, 10, 20, 10, 0, tzinfo=UTC)
    rules.require_no_cooldown("4500001", datetime(2026, 10, 20, 9, 0, tzinfo=UTC), legacy_until)
    with pytest.raises(CooldownActive):
        rules.require_no_cooldown(
            "4500001", datetime(2026, 10, 19, 23, 59, tzinfo=UTC), legacy_until
        )


def test_cooldown_in_the_business_time_zone() -> None:
    """RA-03 in Asia/Tokyo: rejected 2025-10-20 10:00 JST (01:00Z) -> from 2026-10-20 00:00 JST."""
    rejected = datetime(2025, 10, 20, 1, 0, tzinfo=UTC)
    until = rules.cooldown_end(rejected, "Asia/Tokyo")
    assert until == datetime(2026, 10, 19, 15, 0, tzinfo=UTC)
    rules.require_no_cooldown("4500001", until, until, "Asia/Tokyo")
    with pytest.raises(CooldownActive) as refused:
        rules.require_no_cooldown("4500001", until - TICK, until, "Asia/Tokyo")
    assert "2026-10-20" in refused.value.message and "Asia/Tokyo" in refused.value.message


def test_cooldown_across_a_leap_day() -> None:
    assert rules.cooldown_end(datetime(2024, 2, 29, tzinfo=UTC)) == datetime(
        2025, 2, 28, tzinfo=UTC
    )


def test_one_pipeline_per_region() -> None:
    free = {"pga_id": "4500001", "region": "JP", "workflow_id": "direct-bill-4500001-JP"}
    rules.require_region_free(existing_status=None, existing_workflow_id=None, **free)
    rules.require_region_free(existing_status="rejected", existing_workflow_id="x", **free)
    rules.require_region_free(
        existing_status="applying", existing_workflow_id="direct-bill-4500001-JP", **free
    )
    with pytest.raises(RegionAlreadyApproved):
        rules.require_region_free(existing_status="active", existing_workflow_id="x", **free)
    with pytest.raises(ApplicationInProgress):
        rules.require_region_free(existing_status="applying", existing_workflow_id="other", **free)


def test_only_a_global_admin_applies() -> None:
    rules.require_global_admin(PartnerRole.GLOBAL_ADMIN)
    with pytest.raises(ApplicantNotGlobalAdmin):
        rules.require_global_admin(PartnerRole.ADMIN_AGENT)


def _security(**changes: object) -> SecurityRequirements:
    base = SecurityRequirements(
        admins_required_not_using_mfa_count=0,
        security_contact_provided=True,
        security_alerts_promptly_resolved=True,
    )
    return base.model_copy(update=changes)


def test_security_requirements() -> None:
    assert rules.check_security(_security()).passed
    one_admin = rules.check_security(_security(admins_required_not_using_mfa_count=1))
    assert not one_admin.passed and one_admin.figure == "1 admin(s) without MFA"
    assert not rules.check_security(_security(security_contact_provided=False)).passed
    slow = rules.check_security(
        _security(security_alerts_promptly_resolved=False, average_response_time_in_hours=72.0)
    )
    assert not slow.passed and "average 72 h" in slow.figure


def test_designations_and_program() -> None:
    assert rules.check_designations(["Solutions Partner for Azure"]).passed
    assert not rules.check_designations([]).passed
    ok = {
        "membership_active": True,
        "pla_country": "JP",
        "region": "JP",
        "authority_to_accept_agreements": True,
        "first_level_support": True,
    }
    assert rules.check_program(**ok).passed  # type: ignore[arg-type]
    other_country = rules.check_program(**{**ok, "pla_country": "US"})  # type: ignore[arg-type]
    assert not other_country.passed and "registered in US, not JP" in other_country.figure


def test_all_failures_are_reported_together() -> None:
    checks = [
        rules.check_ttm_revenue([_line("500000.00")]),
        rules.check_security(_security(admins_required_not_using_mfa_count=2)),
        rules.check_designations(["Solutions Partner for Security"]),
    ]
    with pytest.raises(EligibilityNotMet) as refused:
        rules.require_eligible(checks)
    message = refused.value.message
    assert "DB-03 RevenueInsufficient: USD 500,000.00" in message
    assert "needs at least USD 1,000,000.00" in message
    assert "DB-04 SecurityNonCompliant: 2 admin(s) without MFA" in message
    assert "DB-05" not in message
    assert [f["error_type"] for f in refused.value.details["failures"]] == [
        "RevenueInsufficient",
        "SecurityNonCompliant",
    ]


def questionnaire(no: frozenset[str] = frozenset()) -> CapabilityQuestionnaire:
    fields = {
        "sell": [
            "certified_staff",
            "dedicated_sales_team",
            "api_integrated_billing_and_provisioning",
            "managed_services",
            "solution_expertise",
        ],
        "secure": [
            "mfa_enforced",
            "fraud_and_incident_monitoring",
            "compliance_resources",
            "customer_vetting_and_credit_checks",
            "purchase_commitment_capture",
        ],
        "support": ["ticketing_and_escalation", "certified_support_staff", "sla_metrics"],
    }
    answers = {
        category: {name: f"{category}.{name}" not in no for name in names}
        for category, names in fields.items()
    }
    return CapabilityQuestionnaire.model_validate({**answers, "submitted_by": "assessor"})


def test_assessment_scoring_by_category_weight() -> None:
    full = score_assessment(questionnaire(), AssessmentWeights())
    assert full.total == Decimal("100.00") and full.passed and full.missing == ()
    partial = score_assessment(
        questionnaire(frozenset({"sell.managed_services", "support.sla_metrics"})),
        AssessmentWeights(),
    )
    assert partial.sell == Decimal("32.00")
    assert partial.support == Decimal("16.67")
    assert partial.total == Decimal("83.67")
    assert partial.missing == ("sell.managed_services", "support.sla_metrics")


def test_pass_mark_is_inclusive() -> None:
    # Missing one Sell capability (8 points) leaves exactly 92.
    answers = questionnaire(frozenset({"sell.managed_services"}))
    assert score_assessment(answers, AssessmentWeights(pass_mark=Decimal(92))).passed
    assert not score_assessment(answers, AssessmentWeights(pass_mark=Decimal("92.01"))).passed


def test_weights_must_add_up() -> None:
    with pytest.raises(ValueError, match="add up to 100"):
        AssessmentWeights(sell=Decimal(50))


# ---- DB-03: the TTM revenue figure carries its period and as-of date -------------------------

_TTM_FIXTURE = Path(__file__).parent / "fixtures" / "partner_programs" / "ttm_revenue.db03.json"


async def _documented_figure(tmp_path: Path) -> TtmRevenue:
    """The figure as the partner-program double reads it from the fixture (its source file names
    the Microsoft page whose terms it follows)."""
    programs = tmp_path / "programs.json"
    entry = json.loads(_TTM_FIXTURE.read_text())
    programs.write_text(json.dumps({"partners": {"4500001": {"ttmRevenue": entry}}}))
    return await LocalPartnerPrograms(programs).get_ttm_revenue("4500001")


@pytest.mark.parametrize(
    ("today", "passed", "error_type"),
    [
        ("2026-10-05", True, None),  # stated today
        ("2027-01-03", True, None),  # exactly 90 days after 2026-10-05: at the limit
        ("2027-01-04", False, "RevenueFigureStale"),  # one day over
        ("2026-10-04", False, "RevenueFigureStale"),  # dated after "today": not a real figure
    ],
    ids=["same-day", "at-the-limit", "one-day-over", "from-the-future"],
)
async def test_a_ttm_figure_older_than_the_limit_is_refused_as_unknown(
    tmp_path: Path, today: str, passed: bool, error_type: str | None
) -> None:
    """DB-03 (seed 004: "組織では、前の 12 か月間に、PGA レベルで CSP プログラムのトランザクション
    収益が少なくとも 100 万米ドル必要です。"): the figure covers the twelve months before its as-of
    date; one stated more than `revenue_max_age_days` (90) calendar days ago is unknown, not
    passed, even though its amount (USD 1,055,000) would pass."""
    figure = await _documented_figure(tmp_path)
    assert (figure.period_start, figure.period_end) == (date(2025, 10, 1), date(2026, 9, 30))
    now = datetime.combine(date.fromisoformat(today), time(23, 59), tzinfo=UTC)
    check = rules.check_ttm_revenue_figure(figure, now, "UTC", 90)
    assert check.passed is passed and check.error_type == error_type
    if passed:
        assert check.figure == (
            "USD 1,055,000.00 over 2 CSP tenant(s) for 2025-10-01 to 2026-09-30, as of 2026-10-05"
        )
    else:
        assert check.figure.startswith("unknown: the TTM revenue for 2025-10-01 to 2026-09-30")
        assert "as of 2026-10-05" in check.message and "limit of 90 day(s)" in check.message
        assert "ask the partner program for a current figure" in check.message


async def test_the_age_is_counted_in_business_dates(tmp_path: Path) -> None:
    """DB-03 with DB-07's zone rule (DOMAIN.md: "treat every date rule ... as calendar dates in
    one configured business time zone"): 2027-01-03T16:00Z is already 2027-01-04 in Tokyo, one
    day over the limit there, while in UTC it is still the last day within it."""
    figure = await _documented_figure(tmp_path)
    evening = datetime(2027, 1, 3, 16, 0, tzinfo=UTC)
    assert rules.check_ttm_revenue_figure(figure, evening, "UTC", 90).passed
    tokyo = rules.check_ttm_revenue_figure(figure, evening, "Asia/Tokyo", 90)
    assert not tokyo.passed and tokyo.error_type == "RevenueFigureStale"
    assert "(Asia/Tokyo dates)" in tokyo.message


def test_a_period_that_is_not_the_twelve_months_before_the_as_of_date_is_refused() -> None:
    """DB-03 (seed 004: "前の 12 か月間"): a period of another length, or ending after its
    as-of date, is not a TTM figure."""
    with pytest.raises(ValueError, match="starts 2025-10-01, not 2025-11-01"):
        TtmRevenue(
            period_start=date(2025, 11, 1), period_end=date(2026, 9, 30), as_of=date(2026, 10, 5)
        )
    with pytest.raises(ValueError, match="after the figure's as-of date"):
        TtmRevenue(
            period_start=date(2025, 11, 1), period_end=date(2026, 10, 31), as_of=date(2026, 10, 5)
        )


async def test_a_figure_without_its_period_and_as_of_date_is_not_read(tmp_path: Path) -> None:
    """DB-03 (seed 004: "前の 12 か月間"): the amounts alone, as the file held them before, do
    not say which twelve months they cover; the double says what to give instead of guessing."""
    programs = tmp_path / "programs.json"
    amounts = [{"tenantId": "t", "cloudUsd": "1000000.00", "perpetualSoftwareUsd": "0"}]
    programs.write_text(json.dumps({"partners": {"4500001": {"ttmRevenue": amounts}}}))
    with pytest.raises(InvalidSourceData) as unreadable:
        await LocalPartnerPrograms(programs).get_ttm_revenue("4500001")
    assert unreadable.value.source == f"partner programs data file {programs}"
    assert unreadable.value.field == "partners.4500001.ttmRevenue"
    assert unreadable.value.problem.startswith("states no period and as-of date")


async def test_a_half_saved_programs_file_is_retried_and_its_saved_form_is_read(
    tmp_path: Path,
) -> None:
    """Not readable JSON (an edit caught half-saved) stays `PartnerCenterUnavailable`, which
    Temporal retries: the next attempt reads the file once it is saved. Only a readable file
    with a malformed field is `InvalidSourceData`."""
    programs = tmp_path / "programs.json"
    programs.write_text('{"partners": {"4500001": {"ttmRevenue": ')
    adapter = LocalPartnerPrograms(programs, fold_after_seconds=None)
    with pytest.raises(PartnerCenterUnavailable, match="not readable JSON"):
        await adapter.get_ttm_revenue("4500001")
    entry = ttm_revenue_entry(
        [{"tenantId": "t", "cloudUsd": "1000000.00"}], datetime.now(UTC).date()
    )
    programs.write_text(json.dumps({"partners": {"4500001": {"ttmRevenue": entry}}}))
    revenue = await adapter.get_ttm_revenue("4500001")
    assert revenue.lines[0].cloud_usd == Decimal("1000000.00")
