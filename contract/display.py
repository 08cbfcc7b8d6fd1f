"""How the Temporal Web UI shows times in a pipeline's current details: in the operator's display
time zone (CSP_DISPLAY_TIME_ZONE, default UTC), to the minute.

The worker sets the zone once at start (`set_display_time_zone`, outside the workflow sandbox, so
the zone's data is loaded there); workflows only format with it. Current details are shown text,
not commands, so a different zone on another worker never affects replay.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from domain.locale import Locale, human_datetime, zone

_display: tuple[tzinfo, str] = (UTC, "UTC")


def set_display_time_zone(name: str) -> None:
    global _display
    _display = (zone(name), name)


def display_time_zone() -> str:
    return _display[1]


def display_time(moment: datetime) -> str:
    """E.g. "Friday, 15 January 2027, 18:00 JST"."""
    tz, name = _display
    return human_datetime(moment, tz, name, Locale.EN)
