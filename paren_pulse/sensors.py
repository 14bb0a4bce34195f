"""Sensors. Alerts: every new check failure (WARN and ERROR) once, and every failed run.

WARN and non-blocking failures never fail a run (dagster issue #29896), so a run-failure sensor
alone would miss them: this sensor polls each check's execution history with an id cursor.
A burst of failures in one tick becomes one message.
"""

import datetime as dt
import json
import os
from typing import Any

import dagster as dg

from paren_pulse import compute
from paren_pulse.assets.reporting import NO_POST_TAG
from paren_pulse.checks import all_checks
from paren_pulse.jobs import utilization_refresh_job
from paren_pulse.partitions import Week, weekly_partitions
from paren_pulse.resources.clickhouse import ClickHouseResource
from paren_pulse.resources.slack import SlackResource

CHECK_KEYS: list[dg.AssetCheckKey] = [key for checks in all_checks() for key in checks.check_keys]
HISTORY_PER_TICK = 50


def run_url(run_id: str) -> str:
    base = os.environ.get("DAGSTER_WEBSERVER_URL", "http://localhost:3000").rstrip("/")
    return f"{base}/runs/{run_id}"


def describe_failure(record: Any) -> dict[str, Any]:
    """Week, check, severity, description, ours vs reference (when the check compared numbers)."""
    evaluation = (
        record.event.dagster_event.event_specific_data
        if record.event and record.event.dagster_event
        else None
    )
    metadata = {k: v.value for k, v in (evaluation.metadata.items() if evaluation else [])}
    worst = ""
    comparisons = metadata.get("comparisons")
    if isinstance(comparisons, list) and comparisons:
        first = comparisons[0]
        worst = (
            f"{first['country']}.{first['segment']}.{first['metric']}: ours {first['ours']} "
            f"vs reference {first['reference']}"
        )
    return {
        "week": record.partition or metadata.get("week", ""),
        "check": record.key.name,
        "severity": evaluation.severity.value if evaluation else "ERROR",
        "description": (evaluation.description if evaluation else "") or "",
        "worst": worst,
        "run_url": run_url(record.run_id),
    }


def alert_text(failures: list[dict[str, Any]]) -> str:
    lines = [f":rotating_light: {len(failures)} new check failure{'s' if len(failures) != 1 else ''}"]
    for f in failures[:20]:
        detail = f["worst"] or f["description"]
        lines.append(
            f"• [{f['severity']}] week {f['week']} · {f['check']}: {detail[:300]} (<{f['run_url']}|run>)"
        )
    if len(failures) > 20:
        lines.append(f"…and {len(failures) - 20} more: see the Dagster UI")
    return "\n".join(lines)


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every new asset-check failure (WARN and ERROR) once to the alerts channel.",
)
def check_failure_alert_sensor(context: dg.SensorEvaluationContext, slack: SlackResource) -> dg.SkipReason:
    cursor: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    failures: list[dict[str, Any]] = []
    for key in CHECK_KEYS:
        name = key.to_user_string()
        seen = cursor.get(name, 0)
        records = context.instance.event_log_storage.get_asset_check_execution_history(
            key, limit=HISTORY_PER_TICK
        )
        for record in records:
            if record.id > seen and record.status.value == "FAILED":
                failures.append(describe_failure(record))
        if records:
            cursor[name] = max(seen, *(r.id for r in records))
    if not failures:
        context.update_cursor(json.dumps(cursor, sort_keys=True))
        return dg.SkipReason("no new check failures")
    failures.sort(key=lambda f: (f["week"], f["check"]))
    key_text = max(cursor.values())
    # Send before moving the cursor: a failed send is retried on the next tick, not lost.
    result = slack.send_alert(f"checks_{key_text}", alert_text(failures))
    context.update_cursor(json.dumps(cursor, sort_keys=True))
    return dg.SkipReason(f"alerted {len(failures)} check failure(s) to {result.destination}")


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Posts every failed run (a blocking check, a source error) to the alerts channel.",
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext, slack: SlackResource) -> None:
    run = context.dagster_run
    week = run.tags.get("dagster/partition", "")
    message = context.failure_event.message or "run failed"
    slack.send_alert(
        f"run_{run.run_id}",
        f":x: run of {run.job_name}{' for week ' + week if week else ''} failed: {message[:500]} (<{run_url(run.run_id)}|run>)",
    )


SESSION_FRONTIER_CURSOR_KEY = "latest_complete_week"


@dg.sensor(
    job=utilization_refresh_job,
    minimum_interval_seconds=600,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="When a monthly session batch lands, recompute utilization for the weeks it completes.",
)
def session_batch_sensor(
    context: dg.SensorEvaluationContext, clickhouse: ClickHouseResource
) -> dg.SensorResult | dg.SkipReason:
    """Requests each newly complete week once (cursor = newest complete week already handled).

    The first evaluation only records where the frontier stands: history before it was computed
    by the weekly runs or backfills. Runs are tagged not to post: old weeks never go to Slack.
    """
    frontier = compute.sessions_frontier(clickhouse)
    latest = frontier.latest_complete_week()
    if latest is None:
        return dg.SkipReason("the sessions table holds no complete week yet")
    state = json.loads(context.cursor) if context.cursor else {}
    handled = state.get(SESSION_FRONTIER_CURSOR_KEY)
    new_state = json.dumps(
        {SESSION_FRONTIER_CURSOR_KEY: latest.key, "batch_month": str(frontier.latest_batch_month)}
    )
    if handled is None:
        return dg.SensorResult(
            skip_reason=f"baseline: sessions complete through week {latest}", cursor=new_state
        )
    weeks = newly_complete_weeks(Week.from_key(handled), latest)
    if not weeks:
        return dg.SkipReason(f"no new complete week (frontier week {latest})")
    requests = [
        dg.RunRequest(
            run_key=f"sessions-{week.key}-{frontier.latest_batch_month}",
            partition_key=week.key,
            tags={NO_POST_TAG: "false", "paren_pulse/trigger": "session_batch"},
        )
        for week in weeks
    ]
    return dg.SensorResult(run_requests=requests, cursor=new_state)


def newly_complete_weeks(handled: Week, latest: Week) -> list[Week]:
    """Partition weeks after `handled` up to and including `latest`."""
    weeks = []
    current = handled.start + dt.timedelta(days=7)
    while current <= latest.start:
        if weekly_partitions.has_partition_key(current.isoformat()):
            weeks.append(Week(current))
        current += dt.timedelta(days=7)
    return weeks
