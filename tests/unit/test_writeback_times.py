"""The EHR's zone for clock times: the encounter's offset, else the profile's IANA zone (daylight saving)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from smart_app.writeback.times import ehr_zone, in_zone


def test_the_encounters_offset_wins() -> None:
    zone = ehr_zone("2026-03-02T09:00:00-05:00", "America/Los_Angeles")
    assert zone is not None and datetime(2026, 3, 2, tzinfo=zone).utcoffset() == timedelta(hours=-5)
    assert ehr_zone("2026-03-02T14:00:00Z") is UTC


def test_a_date_only_encounter_uses_the_profile_zone_with_daylight_saving() -> None:
    zone = ehr_zone("2026-03-02", "America/Chicago")
    winter, summer = in_zone(datetime(2026, 3, 2, 9), zone), in_zone(datetime(2026, 7, 2, 9), zone)
    assert winter is not None and winter.isoformat() == "2026-03-02T09:00:00-06:00"
    assert summer is not None and summer.isoformat() == "2026-07-02T09:00:00-05:00"


def test_no_zone_is_never_guessed() -> None:
    assert ehr_zone(None) is None and ehr_zone("2026-03-02") is None and ehr_zone("bad", "Not/AZone") is None
    assert in_zone(datetime(2026, 3, 2, 9), None) is None


def test_an_aware_time_is_kept() -> None:
    aware = datetime(2026, 3, 2, 9, tzinfo=timezone(timedelta(hours=2)))
    assert in_zone(aware, ehr_zone("2026-03-02T09:00:00-05:00")) == aware
