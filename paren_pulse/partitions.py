"""Weekly partitions (Monday to Monday, UTC) and the validation of user-supplied weeks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import dagster as dg

# First week the project reports. The demo warehouse starts a few weeks earlier so that the
# first partition has a previous week for week-over-week and "opened this week".
PARTITIONS_START = dt.date(2025, 1, 6)

# day_offset=1: weeks start on Monday. Without it Dagster weeks start on Sunday.
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=PARTITIONS_START.isoformat(), day_offset=1, timezone="UTC"
)


class WeekError(ValueError):
    """A week the user asked for is not a reportable week; the message is one line."""


@dataclass(frozen=True)
class Week:
    """A reporting week: [start, end) with end = start + 7 days; as_of is its last day."""

    start: dt.date

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=7)

    @property
    def as_of(self) -> dt.date:
        # Infrastructure and pricing are "as of the week's end": the state on its last day.
        return self.end - dt.timedelta(days=1)

    @property
    def previous(self) -> Week:
        return Week(self.start - dt.timedelta(days=7))

    @property
    def key(self) -> str:
        return self.start.isoformat()

    @classmethod
    def from_key(cls, key: str) -> Week:
        return cls(dt.date.fromisoformat(key))

    def __str__(self) -> str:
        return self.key


def monday_of(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def latest_complete_week(today: dt.date | None = None) -> Week:
    """The last Monday-to-Sunday week that has fully ended before `today`."""
    today = today or dt.datetime.now(dt.UTC).date()
    return Week(monday_of(today) - dt.timedelta(days=7))


def parse_week(text: str, today: dt.date | None = None) -> Week:
    """Validate a user-supplied week start; raise WeekError with a one-line reason."""
    today = today or dt.datetime.now(dt.UTC).date()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise WeekError(f"week {text!r} is not a date; use YYYY-MM-DD (a Monday)") from None
    if day.weekday() != 0:
        raise WeekError(
            f"week {text} is a {day:%A}, not a week start; weeks start on Monday "
            f"(did you mean {monday_of(day).isoformat()}?)"
        )
    latest = latest_complete_week(today)
    if day > latest.start:
        raise WeekError(f"week {text} has not ended yet; the latest complete week is {latest.key}")
    if day < PARTITIONS_START:
        raise WeekError(
            f"week {text} precedes the data; the first reportable week is {PARTITIONS_START.isoformat()}"
        )
    # Belt and braces: Dagster silently maps a non-start key to the next window.
    if not weekly_partitions.has_partition_key(day.isoformat()):
        raise WeekError(f"week {text} is not a partition of the weekly schedule")
    return Week(day)
