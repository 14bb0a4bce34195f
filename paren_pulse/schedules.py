"""The weekly schedule: request the week that just ended."""

import datetime as dt
import os

import dagster as dg

from paren_pulse.jobs import weekly_metrics_job
from paren_pulse.partitions import latest_complete_week

# Monday morning in New York by default: late enough that the week has ended everywhere.
SCHEDULE_CRON = os.environ.get("PAREN_PULSE_SCHEDULE_CRON", "0 9 * * 1")
SCHEDULE_TIMEZONE = os.environ.get("PAREN_PULSE_SCHEDULE_TIMEZONE", "America/New_York")


def week_for_tick(scheduled: dt.datetime) -> str:
    """The partition a tick at `scheduled` (any timezone) reports: the last week ended in UTC."""
    return latest_complete_week(scheduled.astimezone(dt.UTC).date()).key


@dg.schedule(
    job=weekly_metrics_job,
    cron_schedule=SCHEDULE_CRON,
    execution_timezone=SCHEDULE_TIMEZONE,
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def weekly_metrics_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Every week: materialize, check and post the week that just ended (run key = week)."""
    scheduled = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
    week = week_for_tick(scheduled)
    return dg.RunRequest(run_key=week, partition_key=week)
