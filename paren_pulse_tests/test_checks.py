"""Asset checks in real runs: injected faults fail the right check and block the post."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from paren_pulse.checks import all_checks
from paren_pulse.dashboard_reference import DashboardExport
from paren_pulse.demo.drift import inject
from paren_pulse.partitions import Week
from paren_pulse.resources.catalog import SourceError
from paren_pulse.settings import DemoPaths
from paren_pulse_tests import fixtures
from paren_pulse_tests.test_assets import ASSETS


def run(week: str, resources: dict[str, Any], instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
    return dg.materialize(
        [*ASSETS, *all_checks()],
        partition_key=week,
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )


def evaluations(result: dg.ExecuteInJobResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {ev.check_name: ev for ev in result.get_asset_check_evaluations()}


def test_clean_week_passes_every_blocking_check(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    result = run(fixtures.W1, hand_resources, instance)
    assert result.success
    evs = evaluations(result)
    assert len(evs) == 13
    for name in (
        "infrastructure_is_consistent",
        "utilization_matches_reference",
        "pricing_matches_reference",
        "infrastructure_matches_reference",
        "utilization_sessions_are_fresh",
        "infrastructure_spine_is_fresh",
    ):
        assert evs[name].passed, (name, evs[name].description)
    # The CA known difference is recorded, not alarmed.
    assert evs["infrastructure_matches_reference"].metadata["known_differences"].value == 5
    assert (hand_home.outbox_dir / f"weekly_{fixtures.W1}.json").exists()


@pytest.mark.parametrize(
    ("fault", "failing_check"),
    [
        ("duplicate-batch", "utilization_matches_reference"),
        ("wrong-currency", "pricing_is_consistent"),
        ("reclassify-network", "infrastructure_matches_reference"),
    ],
)
def test_fault_fails_its_check_and_blocks_the_post(
    fault: str,
    failing_check: str,
    hand_home: DemoPaths,
    hand_resources: dict[str, Any],
    instance: dg.DagsterInstance,
) -> None:
    inject(hand_home, fault)
    result = run(fixtures.W1, hand_resources, instance)
    assert not result.success
    ev = evaluations(result)[failing_check]
    assert not ev.passed
    assert ev.severity == dg.AssetCheckSeverity.ERROR
    assert ev.metadata["week"].value == fixtures.W1
    # Gate: neither the snapshot nor the Slack post happened in that run.
    assert not result.asset_materializations_for_node("weekly_slack_report")
    assert not (hand_home.outbox_dir / f"weekly_{fixtures.W1}.json").exists()


def test_duplicate_batch_metadata_names_ours_and_reference(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    inject(hand_home, "duplicate-batch")
    ev = evaluations(run(fixtures.W1, hand_resources, instance))["utilization_matches_reference"]
    rows = {f"{r['country']}.{r['segment']}.{r['metric']}": r for r in ev.metadata["comparisons"].value}
    us = rows["US.aggregate.sessions"]
    assert (us["ours"], us["reference"], us["status"]) == (16.0, 8.0, "error")  # every session counted twice
    assert us["delta_pct"] == pytest.approx(100.0)


def test_restatement_warns_when_a_stored_week_moves(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    assert run(fixtures.W1, hand_resources, instance).success
    inject(hand_home, "duplicate-batch")  # a late batch doubling the week = a restatement
    ev = evaluations(run(fixtures.W1, hand_resources, instance))["utilization_is_not_restated"]
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.WARN
    assert ev.metadata["max_move_pct"].value == pytest.approx(100.0)


def test_checks_read_their_own_partition(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    """A failing week and a clean week materialized in turn each keep their own verdict."""
    assert run(fixtures.W0, hand_resources, instance).success
    inject(hand_home, "wrong-currency")
    assert not run(fixtures.W1, hand_resources, instance).success
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("weekly_pricing"), "pricing_is_consistent"), limit=10
    )
    by_partition = {rec.partition: rec.status.value for rec in history}
    assert by_partition == {fixtures.W0: "SUCCEEDED", fixtures.W1: "FAILED"}
    json.dumps(by_partition)


def write_export(path: Path, rows: list[tuple[str, str, str, str, float]]) -> Path:
    lines = ["week_start,country,segment,metric,value"] + [",".join(map(str, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("us_sessions", "passed"),
    [(8, True), (12, False)],  # the dashboard export agrees (8) / shows 12 US sessions
)
def test_dashboard_export_is_a_second_reference(
    us_sessions: int,
    passed: bool,
    hand_home: DemoPaths,
    hand_resources: dict[str, Any],
    instance: dg.DagsterInstance,
    tmp_path: Path,
) -> None:
    export = write_export(
        tmp_path / "dashboard.csv",
        [
            (fixtures.W1, "US", "aggregate", "sessions", us_sessions),
            # The dashboard's CA "Non-Tesla" cell includes Tesla: 3, our CA aggregate.
            (fixtures.W1, "CA", "non_tesla", "sessions", 3),
            (fixtures.W1, "US", "aggregate", "spine_stations", 5),
        ],
    )
    resources = {**hand_resources, "dashboard_export": DashboardExport(path=str(export))}
    ev = evaluations(run(fixtures.W1, resources, instance))["utilization_matches_reference"]
    assert ev.passed is passed
    rows = [r for r in ev.metadata["comparisons"].value if r["source"] == "export"]
    if not passed:
        assert rows[0]["country"] == "US" and (rows[0]["ours"], rows[0]["reference"]) == (8.0, 12.0)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2025-01-14,US,aggregate,sessions,8", "line 2, column week_start: 2025-01-14 is not a Monday"),
        ("2025-01-13,MX,aggregate,sessions,8", "line 2, column country: unknown value 'MX'"),
        ("2025-01-13,US,aggregate,sessionz,8", "line 2, column metric: unknown value 'sessionz'"),
        ("2025-01-13,US,aggregate,sessions,eight", "line 2, column value: 'eight' is not a number"),
    ],
)
def test_malformed_dashboard_export_names_line_and_column(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("week_start,country,segment,metric,value\n" + row + "\n", encoding="utf-8")
    with pytest.raises(SourceError, match=message):
        DashboardExport(path=str(path)).values("utilization", Week.from_key(fixtures.W1))


def test_stale_sessions_warn_from_the_frontier_the_asset_used(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    # Week 2025-03-31 ends 2025-04-07; the January batch covers up to 2025-02-01: 65 days old,
    # past the 60-day warning and inside the 90-day error bound.
    ev = evaluations(run("2025-03-31", hand_resources, instance))["utilization_sessions_are_fresh"]
    assert not ev.passed and ev.severity == dg.AssetCheckSeverity.WARN
    assert (ev.metadata["age_days"].value, ev.metadata["frontier"].value) == (65, "2025-02-01")
