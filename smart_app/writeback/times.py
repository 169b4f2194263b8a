"""Session times as the EHR means them: a start and end typed as clock times carry the EHR's UTC offset.

The zone is the encounter's (the offset of its ``period.start`` as the EHR sent it), else the launch profile's
``timezone`` (an IANA name, so daylight saving is right for the service date). A time with no zone to place it
is never guessed: the written period falls back to the service date and the note keeps the clock times.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def ehr_zone(encounter_start: str | None, profile_timezone: str | None = None) -> tzinfo | None:
    """The encounter's offset when its start has one, else the profile's time zone, else None."""
    offset = _offset_of(encounter_start)
    if offset is not None:
        return offset
    if profile_timezone:
        try:
            return ZoneInfo(profile_timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return None


def in_zone(value: datetime | None, zone: tzinfo | None) -> datetime | None:
    """An aware time is kept; a clock time gets the zone's offset on its own date; without a zone, None."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=zone) if zone is not None else None


def _offset_of(text: str | None) -> tzinfo | None:
    if not text or len(text) <= 10:  # a date alone has no offset
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    offset = parsed.utcoffset()
    if offset is None:
        return None
    return UTC if offset == timedelta(0) else timezone(offset)
