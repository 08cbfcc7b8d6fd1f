"""Calendar arithmetic the rules share: whole months and years, clamped to the month's last day."""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later; the 31st becomes the month's last day when it has fewer."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def add_years(moment: datetime, years: int) -> datetime:
    """The same date `years` later (29 February becomes 28 February in a common year)."""
    return add_months(moment, 12 * years)


def end_of_month(moment: datetime) -> datetime:
    """The first instant of the next month: a deadline "by the end of the month" (exclusive)."""
    return add_months(moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0), 1)
