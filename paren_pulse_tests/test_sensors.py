"""Alert sensors evaluated as real ticks against an instance holding real check evaluations."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from paren_pulse.definitions import defs
from paren_pulse.demo.drift import inject
from paren_pulse.sensors import check_failure_alert_sensor
from paren_pulse.settings import DemoPaths
from paren_pulse_tests import fixtures
from paren_pulse_tests.test_checks import run


def alerts(paths: DemoPaths) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(paths.outbox_dir.glob("alert_checks_*.json"))]


def tick(
    resources: dict[str, Any], instance: dg.DagsterInstance, cursor: str | None
) -> tuple[Any, str | None]:
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"slack": resources["slack"]}, definitions=defs
    )
    result = check_failure_alert_sensor(context)
    return result, context.cursor


def test_each_failure_is_alerted_once_and_bursts_are_one_message(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    # Clean weeks still have WARN anomalies on toy data: they are alerted once, on the first tick.
    run(fixtures.W1, hand_resources, instance)
    _, cursor = tick(hand_resources, instance, None)
    first = alerts(hand_home)
    assert len(first) == 1 and "utilization_has_no_anomaly" in first[0]["text"]

    # No new evaluation: nothing is sent again.
    result, cursor = tick(hand_resources, instance, cursor)
    assert isinstance(result, dg.SkipReason) and "no new" in (result.skip_message or "")
    assert len(alerts(hand_home)) == 1

    # A fault makes several checks fail in one run: one message lists them all, with the numbers.
    inject(hand_home, "duplicate-batch")
    run(fixtures.W1, hand_resources, instance)
    _, cursor = tick(hand_resources, instance, cursor)
    sent = alerts(hand_home)
    assert len(sent) == 2
    text = sent[-1]["text"]
    assert "utilization_matches_reference" in text and "week 2025-01-13" in text
    assert "US.non_tesla.sessions: ours 6.0 vs reference 3.0" in text  # 3 sessions counted twice
    assert "/runs/" in text
    _, cursor = tick(hand_resources, instance, cursor)
    assert len(alerts(hand_home)) == 2


def test_failed_run_is_alerted_with_week_and_link(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    from paren_pulse.sensors import run_failure_alert_sensor
    from paren_pulse_tests.test_assets import run_without_sessions

    result = run_without_sessions(hand_home, hand_resources, instance)
    records = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
    failure = records[0].dagster_event
    assert failure is not None
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=failure,
        resources={"slack": hand_resources["slack"]},
    ).for_run_failure()
    run_failure_alert_sensor(context)
    sent = json.loads((hand_home.outbox_dir / f"alert_run_{result.run_id}.json").read_text())
    assert f"for week {fixtures.W1} failed" in sent["text"]
    assert f"/runs/{result.run_id}" in sent["text"]
