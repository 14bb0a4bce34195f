"""Week validation: every way a user can name a wrong week gets one clear line."""

from __future__ import annotations

import datetime as dt

import pytest

from paren_pulse.partitions import (
    PARTITIONS_START,
    Week,
    WeekError,
    latest_complete_week,
    parse_week,
    weekly_partitions,
)

TODAY = dt.date(2026, 12, 4)  # a Friday


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-11-24", "is a Tuesday, not a week start"),
        ("2026-11-30", "has not ended yet"),
        ("2027-01-04", "has not ended yet"),
        ("2024-12-30", "precedes the data"),
        ("23/11/2026", "is not a date"),
        ("", "is not a date"),
    ],
)
def test_bad_weeks(text: str, message: str) -> None:
    with pytest.raises(WeekError, match=message):
        parse_week(text, today=TODAY)


def test_good_weeks() -> None:
    assert parse_week("2026-11-23", today=TODAY) == Week(dt.date(2026, 11, 23))
    assert parse_week(PARTITIONS_START.isoformat(), today=TODAY).start == PARTITIONS_START


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (dt.date(2026, 12, 4), "2026-11-23"),
        (dt.date(2026, 11, 30), "2026-11-23"),  # Monday: the week that ended yesterday
        (dt.date(2026, 11, 29), "2026-11-16"),  # Sunday: the current week has not ended
    ],
)
def test_latest_complete_week(today: dt.date, expected: str) -> None:
    assert latest_complete_week(today).key == expected


def test_week_dates() -> None:
    week = Week(dt.date(2025, 1, 13))
    assert (week.end, week.as_of, week.previous.key) == (
        dt.date(2025, 1, 20),
        dt.date(2025, 1, 19),
        "2025-01-06",
    )


def test_partitions_start_on_monday() -> None:
    keys = weekly_partitions.get_partition_keys()
    assert keys[0] == "2025-01-06"
    assert all(dt.date.fromisoformat(k).weekday() == 0 for k in keys)
