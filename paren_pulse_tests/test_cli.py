"""The `paren-pulse` command as a user runs it: a real process, real exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from paren_pulse import constants as c
from paren_pulse.settings import DemoPaths
from paren_pulse_tests import fixtures


def cli(home: Path, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAREN_PULSE_HOME": str(home), "PAREN_PULSE_ENV": "demo", **(env_extra or {})}
    env.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "paren_pulse.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


def test_snapshot_prints_data_and_blocks_and_the_outbox_path(hand_home: DemoPaths) -> None:
    done = cli(hand_home.home, "snapshot", "--week", fixtures.W1, "--text")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert set(payload) == {"data", "blocks"}
    data = payload["data"]
    assert set(data) >= {"week", c.US, c.CA, "grand_total", "caveats"}
    for country in c.COUNTRIES:
        assert set(data[country]) == set(c.CATEGORIES)
        for category in c.CATEGORIES:
            block = data[country][category]
            assert "as_of" in block
            for segment in c.SEGMENTS:
                assert set(block[segment]) == set(c.METRICS_BY_CATEGORY[category])
    assert data[c.US][c.INFRASTRUCTURE][c.AGGREGATE][c.SPINE_PORTS] == 32
    assert payload["blocks"][0]["type"] == "header"
    # --text: the preview goes to stderr, with the outbox location.
    assert "### United States" in done.stderr
    assert (
        f"Slack payload for week {fixtures.W1}: {hand_home.outbox_dir / f'weekly_{fixtures.W1}.json'}"
        in done.stderr
    )


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ("2025-01-14", "is a Tuesday, not a week start"),
        ("2099-01-05", "has not ended yet"),
        ("2024-06-03", "precedes the data"),
        ("13/01/2025", "is not a date"),
    ],
)
def test_bad_weeks_exit_2_with_one_line(hand_home: DemoPaths, week: str, message: str) -> None:
    for command in ("snapshot", "reconcile"):
        done = cli(hand_home.home, command, "--week", week)
        assert done.returncode == 2, done.stderr
        assert message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
        assert done.stdout == ""


def test_missing_warehouse_is_one_clear_line(tmp_path: Path) -> None:
    done = cli(tmp_path / "empty", "snapshot", "--week", fixtures.W1)
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        == f"paren-pulse: no demo warehouse under {tmp_path / 'empty' / 'warehouse'}; build it with `paren-pulse demo`"
    )


def test_unknown_environment_is_a_usage_error(hand_home: DemoPaths) -> None:
    done = cli(hand_home.home, "snapshot", env_extra={"PAREN_PULSE_ENV": "staging"})
    assert done.returncode == 2 and "PAREN_PULSE_ENV='staging'" in done.stderr


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in ("snapshot", "demo", "reconcile", "doctor"):
        done = cli(tmp_path, command, "--help")
        assert done.returncode == 0 and "usage: paren-pulse" in done.stdout, command


def test_reconcile_and_drift_injection(hand_home: DemoPaths) -> None:
    assert cli(hand_home.home, "snapshot", "--week", fixtures.W1, "--no-post").returncode == 0
    done = cli(hand_home.home, "reconcile", "--week", fixtures.W1)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "week 2025-01-13: CLEAN" in done.stdout and "KNOWN" in done.stdout

    assert cli(hand_home.home, "demo", "--inject-drift", "wrong-currency").returncode == 0
    blocked = cli(hand_home.home, "snapshot", "--week", fixtures.W1)
    assert blocked.returncode == 1
    assert "not posted: blocking check failed: pricing_is_consistent" in blocked.stderr
    assert not (hand_home.outbox_dir / f"weekly_{fixtures.W1}.json").exists()


def test_production_without_variables_names_them(tmp_path: Path) -> None:
    env = {
        k: ""
        for k in (
            "CLICKHOUSE_HOST",
            "CLICKHOUSE_USER",
            "CLICKHOUSE_PASSWORD",
            "MYSQL_HOST",
            "MYSQL_USER",
            "MYSQL_PASSWORD",
            "MYSQL_DATABASE",
        )
    }
    done = cli(
        tmp_path, "snapshot", "--week", fixtures.W1, env_extra={"PAREN_PULSE_ENV": "production", **env}
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith(
        "paren-pulse: error: environment variables not set: CLICKHOUSE_HOST,"
    )
    assert "MYSQL_PASSWORD" in done.stderr and "Traceback" not in done.stderr
