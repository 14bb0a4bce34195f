"""End to end in production mode: the production resource classes give the demo's snapshot.

MySQLCatalogResource on MariaDB, ClickHouseResource and ClickHouseHistoryStore over the
loopback HTTP endpoint, both loaded with the hand-built fixture; the snapshot `data` of W0 and
W1 must equal the embedded default's over the same fixture.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from paren_pulse import constants as c
from paren_pulse.resources.history import ClickHouseHistoryStore
from paren_pulse.resources.reports import ReportStore
from paren_pulse.resources.slack import SlackResource
from paren_pulse.settings import DemoPaths
from paren_pulse_tests import fixtures
from paren_pulse_tests.clickhouse_http import LoopbackClickHouse, endpoint_fixture
from paren_pulse_tests.test_assets import ASSETS
from paren_pulse_tests.test_clickhouse_http import load_sessions
from paren_pulse_tests.test_mysql_parity import require_mariadb, scratch_database

pytestmark = pytest.mark.integration

# Fields whose value names where something lives, not what was computed.
PATH_LIKE = ("path", "location", "source_description", "describe")


@pytest.fixture
def endpoint() -> Iterator[LoopbackClickHouse]:
    yield from endpoint_fixture()


def production_resources(endpoint: LoopbackClickHouse, mysql_database: str, root: Path) -> dict[str, Any]:
    server = require_mariadb()
    clickhouse = load_sessions(endpoint, endpoint.new_database())
    return {
        "clickhouse": clickhouse,
        "catalog": server.catalog(mysql_database),
        "history": ClickHouseHistoryStore(clickhouse=clickhouse),
        "reports": ReportStore(root=str(root / "snapshots")),
        "slack": SlackResource(outbox_dir=str(root / "outbox")),
    }


def without_paths(value: Any) -> Any:
    """The snapshot minus path-like fields, floats to 9 decimals: MySQL sums DECIMAL exactly
    (0.55 * 10 = 5.5) where SQLite sums binary floats (5.4999999999999991)."""
    if isinstance(value, dict):
        return {k: without_paths(v) for k, v in value.items() if not any(p in k for p in PATH_LIKE)}
    if isinstance(value, list):
        return [without_paths(v) for v in value]
    if isinstance(value, float):
        return round(value, 9)
    return value


def snapshot(root: Path, week: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / "snapshots" / f"{week}.json").read_text())["data"]
    return data


def test_production_classes_give_the_embedded_snapshot(
    endpoint: LoopbackClickHouse,
    hand_home: DemoPaths,
    hand_resources: dict[str, Any],
    instance: dg.DagsterInstance,
    tmp_path: Path,
) -> None:
    server = require_mariadb()
    with scratch_database(server, prefix="pulse_e2e") as database:
        production = production_resources(endpoint, database, tmp_path / "prod")
        for week in (fixtures.W0, fixtures.W1):
            assert dg.materialize(
                ASSETS, partition_key=week, resources=hand_resources, instance=instance
            ).success
            result = dg.materialize(ASSETS, partition_key=week, resources=production, instance=instance)
            assert result.success
            produced = snapshot(tmp_path / "prod", week)
            embedded = snapshot(hand_home.home, week)
            assert json.dumps(without_paths(produced), sort_keys=True) == json.dumps(
                without_paths(embedded), sort_keys=True
            )
        # Not vacuous: the hand-computed numbers of W1 (see fixtures.py).
        data = snapshot(tmp_path / "prod", fixtures.W1)
        assert data["US"][c.UTILIZATION][c.AGGREGATE][c.SESSIONS] == 8
        assert data["US"][c.INFRASTRUCTURE][c.AGGREGATE][c.PORT_COVERAGE_PCT] == 71.875
        # The history lives in ClickHouse: one stored week per category and week, no duplicates.
        history = production["history"]
        for category in c.CATEGORIES:
            weeks = history.stored_weeks(category, dt.date(2025, 1, 1), dt.date(2025, 2, 1))
            assert [w.isoformat() for w in weeks] == [fixtures.W0, fixtures.W1]
