"""The language and time zone a person is written to in, and dates in human form.

A contact may name a `locale` and an IANA `time_zone`; when they don't, both default by country
(`default_locale`, `default_time_zone`). Formatting takes a `tzinfo` the caller resolved, so this
module stays pure.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field


class Locale(StrEnum):
    EN = "en"
    JA = "ja"


TimeZoneName = Annotated[
    str,
    Field(
        pattern=r"^(UTC|[A-Z][A-Za-z_+\-]+(/[A-Za-z0-9_+\-]+){1,2})$",
        max_length=64,
        description="IANA time zone, e.g. Asia/Tokyo; defaults by country (UTC if ambiguous).",
        examples=["Asia/Tokyo"],
    ),
]

_LANGUAGE_BY_COUNTRY: dict[str, Locale] = {"JP": Locale.JA}

# Countries with exactly one civil time zone; the others (US, CA, AU, BR, MX, RU, ES, ...) get UTC.
_ZONE_BY_COUNTRY: dict[str, str] = {
    "JP": "Asia/Tokyo",
    "KR": "Asia/Seoul",
    "CN": "Asia/Shanghai",
    "TW": "Asia/Taipei",
    "HK": "Asia/Hong_Kong",
    "SG": "Asia/Singapore",
    "IN": "Asia/Kolkata",
    "TH": "Asia/Bangkok",
    "VN": "Asia/Ho_Chi_Minh",
    "PH": "Asia/Manila",
    "MY": "Asia/Kuala_Lumpur",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "IT": "Europe/Rome",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "CH": "Europe/Zurich",
    "AT": "Europe/Vienna",
    "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo",
    "DK": "Europe/Copenhagen",
    "FI": "Europe/Helsinki",
    "PL": "Europe/Warsaw",
    "IL": "Asia/Jerusalem",
    "ZA": "Africa/Johannesburg",
}


def zone(name: str) -> tzinfo:
    """The IANA zone `name` from the system's time-zone database; UTC for an unknown name (the
    models check only its shape)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def default_locale(country: str | None) -> Locale:
    """JP -> ja, every other country (or none) -> en."""
    return _LANGUAGE_BY_COUNTRY.get((country or "").upper(), Locale.EN)


def default_time_zone(country: str | None) -> str:
    """The country's zone where it has only one, else UTC."""
    return _ZONE_BY_COUNTRY.get((country or "").upper(), "UTC")


_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_JA_WEEKDAYS = "月火水木金土日"


def zone_label(moment: datetime, zone: tzinfo, zone_name: str, locale: Locale) -> str:
    """How the zone is named next to a time: 日本時間 for Asia/Tokyo in Japanese, else the
    abbreviation when it is a word (JST, CET, UTC), else the IANA name."""
    if locale is Locale.JA and zone_name == "Asia/Tokyo":
        return "日本時間"
    abbreviation = zone.tzname(moment) or ""
    if abbreviation.isalpha():
        return abbreviation
    return zone_name


def human_datetime(moment: datetime, zone: tzinfo, zone_name: str, locale: Locale) -> str:
    """A deadline as people write it, in the reader's zone, to the minute.

    en: "Friday, 15 January 2027, 18:00 JST"; ja: "2027年1月15日(金) 18:00 (日本時間)".
    """
    if moment.tzinfo is None:
        raise ValueError("a deadline must be timezone-aware")
    local = moment.astimezone(zone)
    label = zone_label(local, zone, zone_name, locale)
    if locale is Locale.JA:
        weekday = _JA_WEEKDAYS[local.weekday()]
        return f"{local.year}年{local.month}月{local.day}日({weekday}) {local:%H:%M} ({label})"
    weekday = _EN_WEEKDAYS[local.weekday()]
    month = _EN_MONTHS[local.month - 1]
    return f"{weekday}, {local.day} {month} {local.year}, {local:%H:%M} {label}"


def human_date(moment: datetime, zone: tzinfo, locale: Locale) -> str:
    """The calendar day of `moment` in `zone`: "15 January 2027" / "2027年1月15日"."""
    return human_day(moment.astimezone(zone).date(), locale)


def human_day(day: date, locale: Locale) -> str:
    """A calendar date as it is: "15 January 2027" / "2027年1月15日"."""
    if locale is Locale.JA:
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"
