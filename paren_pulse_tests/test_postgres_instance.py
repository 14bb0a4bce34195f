"""The production instance config (deploy/dagster.yaml) against a real PostgreSQL.

A scratch database per test run; DAGSTER_HOME points at a copy of deploy/dagster.yaml, so what is
tested is the shipped file, env-var indirection included. One real materialization of a week over
the hand fixture, then the run, the materializations and the per-week check evaluations are read
back from PostgreSQL (through the instance and with plain SQL).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from paren_pulse.checks import all_checks
from paren_pulse_tests import fixtures
from paren_pulse_tests.test_assets import ASSETS

pytestmark = pytest.mark.integration

DEPLOY_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
PG_HOST = os.environ.get("PAREN_PULSE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PAREN_PULSE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("PAREN_PULSE_TEST_PG_USER", "postgres")
PG_PASSWORD = os.environ.get("PAREN_PULSE_TEST_PG_PASSWORD", "")


def admin_connection() -> Any:
    """Autocommit connection to the maintenance database (CREATE/DROP DATABASE need it)."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        conn = psycopg2.connect(
            host=PG_HOST,
            port=PG_PORT,
            user=PG_USER,
            password=PG_PASSWORD,
            dbname="postgres",
            connect_timeout=5,
        )
    except psycopg2.OperationalError as exc:
        reason = f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT} as {PG_USER}: {str(exc).strip()}"
        if os.environ.get("CI"):
            # scripts/services.sh starts it; under CI a missing server is a broken setup, not a skip.
            pytest.fail(reason)
        pytest.skip(reason + " (bash scripts/services.sh starts it)")
    conn.autocommit = True
    return conn


@pytest.fixture
def scratch_db() -> Iterator[str]:
    name = f"pp_dagster_{uuid.uuid4().hex[:10]}"
    admin = admin_connection()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            # FORCE: the instance's pooled connections may still be open if the test failed.
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_instance(
    scratch_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_CONFIG, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for key, value in {
        "DAGSTER_PG_HOST": PG_HOST,
        "DAGSTER_PG_PORT": str(PG_PORT),
        "DAGSTER_PG_USER": PG_USER,
        "DAGSTER_PG_PASSWORD": PG_PASSWORD,
        "DAGSTER_PG_DB": scratch_db,
    }.items():
        monkeypatch.setenv(key, value)
    instance = dg.DagsterInstance.get()
    try:
        yield instance
    finally:
        instance.dispose()


def test_deploy_config_is_what_production_needs(pg_instance: dg.DagsterInstance) -> None:
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    assert isinstance(pg_instance.run_storage, PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(pg_instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(pg_instance.run_coordinator, QueuedRunCoordinator)
    queue = pg_instance.get_concurrency_config().run_queue_config
    assert queue is not None
    assert queue.max_concurrent_runs >= 1
    limits = {(lim["key"], str(lim.get("value"))): lim["limit"] for lim in queue.tag_concurrency_limits}
    assert limits[("dagster/partition", "{'applyLimitPerUniqueValue': True}")] == 1
    assert limits[("dagster/schedule_name", "weekly_metrics_schedule")] == 1
    assert pg_instance.run_retries_enabled
    assert pg_instance.run_retries_max_retries >= 1
    # Whole-run retries only for crashed workers; step failures (checks) are not re-run.
    assert not pg_instance.run_retries_retry_on_asset_or_op_failure
    assert not pg_instance.telemetry_enabled
    assert pg_instance.run_monitoring_enabled


def test_a_week_materializes_on_postgres_and_reads_back(
    pg_instance: dg.DagsterInstance, hand_resources: dict[str, Any], scratch_db: str
) -> None:
    result = dg.materialize(
        [*ASSETS, *all_checks()],
        partition_key=fixtures.W1,
        resources=hand_resources,
        instance=pg_instance,
        tags={"paren_pulse/post": "false"},
    )
    assert result.success

    # Through the instance: the run, each category's materialization of the week, the checks.
    run = pg_instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags["dagster/partition"] == fixtures.W1
    for asset in ("weekly_infrastructure", "weekly_utilization", "weekly_pricing", "weekly_snapshot"):
        records = pg_instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[fixtures.W1]), limit=5
        ).records
        assert [r.run_id for r in records] == [result.run_id], asset
    check_keys = [key for checks in all_checks() for key in checks.check_keys]
    assert len(check_keys) == 13
    statuses: dict[str, int] = {}
    for key in check_keys:
        history = pg_instance.event_log_storage.get_asset_check_execution_history(key, limit=5)
        assert len(history) == 1, key
        assert history[0].partition == fixtures.W1, key  # per-week verdicts survive in Postgres
        assert history[0].run_id == result.run_id
        statuses[history[0].status.value] = statuses.get(history[0].status.value, 0) + 1
    # The hand fixture is a clean week for every blocking check (WARN-only ones may fail).
    blocking = {ev.check_name: ev.passed for ev in result.get_asset_check_evaluations() if ev.blocking}
    assert blocking and all(blocking.values()), blocking

    # And with plain SQL, to be sure it is PostgreSQL that holds them (not a stray SQLite file).
    import psycopg2

    conn = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, password=PG_PASSWORD, dbname=scratch_db)
    try:
        cur = conn.cursor()
        cur.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cur.fetchone() == ("SUCCESS",)
        cur.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        )
        (materializations,) = cur.fetchone()
        assert materializations == len(ASSETS)
        cur.execute(
            "SELECT execution_status, count(*), count(DISTINCT partition) FROM asset_check_executions "
            "WHERE run_id = %s GROUP BY execution_status",
            (result.run_id,),
        )
        rows = cur.fetchall()
        assert {status: n for status, n, _ in rows} == statuses
        assert {partitions for _, _, partitions in rows} == {1}
    finally:
        conn.close()
