"""Shared fixtures: a temporary PAREN_PULSE_HOME with the hand-built sources, resources over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from paren_pulse.dashboard_reference import DashboardExport
from paren_pulse.resources.catalog import SQLiteCatalogResource
from paren_pulse.resources.clickhouse import EmbeddedClickHouseResource
from paren_pulse.resources.history import ParquetHistoryStore
from paren_pulse.resources.reports import ReportStore
from paren_pulse.resources.slack import SlackResource
from paren_pulse.settings import DemoPaths
from paren_pulse_tests import fixtures


@pytest.fixture
def hand_home(tmp_path: Path) -> DemoPaths:
    paths = DemoPaths(tmp_path / "home")
    fixtures.write_sqlite_catalog(paths.catalog_db)
    fixtures.write_sessions(paths.sessions_dir)
    return paths


def demo_style_resources(paths: DemoPaths) -> dict[str, Any]:
    return {
        "clickhouse": EmbeddedClickHouseResource(sessions_dir=str(paths.sessions_dir)),
        "catalog": SQLiteCatalogResource(path=str(paths.catalog_db)),
        "history": ParquetHistoryStore(root=str(paths.history_dir)),
        "reports": ReportStore(root=str(paths.snapshots_dir)),
        "slack": SlackResource(outbox_dir=str(paths.outbox_dir)),
        "dashboard_export": DashboardExport(),
    }


@pytest.fixture
def hand_resources(hand_home: DemoPaths) -> dict[str, Any]:
    return demo_style_resources(hand_home)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def build_materialized_home(root: Path) -> DemoPaths:
    """The hand fixture with both weeks materialized once, without posting: history, snapshots
    (and their charts). Module-scoped fixtures share it; tests copy what they change."""
    from paren_pulse_tests.test_assets import ASSETS

    paths = DemoPaths(root / "home")
    fixtures.write_sqlite_catalog(paths.catalog_db)
    fixtures.write_sessions(paths.sessions_dir)
    with dg.instance_for_test() as instance:
        for week in (fixtures.W0, fixtures.W1):
            result = dg.materialize(
                ASSETS,
                partition_key=week,
                resources=demo_style_resources(paths),
                instance=instance,
                tags={"paren_pulse/post": "false"},
            )
            assert result.success
    return paths
