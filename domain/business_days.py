"""Business-day arithmetic for the "resend after one business day" rule (ENR-06).

Business days are Monday to Friday as calendar dates in the business time zone (DB-07: every
date rule counts calendar dates in one configured zone); the wall-clock time of day there is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.calendar import zone

_SATURDAY = 5


def add_business_days(start: datetime, days: int, zone_name: str) -> datetime:
    """The instant `days` business days after `start`: the same time of day in the business time
    zone, Saturdays and Sundays there skipped. Sent on Friday 01:00 in Tokyo (Thursday in UTC),
    one business day later is Monday 01:00 in Tokyo."""
    tz = zone(zone_name)
    local = start.astimezone(tz).replace(tzinfo=None)
    remaining = days
    while remaining > 0:
        local += timedelta(days=1)
        if local.weekday() < _SATURDAY:
            remaining -= 1
    return local.replace(tzinfo=tz).astimezone(UTC)
