"""Calendar arithmetic the rules share: whole months and years, clamped to the month's last day,
and calendar dates in the one business time zone (DOMAIN.md DB-07, RA-03)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, tzinfo
from functools import cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later; the 31st becomes the month's last day when it has fewer."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def add_years(moment: datetime, years: int) -> datetime:
    """The same date `years` later (29 February becomes 28 February in a common year)."""
    return add_months(moment, 12 * years)


# ---- calendar dates in the business time zone (DB-07, POR-01, RA-03, DB-01) --------------------
#
# The seeds give calendar dates without a time zone. Every date rule is read as calendar dates in
# one configured business time zone (setting CSP_BUSINESS_TIME_ZONE, an IANA name, default UTC),
# carried in the pipeline policies so workflows stay deterministic.

DEFAULT_BUSINESS_TIME_ZONE = "UTC"


@cache
def zone(name: str) -> tzinfo:
    """The IANA time zone `name` ("UTC", "Asia/Tokyo"); ValueError for an unknown name."""
    if name.strip().upper() in ("UTC", "Z", "ETC/UTC"):
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as unknown:
        raise ValueError(f"{name!r} is not an IANA time zone name (e.g. UTC, Asia/Tokyo)") from (
            unknown
        )


def known_zone(name: str) -> str:
    """`name` stripped, once `zone` knows it; ValueError naming it otherwise."""
    zone(name)
    return name.strip()


BusinessTimeZone = Annotated[
    str,
    AfterValidator(known_zone),
    Field(
        description="The IANA zone in which the date rules count calendar dates, e.g. Asia/Tokyo.",
        examples=["Asia/Tokyo"],
    ),
]
"""The business time zone as every model carries it (settings, policies, requests, activity
inputs): checked when the value is decoded, so an unknown name is refused by the model (a workflow
started with it fails at once, naming the field) instead of failing a workflow task on every
retry when a date rule first needs the zone."""


def business_date(moment: datetime, zone_name: str) -> date:
    """The calendar date of `moment` in the business time zone (a naive moment is in that zone)."""
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(zone(zone_name)).date()


def start_of_day(day: date, zone_name: str) -> datetime:
    """The first instant of `day` in the business time zone, as an aware UTC datetime."""
    return datetime.combine(day, time(0), tzinfo=zone(zone_name)).astimezone(UTC)


def add_years_to_date(day: date, years: int) -> date:
    """The same calendar date `years` later (29 February -> 28 February in a common year)."""
    return add_months(datetime.combine(day, time(0)), 12 * years).date()


def add_months_to_date(day: date, months: int) -> date:
    return add_months(datetime.combine(day, time(0)), months).date()


def parse_business_instant(text: str, zone_name: str) -> datetime:
    """A setting's date or instant: "2025-05-01" is the start of that day in the business time
    zone, "2025-05-01T09:00" is 09:00 there, and a value with an offset keeps its offset. The
    result is always aware (UTC). Raises ValueError with the text for anything else."""
    value = text.strip()
    try:
        if len(value) == 10:
            return start_of_day(date.fromisoformat(value), zone_name)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO date (2025-05-01) or instant") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(zone_name))
    return moment.astimezone(UTC)


def show_date(moment: datetime | date, zone_name: str) -> str:
    """A date for people: "2026-10-20" (the calendar date in the business time zone)."""
    day = moment if not isinstance(moment, datetime) else business_date(moment, zone_name)
    return day.isoformat()


def show_instant(moment: datetime | date) -> str:
    """An instant for people: ISO 8601 to the second, without microseconds (a date as itself)."""
    if not isinstance(moment, datetime):
        return moment.isoformat()
    return moment.replace(microsecond=0).isoformat()
