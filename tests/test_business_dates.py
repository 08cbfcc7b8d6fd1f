"""Calendar-date settings in the one business time zone (DOMAIN.md DB-07, POR-01, open points):
"The seeds give calendar dates and no time zone: treat every date rule (this window, POR-01's
2025-09-01, cooldowns, tenure) as calendar dates in one configured business time zone (a setting,
default UTC); a setting given without a zone means that zone, never a crash."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

import contract
import domain
from domain import direct_bill_rules as rules
from domain.calendar import parse_business_instant, show_instant
from domain.errors import ApplicationWindowClosed, EligibilityNotMet
from domain.messages import Message
from domain.reassessment_rules import questionnaire_deadline, reassessment_applies, sweep_month
from runtime.settings import Settings


def test_a_window_given_as_dates_is_read_in_the_default_zone() -> None:
    """DB-07 (seed 004: "2025 年 5 月 1 日から 2025 年 10 月 1
    日までの間、新しい直接請求申請は受け付けられ
    ません。"):
    "2025-05-01/2025-10-01" closes from 2025-05-01 00:00 UTC and reopens 2025-10-01 00:00 UTC."""
    policy = Settings(db_window_closures="2025-05-01/2025-10-01").direct_bill_policy()
    assert policy.business_time_zone == "UTC"
    start, end = policy.window_closures[0]
    assert (start, end) == (
        datetime(2025, 5, 1, tzinfo=UTC),
        datetime(2025, 10, 1, tzinfo=UTC),
    )
    with pytest.raises(ApplicationWindowClosed) as refused:
        rules.require_window_open(datetime(2025, 9, 30, 23, 59, 59, tzinfo=UTC), [(start, end)])
    assert "closed from 2025-05-01 until 2025-10-01 (UTC); apply from 2025-10-01" in (
        refused.value.message
    )
    rules.require_window_open(end, [(start, end)])


def test_a_window_without_a_zone_means_the_business_zone() -> None:
    """DB-07: a setting without a zone means the business zone (Tokyo: 2025-10-01 00:00 JST)."""
    settings = Settings(
        business_time_zone="Asia/Tokyo",
        db_window_closures="2025-05-01/2025-10-01T00:00",
        por_validation_from=date(2025, 9, 1),
    )
    start, end = settings.direct_bill_policy().window_closures[0]
    assert start == datetime(2025, 4, 30, 15, 0, tzinfo=UTC)
    assert end == datetime(2025, 9, 30, 15, 0, tzinfo=UTC)
    relationships = settings.relationship_policy()
    assert relationships.por_validation_from == datetime(2025, 8, 31, 15, 0, tzinfo=UTC)
    assert relationships.business_time_zone == "Asia/Tokyo"
    assert settings.reassessment_policy().business_time_zone == "Asia/Tokyo"
    last_minute_in_tokyo = datetime(2025, 9, 30, 14, 59, tzinfo=UTC)  # 23:59 JST
    with pytest.raises(ApplicationWindowClosed) as refused:
        rules.require_window_open(last_minute_in_tokyo, [(start, end)], "Asia/Tokyo")
    assert "until 2025-10-01 (Asia/Tokyo)" in refused.value.message


def test_an_instant_with_an_offset_keeps_it() -> None:
    assert parse_business_instant("2025-05-01T00:00:00Z", "Asia/Tokyo") == datetime(
        2025, 5, 1, tzinfo=UTC
    )
    assert parse_business_instant("2025-05-01T09:00+09:00", "UTC") == datetime(
        2025, 5, 1, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("business_time_zone", "Mars/Olympus", "not an IANA time zone"),
        ("db_window_closures", "2025-05-01", "is not 'start/end'"),
        ("db_window_closures", "2025-10-01/2025-05-01", "ends before it starts"),
        ("db_window_closures", "May/October", "is not an ISO date"),
    ],
)
def test_a_bad_setting_is_refused_at_start_naming_the_value(
    field: str, value: str, words: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert words in str(refused.value)


def _models_with_a_business_time_zone() -> list[type[Message]]:
    """Every message model of the domain and the activity contracts with the field."""
    for package in (domain, contract):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            importlib.import_module(module.name)
    found: list[type[Message]] = []
    pending: list[type[Message]] = [Message]
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        if "business_time_zone" in model.model_fields:
            found.append(model)
    return sorted(found, key=lambda model: model.__qualname__)


def _zone_errors(model: type[Message], value: str) -> list[str]:
    try:
        model.model_validate({"business_time_zone": value})
    except ValidationError as refused:
        return [e["msg"] for e in refused.errors() if e["loc"] == ("business_time_zone",)]
    return []


def test_every_model_with_a_business_time_zone_refuses_an_unknown_one_when_decoded() -> None:
    """A workflow input or policy with a mistyped zone ("Asia/Tokio") is refused by its model
    (the workflow fails at once, naming the field) instead of failing a workflow task on every
    attempt once a date rule needs the zone. Settings, policies, requests and activity inputs
    share the one type (domain.calendar.BusinessTimeZone)."""
    models = _models_with_a_business_time_zone()
    names = {model.__name__ for model in models}
    assert {"TransitionRequest", "ReassessmentPolicy", "DirectBillPolicy"} <= names
    assert "RelationshipPolicy" in names
    for model in models:
        [message] = _zone_errors(model, "Asia/Tokio")
        assert "'Asia/Tokio' is not an IANA time zone name" in message, model
        assert _zone_errors(model, "Asia/Tokyo") == [], model


def test_instants_are_shown_without_microseconds() -> None:
    assert show_instant(datetime(2026, 10, 20, 9, 5, 7, 123456, tzinfo=UTC)) == (
        "2026-10-20T09:05:07+00:00"
    )


@pytest.mark.parametrize(
    ("month", "activated_at", "applies"),
    [
        (date(2025, 9, 1), datetime(2020, 1, 1, tzinfo=UTC), False),
        (date(2025, 10, 1), datetime(2020, 1, 1, tzinfo=UTC), True),
        (date(2026, 10, 1), datetime(2026, 11, 3, tzinfo=UTC), False),
        (date(2026, 10, 1), datetime(2026, 10, 1, tzinfo=UTC), False),
        (date(2026, 10, 1), datetime(2026, 9, 30, 23, 59, tzinfo=UTC), True),
        (date(2026, 10, 1), None, True),
    ],
    ids=["before-oct-2025", "oct-2025", "activated-later", "activated-that-month", "eve", "legacy"],
)
def test_who_is_reassessed_in_a_month(
    month: date, activated_at: datetime | None, applies: bool
) -> None:
    """RA-01 (seed 004: "2025 年 10 月、Microsoft は ... 既存の直接請求パートナーの年次再評価の
    要求を開始します"): no month before 2025-10; only partners direct bill before the month
    began."""
    assert reassessment_applies(month, activated_at) is applies


def test_activation_is_dated_in_the_business_zone() -> None:
    """2026-09-30T16:00Z is 2026-10-01 in Tokyo: not direct bill before October there."""
    activated = datetime(2026, 9, 30, 16, 0, tzinfo=UTC)
    assert reassessment_applies(date(2026, 10, 1), activated, "UTC")
    assert not reassessment_applies(date(2026, 10, 1), activated, "Asia/Tokyo")


@pytest.mark.parametrize(
    ("zone_name", "due"),
    [
        ("UTC", datetime(2025, 12, 1, tzinfo=UTC)),
        ("Asia/Tokyo", datetime(2025, 11, 30, 15, 0, tzinfo=UTC)),  # 00:00 JST on 1 December
        ("America/Los_Angeles", datetime(2025, 12, 1, 8, 0, tzinfo=UTC)),  # 00:00 PST
    ],
)
def test_the_questionnaire_is_due_when_the_month_ends_in_the_business_zone(
    zone_name: str, due: datetime
) -> None:
    """Open point "assessment questionnaire due by the end of the renewal month", counted in the
    business time zone (DB-07); a run started late in its month still gets 14 days."""
    november = date(2025, 11, 1)
    early = datetime(2025, 11, 1, 2, 0, tzinfo=UTC)
    assert questionnaire_deadline(november, early, zone_name) == due
    late = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)
    assert questionnaire_deadline(november, late, zone_name) == late + timedelta(days=14)
    assert questionnaire_deadline(november, due - timedelta(days=14), zone_name) == due


@pytest.mark.parametrize(
    ("authorized", "zone_name", "month"),
    [
        (datetime(2024, 10, 31, 16, 0, tzinfo=UTC), "UTC", 10),
        (datetime(2024, 10, 31, 14, 59, 59, tzinfo=UTC), "Asia/Tokyo", 10),  # 23:59:59 JST
        (datetime(2024, 10, 31, 15, 0, tzinfo=UTC), "Asia/Tokyo", 11),  # 00:00 JST, 1 November
        (datetime(2024, 11, 1, 6, 59, tzinfo=UTC), "America/Los_Angeles", 10),  # 23:59 PDT
        (None, "Asia/Tokyo", None),
    ],
)
def test_the_security_clock_runs_in_the_onboarding_month_of_the_business_zone(
    authorized: datetime | None, zone_name: str, month: int | None
) -> None:
    """DB-04: "Re-validated every year in the month of the partner's original CSP onboarding
    anniversary", the onboarding being the IR authorisation DB-01 counts tenure from."""
    assert rules.onboarding_anniversary_month(authorized, zone_name) == month


def test_a_tenure_refusal_names_the_first_day_it_is_met() -> None:
    """DB-01 counted as RA-03 says ("authorized 2024-11-15: 12 months on 2025-11-15"): the
    refusal's own message names the date from which the requirement is met, in its zone."""
    short = rules.check_tenure(
        datetime(2024, 11, 15, tzinfo=UTC), datetime(2025, 11, 14, 23, 0, tzinfo=UTC), "UTC"
    )
    with pytest.raises(EligibilityNotMet) as refused:
        rules.require_eligible([short])
    assert refused.value.message == (
        "direct-bill requirements not met: DB-01 TenureInsufficient: indirect reseller since "
        "2024-11-15 (needs 12 months as an indirect reseller, from 2025-11-15 (UTC))"
    )
    met = rules.check_tenure(
        datetime(2024, 11, 15, tzinfo=UTC), datetime(2025, 11, 15, tzinfo=UTC), "UTC"
    )
    assert met.passed and met.threshold == "12 months as an indirect reseller"


@pytest.mark.parametrize(
    ("fired", "zone_name", "month"),
    [
        (datetime(2025, 10, 31, 17, 0, tzinfo=UTC), "Asia/Tokyo", date(2025, 11, 1)),  # 02:00 JST
        (datetime(2025, 11, 1, 9, 0, tzinfo=UTC), "America/Los_Angeles", date(2025, 11, 1)),
        # A sweep scheduled before the schedule followed the zone (02:00 UTC) reads UTC's month.
        (datetime(2025, 11, 1, 2, 0, tzinfo=UTC), None, date(2025, 11, 1)),
        (datetime(2025, 10, 31, 17, 0, tzinfo=UTC), None, date(2025, 10, 1)),
    ],
)
def test_a_sweep_covers_the_month_of_its_scheduled_date_in_the_business_zone(
    fired: datetime, zone_name: str | None, month: date
) -> None:
    """RA-01 / DB-04 months counted as DB-07 says: calendar dates in the business time zone."""
    assert sweep_month(fired, zone_name) == month
