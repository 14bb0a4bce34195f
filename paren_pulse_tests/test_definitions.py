"""The one Definitions object loads in both environments and wires what the README promises."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg

from paren_pulse.definitions import defs


def test_definitions_load_and_resolve() -> None:
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("weekly_metrics_job")
    nodes = {node.name for node in job.graph.nodes}
    assert {
        "weekly_infrastructure",
        "weekly_utilization",
        "weekly_pricing",
        "weekly_snapshot",
        "weekly_slack_report",
    } <= nodes
    assert defs.resolve_sensor_def("session_batch_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    assert (
        defs.resolve_sensor_def("check_failure_alert_sensor").default_status == dg.DefaultSensorStatus.RUNNING
    )


def test_every_category_has_its_checks() -> None:
    checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys}
    for category in ("infrastructure", "utilization", "pricing"):
        assert {
            f"{category}_is_consistent",
            f"{category}_matches_reference",
            f"{category}_is_not_restated",
        } <= checks


def test_production_definitions_load_without_secrets_in_them() -> None:
    """Production resources bind EnvVars: loading needs no secret, and none leaks into config."""
    env = {
        **os.environ,
        "PAREN_PULSE_ENV": "production",
        "MYSQL_PASSWORD": "pw-SECRET-123",
        "CLICKHOUSE_PASSWORD": "ch-SECRET-456",
    }
    code = (
        "import dagster as dg\n"
        "from paren_pulse.definitions import defs\n"
        "dg.Definitions.validate_loadable(defs)\n"
        "print(repr(defs.resources))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "SECRET" not in done.stdout + done.stderr
    assert "MySQLCatalogResource" in done.stdout and "ClickHouseHistoryStore" in done.stdout
