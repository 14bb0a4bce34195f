"""The weekly schedule and the session-batch sensor, evaluated as real ticks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from paren_pulse.definitions import defs
from paren_pulse.schedules import SCHEDULE_CRON, SCHEDULE_TIMEZONE, weekly_metrics_schedule
from paren_pulse.sensors import session_batch_sensor
from paren_pulse.settings import DemoPaths
from paren_pulse_tests import fixtures

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("scheduled", "expected_week"),
    [
        (dt.datetime(2025, 1, 13, 9, 0, tzinfo=NY), "2025-01-06"),  # the first reportable week
        (dt.datetime(2026, 3, 9, 9, 0, tzinfo=NY), "2026-03-02"),  # day after DST starts (UTC-4)
        (dt.datetime(2026, 11, 2, 9, 0, tzinfo=NY), "2026-10-26"),  # day after DST ends (UTC-5)
        (dt.datetime(2026, 6, 1, 9, 0, tzinfo=NY), "2026-05-25"),  # a week that crosses a month end
        (dt.datetime(2027, 1, 4, 9, 0, tzinfo=NY), "2026-12-28"),  # across the year end
    ],
)
def test_schedule_requests_the_week_that_just_ended(scheduled: dt.datetime, expected_week: str) -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=scheduled)
        request = weekly_metrics_schedule(context)
    assert isinstance(request, dg.RunRequest)
    assert (request.partition_key, request.run_key) == (expected_week, expected_week)


def test_schedule_defaults() -> None:
    assert (SCHEDULE_CRON, SCHEDULE_TIMEZONE) == ("0 9 * * 1", "America/New_York")
    schedule = defs.resolve_schedule_def("weekly_metrics_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.job_name == "weekly_metrics_job"


def write_february_batch(paths: DemoPaths) -> None:
    frame = fixtures.session_frame().head(3).copy()
    frame["session_id"] = frame["session_id"] + 10_000
    frame["started_at"] = pd.to_datetime(
        ["2025-02-03 10:00", "2025-02-14 10:00", "2025-02-28 23:00"], utc=True
    )
    frame["batch_month"] = dt.date(2025, 2, 1)
    frame.to_parquet(paths.sessions_dir / "batch_2025-02.parquet", index=False)


def tick(
    resources: dict[str, Any], instance: dg.DagsterInstance, cursor: str | None
) -> tuple[Any, str | None]:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"clickhouse": resources["clickhouse"]}, definitions=defs
    )
    result = session_batch_sensor(context)
    new_cursor = result.cursor if isinstance(result, dg.SensorResult) and result.cursor else context.cursor
    return result, new_cursor


def test_session_batch_sensor_requests_newly_complete_weeks_once(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    # First tick: baseline at the January batch (complete through the week of 2025-01-20).
    result, cursor = tick(hand_resources, instance, None)
    assert not result.run_requests
    assert json.loads(cursor or "{}")["latest_complete_week"] == "2025-01-20"

    # The February batch lands: it completes the weeks of 01-27 (which straddles the month end),
    # 02-03, 02-10 and 02-17; 02-24 runs into March and stays open.
    write_february_batch(hand_home)
    result, cursor = tick(hand_resources, instance, cursor)
    assert [r.partition_key for r in result.run_requests] == [
        "2025-01-27",
        "2025-02-03",
        "2025-02-10",
        "2025-02-17",
    ]
    assert all(r.tags["paren_pulse/post"] == "false" for r in result.run_requests)
    assert all(r.job_name in (None, "utilization_refresh_job") for r in result.run_requests)

    # Nothing new: no request again.
    result, cursor = tick(hand_resources, instance, cursor)
    assert isinstance(result, dg.SkipReason)


def test_refresh_job_does_not_include_the_slack_post() -> None:
    job = defs.resolve_job_def("utilization_refresh_job")
    assert "weekly_slack_report" not in {node.name for node in job.graph.nodes}
