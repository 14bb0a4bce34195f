"""The one Definitions object of Paren Pulse."""

from __future__ import annotations

import dagster as dg

from paren_pulse.assets.infrastructure import weekly_infrastructure
from paren_pulse.assets.pricing import weekly_pricing
from paren_pulse.assets.reporting import weekly_slack_report, weekly_snapshot
from paren_pulse.assets.spine import afdc_spine
from paren_pulse.assets.utilization import weekly_utilization
from paren_pulse.checks import all_checks
from paren_pulse.jobs import utilization_refresh_job, weekly_metrics_job
from paren_pulse.resources.environments import resources_for
from paren_pulse.schedules import weekly_metrics_schedule
from paren_pulse.sensors import check_failure_alert_sensor, run_failure_alert_sensor, session_batch_sensor

defs = dg.Definitions(
    assets=[
        afdc_spine,
        weekly_infrastructure,
        weekly_utilization,
        weekly_pricing,
        weekly_snapshot,
        weekly_slack_report,
    ],
    asset_checks=all_checks(),
    jobs=[weekly_metrics_job, utilization_refresh_job],
    schedules=[weekly_metrics_schedule],
    sensors=[check_failure_alert_sensor, run_failure_alert_sensor, session_batch_sensor],
    resources=resources_for(),
    # One process per run, not per step: a week's steps are a chain of short queries, and starting
    # a process per step (16 per week, each importing Dagster and the engine) cost more than the
    # work; measured in docs/operations.md. Runs (weeks) still execute concurrently, each with its
    # own in-memory engine over the shared session files.
    executor=dg.in_process_executor,
)
