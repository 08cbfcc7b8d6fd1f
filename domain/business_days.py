"""Business-day arithmetic for the "resend after one business day" rule (ENR-06).

Business days are Monday to Friday in UTC; the time of day is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta

_SATURDAY = 5


def add_business_days(start: datetime, days: int) -> datetime:
    """The instant `days` business days after `start` (same time of day, weekends skipped)."""
    moment = start
    remaining = days
    while remaining > 0:
        moment += timedelta(days=1)
        if moment.weekday() < _SATURDAY:
            remaining -= 1
    return moment
