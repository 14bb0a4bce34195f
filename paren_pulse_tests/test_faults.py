"""Production sources failing: each fault gives a clear SourceError in bounded time, never a
password in the text, and never a partial week in the metrics history."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pymysql
import pytest

from paren_pulse import constants as c
from paren_pulse.resources.catalog import MySQLCatalogResource, SourceError
from paren_pulse.resources.clickhouse import ClickHouseResource
from paren_pulse.resources.history import ClickHouseHistoryStore
from paren_pulse.resources.reports import ReportStore
from paren_pulse.resources.slack import SlackResource
from paren_pulse_tests import fixtures
from paren_pulse_tests.clickhouse_http import LoopbackClickHouse, endpoint_fixture
from paren_pulse_tests.test_assets import ASSETS
from paren_pulse_tests.test_clickhouse_http import load_sessions
from paren_pulse_tests.test_mysql_parity import MariaDB, require_mariadb, scratch_database

pytestmark = pytest.mark.integration

SECRET = "Zebra-Secret-7731"  # a password that must never show up in any message


@pytest.fixture
def endpoint() -> Iterator[LoopbackClickHouse]:
    yield from endpoint_fixture()


@pytest.fixture
def mariadb() -> MariaDB:
    return require_mariadb()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class SilentServer:
    """Accepts TCP connections and never sends a byte (a hung server, a black-holing proxy)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port: int = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def timed(call: Any) -> tuple[BaseException, float]:
    start = time.monotonic()
    with pytest.raises(SourceError) as caught:
        call()
    return caught.value, time.monotonic() - start


def failure_text(result: dg.ExecuteInJobResult) -> str:
    """Every step failure's message and causes, as the Dagster UI would show them."""
    parts = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data:
            error = event.step_failure_data.error
            while error is not None:
                parts.append(error.message)
                parts.extend(error.stack)
                error = error.cause
    return "\n".join(parts)


def assert_no_partial_week(history: ClickHouseHistoryStore, week: str) -> None:
    """Each category's week is absent or complete, never half-written."""
    start = dt.date.fromisoformat(week)
    for category in c.CATEGORIES:
        stored = history.read_week(category, start)
        if stored is not None:
            expected = len(c.COUNTRIES) * len(c.SEGMENTS) * len(c.METRICS_BY_CATEGORY[category])
            assert len(stored.rows) == expected, category


# ---------------------------------------------------------------------------------------- MySQL


def test_mysql_unreachable_names_host_port_and_connect() -> None:
    port = closed_port()
    catalog = MySQLCatalogResource(
        host="127.0.0.1",
        port=port,
        user="pulse",
        password=SECRET,
        database="paren",
        connect_timeout=2,
        retry_backoff_seconds=0.05,
    )
    error, elapsed = timed(lambda: catalog.query("mysql/tesla_networks"))
    assert elapsed < 3
    assert f"127.0.0.1:{port}" in str(error) and "during connect" in str(error)
    assert "MYSQL_HOST/MYSQL_PORT" in str(error)
    assert SECRET not in str(error)


def test_pymysql_bounds_the_handshake_by_read_timeout_not_connect_timeout(
    silent_server: SilentServer,
) -> None:
    """The trap the resource works around: PyMySQL's connect_timeout covers the TCP connect only."""
    start = time.monotonic()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(
            host="127.0.0.1",
            port=silent_server.port,
            user="x",
            password="y",
            connect_timeout=1,
            read_timeout=3,
        )
    assert time.monotonic() - start >= 2.9  # waited for the read timeout, not the connect timeout


def test_mysql_silent_server_fails_within_connect_timeout(silent_server: SilentServer) -> None:
    catalog = MySQLCatalogResource(
        host="127.0.0.1",
        port=silent_server.port,
        user="pulse",
        password=SECRET,
        database="paren",
        connect_timeout=1,
        read_timeout=60,
        retry_backoff_seconds=0.05,
    )
    error, elapsed = timed(lambda: catalog.query("mysql/tesla_networks"))
    # One attempt: a timeout already used its budget and is not retried.
    assert elapsed < 2.5, elapsed
    assert "during connect" in str(error) and "timed out" in str(error)
    assert "no answer within 1 s" in str(error)
    assert SECRET not in str(error)


def test_mysql_read_timeout_applies_after_the_handshake(mariadb: MariaDB) -> None:
    catalog = mariadb.catalog("test", connect_timeout=1, read_timeout=4)
    conn = catalog._connect()
    try:
        with conn.cursor() as cur:
            # Longer than connect_timeout, shorter than read_timeout: must succeed.
            cur.execute("SELECT SLEEP(1.3)")
            assert cur.fetchall() == ((0,),)
    finally:
        conn.close()
    short = mariadb.catalog("test", connect_timeout=1, read_timeout=1)
    conn = short._connect()
    start = time.monotonic()
    try:
        with conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError, match="timed out"):
            cur.execute("SELECT SLEEP(5)")
    finally:
        conn.close()
    assert time.monotonic() - start < 2.5


def test_mysql_wrong_credentials(mariadb: MariaDB) -> None:
    catalog = mariadb.catalog("test", user="pulse_nobody", password=SECRET, retry_backoff_seconds=0.05)
    error, elapsed = timed(lambda: catalog.query("mysql/tesla_networks"))
    assert elapsed < 2  # not retried: credentials do not fix themselves
    assert "Access denied" in str(error) and "MYSQL_USER/MYSQL_PASSWORD" in str(error)
    assert SECRET not in str(error)


# ------------------------------------------------------------------------------------ ClickHouse


def test_clickhouse_503_on_a_read_is_retried(endpoint: LoopbackClickHouse) -> None:
    resource = load_sessions(endpoint, endpoint.new_database())
    expected = resource.query_rows("clickhouse/sessions_frontier")
    fast = endpoint.resource(resource.database, retry_backoff_seconds=0.05)
    endpoint.fail_next(2, match="FROM sessions")  # the query itself: clickhouse-connect retries
    assert fast.query_rows("clickhouse/sessions_frontier") == expected
    assert endpoint.counters()["failed"] == 2
    endpoint.fail_next(2)  # the handshake of the next client: retried by get_client
    assert fast.query_rows("clickhouse/sessions_frontier") == expected
    assert endpoint.counters()["failed"] == 4


def test_clickhouse_persistent_503_is_a_clear_error(endpoint: LoopbackClickHouse) -> None:
    resource = endpoint.resource(endpoint.new_database(), retry_backoff_seconds=0.05)
    endpoint.fail_next(1000)
    error, elapsed = timed(lambda: resource.query_rows("clickhouse/sessions_frontier"))
    assert elapsed < 3
    assert "503" in str(error) and "during connect" in str(error)
    assert "kept answering 'unavailable' after 2 retries" in str(error)
    assert endpoint.counters()["failed"] == 3  # first try + query_retries
    endpoint.reset()
    endpoint.fail_next(1000, match="FROM sessions")
    error, elapsed = timed(lambda: resource.query_rows("clickhouse/sessions_frontier"))
    assert elapsed < 3 and "503" in str(error) and "query clickhouse/sessions_frontier" in str(error)


def test_clickhouse_slow_answer_fails_at_send_receive_timeout(endpoint: LoopbackClickHouse) -> None:
    resource = load_sessions(endpoint, endpoint.new_database())
    slow = endpoint.resource(resource.database, send_receive_timeout=1)
    endpoint.sleep_next(6, match="FROM sessions")
    error, elapsed = timed(lambda: slow.query_rows("clickhouse/sessions_frontier"))
    assert 0.9 < elapsed < 2.5, elapsed
    assert "timed out" in str(error) and "send_receive_timeout=1 s" in str(error)


def test_clickhouse_wrong_credentials(endpoint: LoopbackClickHouse) -> None:
    resource = endpoint.resource(password=SECRET, retry_backoff_seconds=0.05)
    error, elapsed = timed(lambda: resource.query_rows("clickhouse/sessions_frontier"))
    assert elapsed < 2
    assert "516" in str(error) and "AUTHENTICATION_FAILED" in str(error)
    assert "CLICKHOUSE_USER/CLICKHOUSE_PASSWORD" in str(error)
    assert SECRET not in str(error)
    assert endpoint.counters()["auth_failures"] == 1  # never retried


# ------------------------------------------------------------------- failing materializations


def production(
    endpoint: LoopbackClickHouse, mariadb: MariaDB, database: str, root: Path, **clickhouse: Any
) -> dict[str, Any]:
    loaded = load_sessions(endpoint, endpoint.new_database())
    resource: ClickHouseResource = endpoint.resource(
        loaded.database, retry_backoff_seconds=0.05, **clickhouse
    )
    return {
        "clickhouse": resource,
        "catalog": mariadb.catalog(database, retry_backoff_seconds=0.05),
        # The history talks to the healthy endpoint settings, so it can be read after the fault.
        "history": ClickHouseHistoryStore(clickhouse=endpoint.resource(loaded.database)),
        "reports": ReportStore(root=str(root / "snapshots")),
        "slack": SlackResource(outbox_dir=str(root / "outbox")),
    }


def materialize_failing(resources: dict[str, Any], instance: dg.DagsterInstance) -> tuple[str, float]:
    start = time.monotonic()
    result = dg.materialize(
        ASSETS, partition_key=fixtures.W1, resources=resources, instance=instance, raise_on_error=False
    )
    elapsed = time.monotonic() - start
    assert not result.success
    return failure_text(result), elapsed


def test_missing_table_points_at_doctor_and_writes_no_partial_week(
    endpoint: LoopbackClickHouse, mariadb: MariaDB, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    with scratch_database(mariadb, prefix="pulse_fault") as database:
        conn = mariadb.connect(database)
        with conn.cursor() as cur:
            cur.execute("DROP TABLE tariffs")
        conn.close()
        resources = production(endpoint, mariadb, database, tmp_path)
        text, elapsed = materialize_failing(resources, instance)
        assert elapsed < 20
        assert "tariffs" in text and "paren-pulse doctor" in text and "source-contract" in text
        assert "query mysql/pricing" in text
        history = resources["history"]
        assert history.read_week(c.PRICING, dt.date.fromisoformat(fixtures.W1)) is None
        assert_no_partial_week(history, fixtures.W1)
        assert not (tmp_path / "snapshots" / f"{fixtures.W1}.json").exists()


def test_clickhouse_outage_mid_run_writes_no_partial_week(
    endpoint: LoopbackClickHouse, mariadb: MariaDB, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    with scratch_database(mariadb, prefix="pulse_fault") as database:
        resources = production(endpoint, mariadb, database, tmp_path, password=SECRET)
        # Utilization's ClickHouse answers with wrong credentials; the history store is healthy.
        text, elapsed = materialize_failing(resources, instance)
        assert elapsed < 20
        assert "AUTHENTICATION_FAILED" in text
        assert SECRET not in text
        history = resources["history"]
        assert history.read_week(c.UTILIZATION, dt.date.fromisoformat(fixtures.W1)) is None
        assert_no_partial_week(history, fixtures.W1)

        slow = production(endpoint, mariadb, database, tmp_path, send_receive_timeout=1)
        endpoint.sleep_next(6, count=5, match="FROM sessions")
        text, elapsed = materialize_failing(slow, instance)
        assert elapsed < 20
        assert "send_receive_timeout=1 s" in text
        assert slow["history"].read_week(c.UTILIZATION, dt.date.fromisoformat(fixtures.W1)) is None
        assert_no_partial_week(slow["history"], fixtures.W1)
