"""Real materializations of the weekly assets over the hand-built fixture (see fixtures.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pytest

from paren_pulse import constants as c
from paren_pulse.assets.infrastructure import weekly_infrastructure
from paren_pulse.assets.pricing import weekly_pricing
from paren_pulse.assets.reporting import weekly_slack_report, weekly_snapshot
from paren_pulse.assets.utilization import weekly_utilization
from paren_pulse.settings import DemoPaths
from paren_pulse_tests import fixtures

ASSETS = [weekly_infrastructure, weekly_utilization, weekly_pricing, weekly_snapshot, weekly_slack_report]


def run(week: str, resources: dict[str, Any], instance: dg.DagsterInstance) -> dg.ExecuteInJobResult:
    result = dg.materialize(ASSETS, partition_key=week, resources=resources, instance=instance)
    assert result.success
    return result


def snapshot_data(paths: DemoPaths, week: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((paths.snapshots_dir / f"{week}.json").read_text())
    return payload["data"]


def test_week_numbers_match_hand_computation(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    run(fixtures.W0, hand_resources, instance)
    run(fixtures.W1, hand_resources, instance)
    data = snapshot_data(hand_home, fixtures.W1)
    us, ca = data["US"], data["CA"]

    infra = us[c.INFRASTRUCTURE]
    assert infra["as_of"] == "2025-01-19"
    assert [infra[s][c.SPINE_STATIONS] for s in c.SEGMENTS] == [3, 2, 5]
    assert [infra[s][c.SPINE_PORTS] for s in c.SEGMENTS] == [12, 20, 32]
    assert [infra[s][c.TRACKED_STATIONS] for s in c.SEGMENTS] == [1, 2, 3]
    assert [infra[s][c.TRACKED_PORTS] for s in c.SEGMENTS] == [3, 20, 23]
    assert [infra[s][c.PORT_COVERAGE_PCT] for s in c.SEGMENTS] == [25.0, 100.0, 71.875]
    assert [infra[s][c.OPENED_THIS_WEEK] for s in c.SEGMENTS] == [0, 1, 1]
    assert [ca[c.INFRASTRUCTURE][s][c.OPENED_THIS_WEEK] for s in c.SEGMENTS] == [1, 0, 1]
    assert [ca[c.INFRASTRUCTURE][s][c.SPINE_PORTS] for s in c.SEGMENTS] == [5, 10, 15]

    util = us[c.UTILIZATION]
    assert util["week_start"] == fixtures.W1
    assert [util[s][c.SESSIONS] for s in c.SEGMENTS] == [3, 5, 8]
    assert [util[s][c.ATTEMPTS] for s in c.SEGMENTS] == [5, 6, 11]
    assert util[c.AGGREGATE][c.SUCCESS_RATE] == pytest.approx(8 / 11)
    assert util[c.AGGREGATE][c.SESSIONS_WOW_PCT] == pytest.approx(100 * (8 - 6) / 6)
    assert [ca[c.UTILIZATION][s][c.SESSIONS] for s in c.SEGMENTS] == [1, 2, 3]
    assert ca[c.UTILIZATION][c.NON_TESLA][c.SESSIONS_WOW_PCT] is None  # no sessions the week before

    price = us[c.PRICING]
    assert price["currency"] == "USD"
    assert price[c.TESLA][c.AVG_PRICE_PER_KWH] == pytest.approx(0.44)
    assert price[c.NON_TESLA][c.AVG_PRICE_PER_KWH] == pytest.approx(0.60)
    assert price[c.AGGREGATE][c.AVG_PRICE_PER_KWH] == pytest.approx(10.6 / 23)
    assert ca[c.PRICING]["currency"] == "CAD"
    assert ca[c.PRICING][c.AGGREGATE][c.AVG_PRICE_PER_KWH] == pytest.approx(7.45 / 13)
    assert ca[c.PRICING][c.NON_TESLA][c.PER_MINUTE_ONLY_PORTS] == 2

    total = data["grand_total"]
    assert total[c.INFRASTRUCTURE][c.SPINE_STATIONS] == 8
    assert total[c.INFRASTRUCTURE][c.SPINE_PORTS] == 47
    assert total[c.INFRASTRUCTURE][c.OPENED_THIS_WEEK] == 2
    assert total[c.UTILIZATION][c.SESSIONS] == 11
    assert c.AVG_PRICE_PER_KWH not in total.get(c.PRICING, {})


def test_rematerializing_a_week_replaces_it(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    run(fixtures.W1, hand_resources, instance)
    first = {
        cat: pd.read_parquet(hand_home.history_dir / cat / f"{fixtures.W1}.parquet") for cat in c.CATEGORIES
    }
    result = run(fixtures.W1, hand_resources, instance)
    for category in c.CATEGORIES:
        frame = pd.read_parquet(hand_home.history_dir / category / f"{fixtures.W1}.parquet")
        # One row per country x segment x metric, exactly as after the first run.
        assert len(frame) == len(c.COUNTRIES) * len(c.SEGMENTS) * len(c.METRICS_BY_CATEGORY[category])
        assert not frame.duplicated(["country", "segment", "metric"]).any()
        assert frame["value"].fillna(-1).tolist() == first[category]["value"].fillna(-1).tolist()
    infra = result.asset_materializations_for_node("weekly_infrastructure")[0].metadata
    assert infra["restatement_max_pct"].value == 0.0
    # The roster of the week is replaced too (7 tracked in-scope stations would mean duplicates).
    import sqlite3

    with sqlite3.connect(hand_home.catalog_db) as conn:
        (n,) = conn.execute(
            "SELECT COUNT(*) FROM pulse_tracked_roster WHERE week_start = ?", (fixtures.W1,)
        ).fetchone()
    assert n == 6


def test_opened_uses_persisted_roster(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    result = run(fixtures.W1, hand_resources, instance)
    # W0 was never materialized: its roster is rebuilt from validity dates, and the metadata says so.
    assert (
        result.asset_materializations_for_node("weekly_infrastructure")[0].metadata["previous_roster"].value
        == "reconstructed"
    )
    result = run(fixtures.W1, hand_resources, instance)
    assert (
        result.asset_materializations_for_node("weekly_infrastructure")[0].metadata["previous_roster"].value
        == "persisted"
    )


def test_utilization_reports_the_frontier_week_when_batches_lag(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    # The January batch covers up to 2025-02-01: the latest complete week is 2025-01-20..26.
    # A snapshot of 2025-02-03 must report infrastructure for 02-03 but utilization for 01-20.
    week = "2025-02-03"
    run(week, hand_resources, instance)
    data = snapshot_data(hand_home, week)
    assert data["US"][c.UTILIZATION]["week_start"] == "2025-01-20"
    assert data["US"][c.UTILIZATION][c.TESLA][c.SESSIONS] == 7
    assert data["US"][c.INFRASTRUCTURE]["as_of"] == "2025-02-09"
    assert any("monthly batches" in note for note in data["caveats"])


def test_slack_asset_writes_outbox_and_backfills_do_not_post(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    run(fixtures.W1, hand_resources, instance)
    outbox = json.loads((hand_home.outbox_dir / f"weekly_{fixtures.W1}.json").read_text())
    assert outbox["blocks"][0]["type"] == "header"
    (hand_home.outbox_dir / f"weekly_{fixtures.W1}.json").unlink()
    result = dg.materialize(
        ASSETS,
        partition_key=fixtures.W1,
        resources=hand_resources,
        instance=instance,
        tags={"dagster/backfill": "abc"},
    )
    assert result.success
    assert result.asset_materializations_for_node("weekly_slack_report")[0].metadata["posted"].value is False
    assert not (hand_home.outbox_dir / f"weekly_{fixtures.W1}.json").exists()


def run_without_sessions(
    paths: DemoPaths, resources: dict[str, Any], instance: dg.DagsterInstance
) -> dg.ExecuteInJobResult:
    """Week W1 with every session batch removed: a run that fails in weekly_utilization."""
    for batch in paths.sessions_dir.glob("*.parquet"):
        batch.unlink()
    result = dg.materialize(
        ASSETS, partition_key=fixtures.W1, resources=resources, instance=instance, raise_on_error=False
    )
    assert not result.success
    return result


def test_missing_source_fails_with_named_step_and_writes_nothing(
    hand_home: DemoPaths, hand_resources: dict[str, Any], instance: dg.DagsterInstance
) -> None:
    run_without_sessions(hand_home, hand_resources, instance)
    assert not (hand_home.history_dir / c.UTILIZATION).exists()
    assert not (hand_home.snapshots_dir / f"{fixtures.W1}.json").exists()


def test_two_concurrent_runs_in_the_embedded_default(hand_home: DemoPaths, tmp_path: Path) -> None:
    """Two CLI processes, each with its own in-process engine, materialize two weeks at once."""
    env = {**os.environ, "PAREN_PULSE_HOME": str(hand_home.home), "PAREN_PULSE_ENV": "demo"}
    env.pop("DAGSTER_HOME", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "paren_pulse.cli", "snapshot", "--week", week, "--no-post"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
        )
        for week in (fixtures.W0, fixtures.W1)
    ]
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert json.loads(out)["data"]["US"][c.INFRASTRUCTURE]["as_of"] in ("2025-01-12", "2025-01-19")
    assert json.loads(outputs[1][0])["data"]["US"][c.UTILIZATION][c.AGGREGATE][c.SESSIONS] == 8
    assert json.loads(outputs[0][0])["data"]["US"][c.UTILIZATION][c.AGGREGATE][c.SESSIONS] == 6


@pytest.mark.parametrize("near", ["2025-01-06", "2025-01-27", "2025-03-03", "2026-06-01", "2024-01-01"])
def test_windowed_frontier_equals_the_full_scan(hand_resources: dict[str, Any], near: str) -> None:
    """The frontier read from a window of recent rows is the table-wide one, wherever the window
    starts (inside the data, past its end: fallback to wider windows, then the full scan)."""
    import datetime as dt

    from paren_pulse.compute import sessions_frontier

    full = sessions_frontier(hand_resources["clickhouse"])
    windowed = sessions_frontier(hand_resources["clickhouse"], near=dt.date.fromisoformat(near))
    assert (windowed.latest_batch_month, windowed.covered_until) == (
        full.latest_batch_month,
        full.covered_until,
    )
    assert full.covered_until == dt.date(2025, 2, 1)
